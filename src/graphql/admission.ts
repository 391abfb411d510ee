/**
 * Admission of operations, fair between callers. Operations take slots by weight: a small one takes one, a heavy
 * one (thousands of records to resolve) half a caller's share while that caller is the only one, and its whole
 * share while another caller is about (has an operation in flight or waiting, or had one in the last
 * `OTHERS_ABOUT_MS`). At most `maxActive` slots are taken at once
 * and at most `perCaller` by one caller; at most `maxQueued` operations wait in line, and past that a request is
 * refused at once. Waiting operations are taken from the callers in turn, not in arrival order, so one caller's
 * burst of hundreds waits behind its own share while another caller's single request goes next. When the line is
 * full, the caller holding most of it gives up its newest place: a newcomer from a quieter caller is not the one
 * refused.
 *
 * Why weights: a heavy operation holds the event loop for long steps, so many in flight delay every other caller's
 * small query however fairly they were admitted. Alone, a caller runs two heavy ones at once, one using the CPU while
 * the other waits for the portal; with another caller about, one at a time, so that the other's small query waits
 * behind the steps of one heavy operation, not two. The README's "Reliability and security" gives the measurements.
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

/** One waiting operation: its weight, and how to tell it the slots it was admitted with (undefined: refused). */
interface Turn {
  weight: number;
  admit(slots: number | undefined): void;
}

/** How long after another caller's last operation a heavy one still takes its caller's whole share. */
export const OTHERS_ABOUT_MS = 1_000;

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

  /** The most slots one operation asks for: half a caller's share, so that two of its heaviest run at once. */
  private readonly heaviest: number;
  /**
   * What the heaviest take while another caller is about: the whole share, so they run one at a time (but never all
   * the slots there are).
   */
  private readonly wholeShare: number;
  /** The two callers seen last (arriving or leaving), and when: whether another caller is about. */
  private readonly lastSeen: Array<{ caller: string; at: number }> = [];

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.heaviest = Math.max(1, Math.min(Math.ceil(limits.perCaller / 2), limits.maxActive));
    // Never every slot of the whole: another caller's small query must still find one.
    this.wholeShare = Math.max(this.heaviest, Math.min(limits.perCaller, limits.maxActive - 1));
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
    this.seen(caller);
    const line = this.lineOf(caller);
    const slots = this.slotsOf(caller, weight);
    if (line.waiting.length === 0 && !this.heldForWhole && this.fits(line, slots)) {
      this.start(line, slots);
      return this.releaser(caller, line, slots);
    }
    if (this.queued >= this.limits.maxQueued && !this.makeRoomFor(line)) {
      this.forget(caller, line);
      return undefined;
    }
    const admitted = await new Promise<number | undefined>((resolve) => {
      const onAbort = () => {
        const index = line.waiting.indexOf(turn);
        if (index < 0) return;
        line.waiting.splice(index, 1);
        this.queued -= 1;
        if (line.waiting.length === 0) this.turns.delete(caller);
        resolve(undefined);
        this.admitWaiting(); // a heavy operation that leaves may have held back lighter ones behind it
      };
      const turn: Turn = {
        weight,
        admit: (slots) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(slots);
        },
      };
      line.waiting.push(turn);
      this.queued += 1;
      this.turns.add(caller);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.admitWaiting(); // notes whether the next in turn now waits for room in the whole
    });
    if (admitted !== undefined) return this.releaser(caller, line, admitted);
    this.forget(caller, line);
    return undefined;
  }

  /** The slots an operation of `weight` takes now: the heaviest take the whole share while another caller is about. */
  private slotsOf(caller: string, weight: number): number {
    // With a share of one or two slots, every operation takes one (`heaviest` is 1), heavy or not.
    if (weight < this.heaviest || weight === 1 || this.wholeShare === this.heaviest) return weight;
    return this.othersAbout(caller) ? this.wholeShare : weight;
  }

  /** Whether a caller other than `caller` has an operation in flight or waiting, or had one lately. */
  private othersAbout(caller: string): boolean {
    if (this.lines.size > (this.lines.has(caller) ? 1 : 0)) return true;
    const other = this.lastSeen.find((each) => each.caller !== caller);
    return other !== undefined && this.now() - other.at < OTHERS_ABOUT_MS;
  }

  /** Notes that `caller` arrived or left now; only the last two callers are kept, which is all `othersAbout` asks. */
  private seen(caller: string): void {
    const index = this.lastSeen.findIndex((each) => each.caller === caller);
    if (index >= 0) this.lastSeen.splice(index, 1);
    this.lastSeen.unshift({ caller, at: this.now() });
    if (this.lastSeen.length > 2) this.lastSeen.pop();
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
    giveUp.admit(undefined);
    return true;
  }

  private releaser(caller: string, line: CallerLine, slots: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= slots;
      line.active -= slots;
      this.seen(caller);
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
      let slots = 0;
      for (const caller of this.turns) {
        const line = this.lines.get(caller)!;
        slots = this.slotsOf(caller, line.waiting[0]!.weight);
        if (line.active + slots <= this.limits.perCaller) {
          next = caller;
          break;
        }
      }
      if (next === undefined) return;
      const line = this.lines.get(next)!;
      const turn = line.waiting[0]!;
      if (!this.fits(line, slots)) {
        this.heldForWhole = true;
        return;
      }
      line.waiting.shift();
      this.queued -= 1;
      // Served: to the back of the turns, if it still has operations waiting.
      this.turns.delete(next);
      if (line.waiting.length > 0) this.turns.add(next);
      this.start(line, slots);
      turn.admit(slots);
    }
  }

  /** Drops a caller's line once it has nothing executing or waiting. */
  private forget(caller: string, line: CallerLine): void {
    if (line.active === 0 && line.waiting.length === 0) this.lines.delete(caller);
  }
}
