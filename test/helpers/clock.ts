/**
 * Test helper: a clock that stands still until the test moves it, for the parts that take a `now` (epoch ms), so that
 * a test passes a window or a timeout at once instead of waiting for it.
 *
 *     const clock = new ManualClock();
 *     const stack = await startStack({ parts: { now: clock.now, sleep: clock.sleep } });
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

  /**
   * A wait as the portal client's retries make one (`sleep` of `ServerParts`): the clock moves on by `ms` at once, so
   * that how long a retry waited is read off the clock. An aborted wait ends at once and moves nothing.
   */
  readonly sleep = async (ms: number, signal: AbortSignal | undefined): Promise<void> => {
    if (!signal?.aborted) this.advance(ms);
  };
}

/**
 * A clock that keeps real time and that a test may also move on, for a server whose windows must pass as usual
 * while the test skips one cooldown instead of waiting for it.
 */
export class RunningClock {
  private offset = 0;

  /** The real time plus every move so far. */
  readonly now = (): number => Date.now() + this.offset;

  /** Moves the clock on by `ms`, as if that much time had passed. */
  advance(ms: number): void {
    this.offset += ms;
  }
}
