/**
 * A server that holds when the portal is slow, flaky or down, and when many callers arrive at once:
 * retries of safe reads, deadlines, the circuit breaker, and the bounded queue, each seen from the outside.
 */
import { startStack, type Stack } from '../helpers/stack';
import { ManualClock } from '../helpers/clock';

const QUERY = `{ productAssignments { id } }`;
const routes = (stack: Stack) => stack.emulator.requestLog.entries().map((entry) => entry.route);

describe('retries of safe reads', () => {
  let stack: Stack;
  // The retries wait on this clock: each wait moves it on at once, by what the transport asked for.
  const clock = new ManualClock();
  beforeAll(async () => {
    // A breaker that opens late, so that the faults of one test do not hold back the calls of the next.
    stack = await startStack({
      env: { PORTAL_RETRY_BASE_DELAY_MS: '10', BREAKER_FAILURE_THRESHOLD: '1000' },
      parts: { now: clock.now, sleep: clock.sleep },
    });
  });
  afterAll(() => stack.close());
  beforeEach(async () => {
    await stack.emulator.requestLog.whenIdle();
    stack.emulator.requestLog.clear();
    stack.emulator.faults.clear();
  });

  test.each([
    ['502', { kind: 'status' as const, status: 502 }],
    ['503', { kind: 'status' as const, status: 503 }],
    ['504', { kind: 'status' as const, status: 504 }],
    ['a reset connection', { kind: 'reset' as const }],
  ])('%s twice, then an answer: the query succeeds after two retries', async (_name, fault) => {
    stack.emulator.faults.add({ route: 'productAssignment.list', times: 2, ...fault });
    const before = clock.now();
    const result = await stack.gql(QUERY);
    expect(result.errors).toBeUndefined();
    expect(routes(stack)).toEqual(['productAssignment.list', 'productAssignment.list', 'productAssignment.list']);
    // Backoffs of 5 to 10 ms, then 10 to 20 ms: the base delay doubled, jittered into its upper half.
    expect(clock.now() - before).toBeGreaterThanOrEqual(15);
    expect(clock.now() - before).toBeLessThanOrEqual(30);
  });

  test('at most two retries', async () => {
    stack.emulator.faults.add({ route: 'productAssignment.list', kind: 'status', status: 503 });
    const result = await stack.gql(QUERY);
    expect(result.errors![0]!.extensions!.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(routes(stack)).toHaveLength(3);
  });

  test('a 500 is not retried: the portal failed on this very request', async () => {
    stack.emulator.faults.add({ route: 'productAssignment.list', kind: 'status', status: 500 });
    await stack.gql(QUERY);
    expect(routes(stack)).toHaveLength(1);
  });

  test("a 429's Retry-After is honoured", async () => {
    stack.emulator.faults.add({
      route: 'productAssignment.list',
      kind: 'status',
      status: 429,
      times: 1,
      headers: { 'retry-after': '1' },
    });
    const before = clock.now();
    const result = await stack.gql(QUERY);
    expect(result.errors).toBeUndefined();
    expect(routes(stack)).toEqual(['productAssignment.list', 'productAssignment.list']);
    expect(clock.now() - before).toBe(1000);
  });

  test("a 503's Retry-After given as an HTTP date is honoured", async () => {
    // Two seconds ahead of the server's clock, in whole seconds as HTTP dates go.
    const at = Math.ceil(clock.now() / 1000) * 1000 + 2000;
    stack.emulator.faults.add({
      route: 'productAssignment.list',
      kind: 'status',
      status: 503,
      times: 1,
      headers: { 'retry-after': new Date(at).toUTCString() },
    });
    const result = await stack.gql(QUERY);
    expect(result.errors).toBeUndefined();
    expect(routes(stack)).toEqual(['productAssignment.list', 'productAssignment.list']);
    expect(clock.now()).toBe(at); // the retry waited until that very date
  });

  test('generate is never retried', async () => {
    stack.emulator.faults.add({ route: 'license.generate', kind: 'status', status: 503 });
    const { generatableAssignmentId } = stack.emulator.state.landmarks();
    const result = await stack.gql(
      `mutation { generateLicense(input: { productAssignmentId: ${generatableAssignmentId}, hwid: "NO-RETRY", expirationDate: "${new Date(Date.now() + 20 * 864e5).toISOString().slice(0, 10)}" }) { license { id } } }`,
    );
    expect(result.errors![0]!.extensions!.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(routes(stack)).toEqual(['license.generate']);
  });
});

describe('deadlines', () => {
  test('a call past the operation deadline is UPSTREAM_TIMEOUT, and the rest of the operation still answers', async () => {
    const stack = await startStack({ env: { OPERATION_TIMEOUT_MS: '400' } });
    try {
      stack.emulator.faults.add({ route: 'productAssignment.list', kind: 'slowHeaders', ms: 3000 });
      const started = performance.now();
      const result = await stack.gql(`{ productAssignments { id } licenses(first: 1) { totalCount } }`);
      expect(performance.now() - started).toBeLessThan(2500);
      expect(result.data!.productAssignments).toBeNull();
      expect(result.data!.licenses.totalCount).toBeGreaterThan(0);
      expect(result.errors![0]!.extensions!.code).toBe('UPSTREAM_TIMEOUT');
    } finally {
      await stack.close();
    }
  });
});

describe('the circuit breaker', () => {
  test('opens after repeated failures, refuses at once, then probes and closes when the portal is back', async () => {
    const clock = new ManualClock();
    const stack = await startStack({
      env: { BREAKER_FAILURE_THRESHOLD: '3', BREAKER_COOLDOWN_MS: '400', PORTAL_MAX_RETRIES: '0' },
      parts: { now: clock.now },
    });
    try {
      stack.emulator.faults.add({ route: 'productAssignment.list', kind: 'status', status: 503 });
      for (let i = 0; i < 3; i += 1) await stack.gql(QUERY);
      expect(routes(stack)).toHaveLength(3);

      const refused = await stack.gql(`{ productAssignments { id } license(id: 1001) { id } }`);
      expect(refused.errors!.map((error) => error.extensions!.code)).toEqual([
        'UPSTREAM_UNAVAILABLE',
        'UPSTREAM_UNAVAILABLE',
      ]);
      expect(routes(stack)).toHaveLength(3); // nothing was sent while open

      stack.emulator.faults.clear();
      clock.advance(399);
      const stillOpen = await stack.gql(QUERY);
      expect(stillOpen.errors![0]!.extensions!.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(routes(stack)).toHaveLength(3); // nothing was sent until the cooldown had passed

      clock.advance(1);
      const probe = await stack.gql(QUERY);
      expect(probe.errors).toBeUndefined();
      const after = await stack.gql(`{ license(id: 1001) { id } }`);
      expect(after.errors).toBeUndefined();
      expect(routes(stack)).toHaveLength(5);
    } finally {
      await stack.close();
    }
  });
});

describe('bounded concurrency and queue', () => {
  test('past the queue, requests are refused at once with 503 instead of piling up', async () => {
    // Each operation makes its own call here (PORTAL_SHARE_READS=false), so that the portal's log shows how many ran
    // at once; shared, the two running would make one call between them.
    const stack = await startStack({
      env: { MAX_CONCURRENT_OPERATIONS: '2', MAX_QUEUED_OPERATIONS: '3', PORTAL_SHARE_READS: 'false' },
    });
    try {
      // Once the caller's list is known to be short, each of its operations takes one slot (a first one is weighed
      // as if the list held 1,000 records).
      await stack.gql(QUERY);
      stack.emulator.requestLog.clear();
      stack.emulator.setLatency(400);
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          stack.gql(QUERY).then((result) => ({ ...result, at: performance.now() - started })),
        ),
      );
      const served = results.filter((result) => result.status === 200 && !result.errors);
      const refused = results.filter((result) => result.status === 503);
      expect(served).toHaveLength(5);
      expect(refused).toHaveLength(5);
      for (const result of refused) {
        expect(result.errors![0]!.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'OVERLOADED' });
        expect(result.at).toBeLessThan(390); // refused before the first answer (400 ms), not after waiting
      }
      const calls = stack.emulator.requestLog.entries();
      expect(calls).toHaveLength(5);
      // Those that waited ran as others finished: never more than two portal calls at a time. The emulator notes a
      // call's end when its response closes, which on a busy machine can come a few milliseconds after the server
      // read the answer and started the next call: a skew far below the 400 ms each call takes (25 ms was once
      // exceeded on a machine running other tests; a third call at once would overlap the others by about 400 ms).
      const skewMs = 100;
      for (const call of calls) {
        const overlapping = calls.filter(
          (other) => other.startedAt < call.endedAt - skewMs && other.endedAt - skewMs > call.startedAt,
        );
        expect(overlapping.length).toBeLessThanOrEqual(2);
      }
    } finally {
      await stack.close();
    }
  });

  test("a client that goes away aborts its operation's portal calls", async () => {
    const stack = await startStack();
    try {
      stack.emulator.setLatency(3000, 'productAssignment.list');
      const controller = new AbortController();
      const asked = fetch(stack.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: stack.auth.acme },
        body: JSON.stringify({ query: QUERY }),
        signal: controller.signal,
      }).catch(() => undefined);
      while (stack.emulator.requestLog.inFlight() === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      const abortedAt = performance.now();
      controller.abort();
      await asked;
      await stack.emulator.requestLog.whenIdle();
      const [call] = stack.emulator.requestLog.entries();
      expect(call).toMatchObject({ route: 'productAssignment.list', completed: false });
      expect(performance.now() - abortedAt).toBeLessThan(1000);
    } finally {
      await stack.close();
    }
  });

  test('with the defaults, a burst of 200 concurrent nested queries is served, not refused', async () => {
    const stack = await startStack();
    try {
      const query = `{ productAssignments { id licenses { nodes { id detail { fileName } } } } }`;
      const results = await Promise.all(Array.from({ length: 200 }, () => stack.gql(query)));
      expect(results.filter((result) => result.status === 200 && !result.errors)).toHaveLength(200);
    } finally {
      await stack.close();
    }
  }, 60_000);
});
