/**
 * What a failed portal call means for the next one: whether the circuit breaker counts it, whether a safe read is
 * tried again, and after how long. Pure rules over `PortalError`s; the transport (`transport.ts`) applies them.
 */
import type { PortalError } from './portalErrors';

/**
 * How a failed call counts for the breaker: the portal unreachable or failing is a `failure`; a 4xx, or a body it
 * could not read, is an answer and proves the portal up (`success`). A call its caller aborted (`neutral`) tells
 * nothing; the transport decides that one, since only it knows the caller's signal.
 */
export function breakerVerdict(error: PortalError): 'failure' | 'success' {
  return error.code === 'UNAVAILABLE' || error.code === 'TIMEOUT' || error.code === 'OUTCOME_UNKNOWN'
    ? 'failure'
    : 'success';
}

/** Connection errors (no status), 502, 503, 504 and 429; not 500 (the portal failed on this request), not timeouts. */
export function isRetryable(error: PortalError): boolean {
  if (error.code !== 'UNAVAILABLE') return false;
  return error.status === undefined ? error.cause !== undefined : [429, 502, 503, 504].includes(error.status);
}

/**
 * The wait before retry `attempt + 1` of a retryable failure: the portal's Retry-After when it gave one, else
 * 2^attempt × `baseDelayMs`, jittered into its upper half. Undefined when the failure is not retried.
 */
export function retryDelay(
  error: PortalError,
  attempt: number,
  baseDelayMs: number,
  random: () => number = Math.random,
): number | undefined {
  if (!isRetryable(error)) return undefined;
  if (error.retryAfterMs !== undefined) return error.retryAfterMs;
  const ceiling = baseDelayMs * 2 ** attempt;
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** `Retry-After` in seconds or as an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterOf(value: string | undefined, now: () => number = Date.now): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

/** Waits `ms`, or less when `signal` aborts first; never rejects. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
