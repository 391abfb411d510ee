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
   * when the queue is full.
   */
  async acquire(): Promise<(() => void) | undefined> {
    if (this.active < this.maxActive) {
      this.active += 1;
      return this.releaser();
    }
    if (this.waiting.length >= this.maxQueued) return undefined;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.releaser();
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
