/**
 * A circuit breaker for one upstream origin. After `failureThreshold` failures in a row it opens: calls fail at
 * once instead of piling up on a portal that is down. After `cooldownMs` it lets one probe through (half-open);
 * the probe's success closes it, its failure opens it again for another cooldown.
 *
 * Only the portal being unreachable or failing counts (connection errors, timeouts, 5xx, 429); a 4xx or an
 * unreadable body is an answer, and proves the portal is up.
 */

export type BreakerState = 'closed' | 'open' | 'halfOpen';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  now?: () => number;
}

export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Whether a call may go out now. In half-open state, only one probe at a time. */
  tryAcquire(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (this.now() - this.openedAt < this.options.cooldownMs) return false;
      this.moveTo('halfOpen');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  /** How long until the breaker lets a probe through, in ms (0 when it is not open). */
  retryAfterMs(): number {
    return this.state === 'open' ? Math.max(0, this.options.cooldownMs - (this.now() - this.openedAt)) : 0;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.probing = false;
    if (this.state !== 'closed') this.moveTo('closed');
  }

  recordFailure(): void {
    this.failures += 1;
    const wasProbe = this.probing;
    this.probing = false;
    if (
      this.state === 'halfOpen' ||
      (wasProbe && this.state !== 'closed') ||
      this.failures >= this.options.failureThreshold
    ) {
      this.openedAt = this.now();
      if (this.state !== 'open') this.moveTo('open');
    }
  }

  /** A call that ended without telling whether the portal is up (aborted by its caller): frees a probe slot. */
  recordNeutral(): void {
    this.probing = false;
  }

  current(): BreakerState {
    return this.state;
  }

  private moveTo(state: BreakerState): void {
    this.state = state;
  }
}
