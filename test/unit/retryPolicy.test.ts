/**
 * What a failed portal call means for the next one: the breaker's verdict, whether it is retried, and after how long.
 */
import { PortalError, type PortalErrorCode } from '../../src/portal/portalErrors';
import { breakerVerdict, isRetryable, retryAfterOf, retryDelay } from '../../src/portal/retryPolicy';

function error(code: PortalErrorCode, status?: number, extra: { retryAfterMs?: number; cause?: unknown } = {}) {
  return new PortalError(code, code, { endpoint: 'license.list', ...(status ? { status } : {}), ...extra });
}

test.each([
  ['a connection error', error('UNAVAILABLE', undefined, { cause: new Error('ECONNRESET') }), true, 'failure'],
  ['502', error('UNAVAILABLE', 502), true, 'failure'],
  ['503', error('UNAVAILABLE', 503), true, 'failure'],
  ['504', error('UNAVAILABLE', 504), true, 'failure'],
  ['429', error('UNAVAILABLE', 429), true, 'failure'],
  ['500', error('UNAVAILABLE', 500), false, 'failure'],
  ['the breaker refusing (no status, no cause)', error('UNAVAILABLE'), false, 'failure'],
  ['a timeout', error('TIMEOUT'), false, 'failure'],
  ['an unknown outcome', error('OUTCOME_UNKNOWN'), false, 'failure'],
  ['403', error('FORBIDDEN', 403), false, 'success'],
  ['404', error('NOT_FOUND', 404), false, 'success'],
  ['an unreadable body', error('INVALID_RESPONSE', 200), false, 'success'],
])('%s: retried %s, counted by the breaker as %s', (_name, failure, retried, verdict) => {
  expect(isRetryable(failure)).toBe(retried);
  expect(breakerVerdict(failure)).toBe(verdict);
});

test('the backoff doubles per attempt, jittered into its upper half; a Retry-After wins', () => {
  const unavailable = error('UNAVAILABLE', 503);
  expect(retryDelay(unavailable, 0, 100, () => 0)).toBe(50);
  expect(retryDelay(unavailable, 0, 100, () => 1)).toBe(100);
  expect(retryDelay(unavailable, 2, 100, () => 0.5)).toBe(300);
  expect(retryDelay(error('UNAVAILABLE', 503, { retryAfterMs: 2000 }), 3, 100)).toBe(2000);
  expect(retryDelay(error('UNAVAILABLE', 500), 0, 100)).toBeUndefined();
});

test('Retry-After in seconds or as an HTTP date; anything else is ignored', () => {
  const now = () => Date.parse('2026-12-06T12:00:00Z');
  expect(retryAfterOf('3', now)).toBe(3000);
  expect(retryAfterOf(' 0 ', now)).toBe(0);
  expect(retryAfterOf('Sun, 06 Dec 2026 12:00:05 GMT', now)).toBe(5000);
  expect(retryAfterOf('Sun, 06 Dec 2026 11:00:00 GMT', now)).toBe(0);
  expect(retryAfterOf('soon', now)).toBeUndefined();
  expect(retryAfterOf(undefined, now)).toBeUndefined();
});
