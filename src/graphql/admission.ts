/**
 * Admission of operations, fair between callers. Operations take slots by weight: a small one takes one, a heavy
 * one (thousands of records to resolve) up to half a caller's share. At most `maxActive` slots are taken at once
 * and at most `perCaller` by one caller; at most `maxQueued` operations wait in line, and past that a request is
 * refused at once. Waiting operations are taken from the callers in turn, not in arrival order, so one caller's
 * burst of hundreds waits behind its own share while another caller's single request goes next. When the line is
 * full, the caller holding most of it gives up its newest place: a newcomer from a quieter caller is not the one
 * refused.
 *
 * Why weights: a heavy operation holds the event loop for long steps, so many in flight delay every other caller's
 * small query however fairly they were admitted; two at a time per caller keep that wait short, and the loud caller
 * keeps its throughput, one using the CPU while the other waits for the portal. The README's "Reliability and
 * security" gives the measurements.
 *
 *     const admission = new AdmissionQueue({ maxActive: 64, maxQueued: 500, perCaller: 16 });
 *     const release = await admission.acquire(callerKey, signal, weight);
 *     if (!release) throw overloaded();
 *     try { await execute(); } finally { release(); }
 */

export interface AdmissionLimits {
  /** Most operations executing at once. */
  maxActive: number;
  /** Most operations waiting. */
  maxQueued: number;
  /** Most operations of one caller executing at once. */
  perCaller: number;
}

/** One waiting operation: its weight, and how to tell it whether it was admitted. */
interface Turn {
  weight: number;
  admit(admitted: boolean): void;
}

/** One caller's operations: the slots they hold, and the turns of those waiting, oldest first. */
interface CallerLine {
  active: number;
  waiting: Turn[];
}

export class AdmissionQueue {
  private active = 0;
  private queued = 0;
  /** Every caller with an operation executing or waiting. */
  private readonly lines = new Map<string, CallerLine>();
  /** Callers with operations waiting, in the order their turn comes (a caller served goes to the back). */
  private readonly turns = new Set<string>();
  /** Whether the next operation in turn waits for slots of the whole: newcomers then queue behind it. */
  private heldForWhole = false;

  /** The most slots one operation takes: half a caller's share, so that two of its heaviest run at once. */
  private readonly heaviest: number;

  constructor(private readonly limits: AdmissionLimits) {
    this.heaviest = Math.max(1, Math.min(Math.ceil(limits.perCaller / 2), limits.maxActive));
  }

  /**
   * Waits for a slot and answers the function that frees it (call it exactly once); answers undefined when the
   * line is full and this caller holds the most of it, when its place is given up to a quieter caller, and when
   * `signal` aborts while it waits (its deadline passed, or its client went away): a request nobody waits for any
   * more leaves the line instead of taking a slot it would waste. `caller` is an opaque key (an HMAC of the
   * credentials); requests without credentials share one. `weight` is the slots the operation takes (1 to half
   * of `perCaller`; outside that, the nearest).
   */
  async acquire(caller: string, signal?: AbortSignal, weight = 1): Promise<(() => void) | undefined> {
    if (signal?.aborted) return undefined;
    weight = Math.min(this.heaviest, Math.max(1, Math.ceil(weight)));
    const line = this.lineOf(caller);
    if (line.waiting.length === 0 && !this.heldForWhole && this.fits(line, weight)) {
      this.start(line, weight);
      return this.releaser(caller, line, weight);
    }
    if (this.queued >= this.limits.maxQueued && !this.makeRoomFor(line)) {
      this.forget(caller, line);
      return undefined;
    }
    const admitted = await new Promise<boolean>((resolve) => {
      const onAbort = () => {
        const index = line.waiting.indexOf(turn);
        if (index < 0) return;
        line.waiting.splice(index, 1);
        this.queued -= 1;
        if (line.waiting.length === 0) this.turns.delete(caller);
        resolve(false);
        this.admitWaiting(); // a heavy operation that leaves may have held back lighter ones behind it
      };
      const turn: Turn = {
        weight,
        admit: (admitted) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(admitted);
        },
      };
      line.waiting.push(turn);
      this.queued += 1;
      this.turns.add(caller);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.admitWaiting(); // notes whether the next in turn now waits for room in the whole
    });
    if (admitted) return this.releaser(caller, line, weight);
    this.forget(caller, line);
    return undefined;
  }

  /** Slots taken now, operations waiting, and the callers they belong to. */
  load(): { active: number; queued: number; callers: number } {
    return { active: this.active, queued: this.queued, callers: this.lines.size };
  }

  /** Whether `weight` more slots fit this caller's share and the whole. */
  private fits(line: CallerLine, weight: number): boolean {
    return line.active + weight <= this.limits.perCaller && this.active + weight <= this.limits.maxActive;
  }

  private lineOf(caller: string): CallerLine {
    let line = this.lines.get(caller);
    if (!line) {
      line = { active: 0, waiting: [] };
      this.lines.set(caller, line);
    }
    return line;
  }

  private start(line: CallerLine, weight: number): void {
    this.active += weight;
    line.active += weight;
  }

  /**
   * The line is full: the caller waiting with the most places gives up its newest one, when that is more than
   * `line` holds. Answers whether there is room now.
   */
  private makeRoomFor(line: CallerLine): boolean {
    let largest: string | undefined;
    let largestLine: CallerLine | undefined;
    for (const caller of this.turns) {
      const candidate = this.lines.get(caller)!;
      if (!largestLine || candidate.waiting.length > largestLine.waiting.length) {
        largest = caller;
        largestLine = candidate;
      }
    }
    if (!largestLine || largestLine === line || largestLine.waiting.length <= line.waiting.length + 1) return false;
    const giveUp = largestLine.waiting.pop()!;
    this.queued -= 1;
    if (largestLine.waiting.length === 0) this.turns.delete(largest!);
    giveUp.admit(false);
    return true;
  }

  private releaser(caller: string, line: CallerLine, weight: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= weight;
      line.active -= weight;
      this.forget(caller, line);
      this.admitWaiting();
    };
  }

  /**
   * Takes waiting operations, one per caller in turn, while slots are free. A caller whose next operation fits its
   * share but not the whole is next: lighter operations of others do not pass it, so a heavy one is not starved.
   */
  private admitWaiting(): void {
    this.heldForWhole = false;
    for (;;) {
      let next: string | undefined;
      for (const caller of this.turns) {
        const line = this.lines.get(caller)!;
        if (line.active + line.waiting[0]!.weight <= this.limits.perCaller) {
          next = caller;
          break;
        }
      }
      if (next === undefined) return;
      const line = this.lines.get(next)!;
      const turn = line.waiting[0]!;
      if (!this.fits(line, turn.weight)) {
        this.heldForWhole = true;
        return;
      }
      line.waiting.shift();
      this.queued -= 1;
      // Served: to the back of the turns, if it still has operations waiting.
      this.turns.delete(next);
      if (line.waiting.length > 0) this.turns.add(next);
      this.start(line, turn.weight);
      turn.admit(true);
    }
  }

  /** Drops a caller's line once it has nothing executing or waiting. */
  private forget(caller: string, line: CallerLine): void {
    if (line.active === 0 && line.waiting.length === 0) this.lines.delete(caller);
  }
}
