/**
 * Admission of operations: at most `maxActive` execute at once, at most `maxQueued` wait in line, and past that
 * a request is refused at once. So a burst is served in turn rather than piling calls on the portal, and memory
 * stays bounded however many clients arrive.
 */

export class AdmissionQueue {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly maxActive: number,
    private readonly maxQueued: number,
  ) {}

  /**
   * Waits for a slot and answers the function that frees it (call it exactly once); answers undefined at once
   * when the queue is full, and also when `signal` aborts while it waits (its deadline passed, or its client went
   * away): a request nobody waits for any more leaves the line instead of taking a slot it would waste.
   */
  async acquire(signal?: AbortSignal): Promise<(() => void) | undefined> {
    if (signal?.aborted) return undefined;
    if (this.active < this.maxActive) {
      this.active += 1;
      return this.releaser();
    }
    if (this.waiting.length >= this.maxQueued) return undefined;
    const admitted = await new Promise<boolean>((resolve) => {
      const onAbort = () => {
        const index = this.waiting.indexOf(turn);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve(false);
      };
      const turn = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      };
      this.waiting.push(turn);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return admitted ? this.releaser() : undefined;
  }

  /** Operations executing now, and waiting. */
  load(): { active: number; queued: number } {
    return { active: this.active, queued: this.waiting.length };
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next)
        next(); // The slot passes straight to the next in line: `active` stays as it is.
      else this.active -= 1;
    };
  }
}
