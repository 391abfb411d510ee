/**
 * Reads shared in flight (PORTAL_SHARE_READS, on by default, with no cache): a caller's concurrent requests that
 * need the same portal list share one call, another caller's never do, and a request that gives up takes no one
 * else's answer with it (that a read after a write never joins an older call is in `readFreshness.test.ts`). The
 * emulator's log is the count of calls; a slow first answer keeps the call in flight.
 */
import { request } from 'undici';
import { startStack, type Stack } from '../helpers/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());
beforeEach(() => stack.emulator.reset());

const PAGE = '{ licenses(first: 5) { totalCount nodes { id hwid } } }';

const listCalls = () => stack.emulator.requestLog.entries({ route: 'license.list' }).length;

/** Holds the next licence-list answer back `ms`, and waits until that call has reached the portal. */
async function slowListInFlight(ms: number, start: () => Promise<unknown>): Promise<void> {
  stack.emulator.faults.add({ kind: 'slowHeaders', ms, route: 'license.list', times: 1 });
  void start();
  const deadline = Date.now() + 5000;
  while (stack.emulator.requestLog.inFlight() === 0) {
    if (Date.now() > deadline) throw new Error('the slow licence-list call never reached the portal');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('ten concurrent identical page requests of one caller make one list call, and each gets the whole answer', async () => {
  const alone = await stack.gql(PAGE);
  expect(alone.errors).toBeUndefined();
  const callsBefore = listCalls();
  const first = stack.gql(PAGE);
  await slowListInFlight(400, () => first);
  const others = await Promise.all(Array.from({ length: 9 }, () => stack.gql(PAGE)));
  for (const answer of [await first, ...others]) expect(answer).toEqual(alone);
  expect(listCalls() - callsBefore).toBe(1);
  const metrics = await (await fetch(new URL('/metrics', stack.origin))).text();
  expect(metrics).toMatch(/^portal_reads_shared 9$/m);
});

test("two callers' concurrent requests make two calls, each with its own credentials", async () => {
  const first = stack.gql(PAGE);
  await slowListInFlight(400, () => first);
  const other = await stack.gql(PAGE, undefined, stack.auth.acmeOps);
  expect(other.errors).toBeUndefined();
  expect((await first).errors).toBeUndefined();
  const calls = stack.emulator.requestLog.entries({ route: 'license.list' });
  expect(calls.map((call) => call.username).sort()).toEqual(['acme-ops', 'demo']);
});

test('a request that gives up while others wait on its call leaves them to make their own', async () => {
  const controller = new AbortController();
  const leaving = request(stack.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: stack.auth.acme },
    body: JSON.stringify({ query: PAGE }),
    signal: controller.signal,
  }).catch((error: unknown) => error);
  await slowListInFlight(800, () => leaving);
  const staying = stack.gql(PAGE);
  // The second request joins the call under way; then the first one's client goes away.
  await new Promise((resolve) => setTimeout(resolve, 100));
  controller.abort();
  const answer = await staying;
  expect(answer.errors).toBeUndefined();
  expect(answer.data!.licenses.nodes).toHaveLength(5);
  expect(listCalls()).toBe(2);
});

test('PORTAL_SHARE_READS=false: every request makes its own call', async () => {
  const unshared = await startStack({ env: { PORTAL_SHARE_READS: 'false' } });
  try {
    unshared.emulator.faults.add({ kind: 'slowHeaders', ms: 300, route: 'license.list', times: 1 });
    const answers = await Promise.all(Array.from({ length: 3 }, () => unshared.gql(PAGE)));
    for (const answer of answers) expect(answer.errors).toBeUndefined();
    expect(unshared.emulator.requestLog.entries({ route: 'license.list' })).toHaveLength(3);
  } finally {
    await unshared.close();
  }
});
