/**
 * Reads after a write: no read that starts after a caller's generateLicense has answered is served by, or joins, a
 * list call that started before it, with the read cache on (PORTAL_CACHE_TTL_MS: and no answer older than the write
 * is stored after it) or off (reads shared in flight, PORTAL_SHARE_READS). The emulator takes its snapshot of the
 * list as a request arrives and can hold the answer back, so a slow list call in flight across a generate carries
 * the list as it was before the licence.
 */
import { startStack, type Stack } from '../helpers/stack';

const COUNT = '{ licenses { totalCount } }';
const GENERATE = `mutation Generate($input: GenerateLicenseInput!) {
  generateLicense(input: $input) { license { id } }
}`;

type Count = { licenses: { totalCount: number } };

const listCalls = (stack: Stack) => stack.emulator.requestLog.entries({ route: 'license.list' }).length;

/**
 * Starts a read whose list call takes its snapshot and answers only 800 ms later, generates a licence meanwhile, and
 * reads again once the generate has answered, while the older call is still in flight.
 */
async function readAcrossGenerate(stack: Stack, hwid: string) {
  const landmarks = stack.emulator.state.landmarks();
  const before = stack.emulator.state.licensesOf('demo').length;
  stack.emulator.faults.add({ kind: 'slowHeaders', ms: 800, route: 'license.list', times: 1 });
  const stale = stack.gql<Count>(COUNT);
  const deadline = Date.now() + 5000;
  while (stack.emulator.requestLog.inFlight() === 0) {
    if (Date.now() > deadline) throw new Error('the slow licence-list call never reached the portal');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const made = await stack.gql(GENERATE, {
    input: {
      productAssignmentId: String(landmarks.generatableAssignmentId),
      hwid,
      expirationDate: stack.emulator.state.today(),
    },
  });
  expect(made.errors).toBeUndefined();
  expect(stack.emulator.state.licensesOf('demo')).toHaveLength(before + 1);
  const fresh = await stack.gql<Count>(COUNT);
  return { before, fresh: fresh.data!.licenses.totalCount, stale: (await stale).data!.licenses.totalCount };
}

describe('with the read cache', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { PORTAL_CACHE_TTL_MS: '60000' } });
  });
  afterAll(() => stack.close());

  test('a list call in flight across a generate is neither joined by a later read nor cached after it', async () => {
    const { before, fresh, stale } = await readAcrossGenerate(stack, 'FreshAfterWrite1');
    expect(fresh).toBe(before + 1);
    // The older read answers as the portal was when it asked; its answer must not be kept.
    expect(stale).toBe(before);
    const callsBefore = listCalls(stack);
    const later = await stack.gql<Count>(COUNT);
    expect(later.data!.licenses.totalCount).toBe(before + 1);
    expect(listCalls(stack)).toBe(callsBefore); // served from the cache, which holds the fresh list
  });

  test('a filtered, ordered page is cut from the kept list, and holds a licence generated since at the very next read', async () => {
    type Page = { licenses: { totalCount: number; nodes: Array<{ hwid: string }> } };
    const PAGE =
      '{ licenses(filter: { universal: false }, orderBy: { field: ID, direction: DESC }, first: 1) { totalCount nodes { hwid } } }';
    await stack.gql(PAGE);
    const calls = listCalls(stack);
    const before = (await stack.gql<Page>(PAGE)).data!.licenses;
    expect(listCalls(stack)).toBe(calls); // served from the kept list
    const made = await stack.gql(GENERATE, {
      input: {
        productAssignmentId: String(stack.emulator.state.landmarks().generatableAssignmentId),
        hwid: 'KeptThenWritten1',
        expirationDate: stack.emulator.state.today(),
      },
    });
    expect(made.errors).toBeUndefined();
    const after = (await stack.gql<Page>(PAGE)).data!.licenses;
    expect(after.nodes).toEqual([{ hwid: 'KeptThenWritten1' }]);
    expect(after.totalCount).toBe(before.totalCount + 1);
  });
});

describe('without it, reads shared in flight', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  test('a read that starts after a generate has answered makes its own call, not joining one begun before it', async () => {
    const { before, fresh, stale } = await readAcrossGenerate(stack, 'SharedAfterWrite1');
    expect(fresh).toBe(before + 1);
    expect(stale).toBe(before);
    expect(listCalls(stack)).toBe(2);
  });
});
