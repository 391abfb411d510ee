import { CircuitBreaker } from '../../src/portal/circuitBreaker';

function breaker() {
  let now = 0;
  const subject = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, now: () => now });
  return { subject, advance: (ms: number) => (now += ms) };
}

describe('CircuitBreaker', () => {
  test('stays closed below the threshold; a success resets the count', () => {
    const { subject } = breaker();
    subject.recordFailure();
    subject.recordFailure();
    subject.recordSuccess();
    subject.recordFailure();
    subject.recordFailure();
    expect(subject.current()).toBe('closed');
    expect(subject.tryAcquire()).toBe(true);
  });

  test('opens at the threshold and refuses calls until the cooldown has passed', () => {
    const { subject, advance } = breaker();
    for (let i = 0; i < 3; i += 1) subject.recordFailure();
    expect(subject.current()).toBe('open');
    expect(subject.tryAcquire()).toBe(false);
    expect(subject.retryAfterMs()).toBe(1000);
    advance(999);
    expect(subject.tryAcquire()).toBe(false);
  });

  test('after the cooldown, one probe at a time; its success closes the breaker', () => {
    const { subject, advance } = breaker();
    for (let i = 0; i < 3; i += 1) subject.recordFailure();
    advance(1000);
    expect(subject.tryAcquire()).toBe(true);
    expect(subject.current()).toBe('halfOpen');
    expect(subject.tryAcquire()).toBe(false);
    subject.recordSuccess();
    expect(subject.current()).toBe('closed');
    expect(subject.tryAcquire()).toBe(true);
  });

  test("a failed probe opens it again for another cooldown; an aborted one frees the probe's place", () => {
    const { subject, advance } = breaker();
    for (let i = 0; i < 3; i += 1) subject.recordFailure();
    advance(1000);
    expect(subject.tryAcquire()).toBe(true);
    subject.recordNeutral();
    expect(subject.tryAcquire()).toBe(true);
    subject.recordFailure();
    expect(subject.current()).toBe('open');
    expect(subject.tryAcquire()).toBe(false);
    advance(1000);
    expect(subject.tryAcquire()).toBe(true);
  });
});
