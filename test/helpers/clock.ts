/**
 * Test helper: a clock that stands still until the test moves it, for the parts that take a `now` (epoch ms), so that
 * a test passes a window or a timeout at once instead of waiting for it.
 *
 *     const clock = new ManualClock();
 *     const stack = await startStack({ parts: { now: clock.now } });
 *     clock.advance(WINDOW_MS); // the window has passed
 */
export class ManualClock {
  private at: number;

  /** Starts at `start`, the real time by default, so that dates the server writes stay plausible. */
  constructor(start = Date.now()) {
    this.at = start;
  }

  /** The time, as the parts read it. */
  readonly now = (): number => this.at;

  /** Moves the clock on by `ms`, as if that much time had passed. */
  advance(ms: number): void {
    this.at += ms;
  }
}
