/**
 * The read cache after a write (PORTAL_CACHE_TTL_MS): no read that starts after a caller's generateLicense has
 * answered is served by, or joins, a list call that started before it, and no answer older than the write is stored
 * after it. The emulator takes its snapshot of the list as a request arrives and can hold the answer back, so a slow
 * list call in flight across a generate carries the list as it was before the licence.
 */
import { startStack, type Stack } from '../helpers/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { PORTAL_CACHE_TTL_MS: '60000' } });
});
afterAll(() => stack.close());

const COUNT = '{ licenses { totalCount } }';
const GENERATE = `mutation Generate($input: GenerateLicenseInput!) {
  generateLicense(input: $input) { license { id } }
}`;

const listCalls = () => stack.emulator.requestLog.entries({ route: 'license.list' }).length;

async function untilListCallArrives(): Promise<void> {
  const deadline = Date.now() + 5000;
  while (stack.emulator.requestLog.inFlight() === 0) {
    if (Date.now() > deadline) throw new Error('the slow licence-list call never reached the portal');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('a list call in flight across a generate is neither joined by a later read nor cached after it', async () => {
  const landmarks = stack.emulator.state.landmarks();
  const before = stack.emulator.state.licensesOf('demo').length;
  // A read whose list call takes its snapshot now and answers only after the generate below.
  stack.emulator.faults.add({ kind: 'slowHeaders', ms: 800, route: 'license.list', times: 1 });
  const stale = stack.gql<{ licenses: { totalCount: number } }>(COUNT);
  await untilListCallArrives();

  const made = await stack.gql(GENERATE, {
    input: {
      productAssignmentId: String(landmarks.generatableAssignmentId),
      hwid: 'FreshAfterWrite1',
      expirationDate: stack.emulator.state.today(),
    },
  });
  expect(made.errors).toBeUndefined();
  expect(stack.emulator.state.licensesOf('demo')).toHaveLength(before + 1);

  // Starts after the generate answered, while the older list call is still in flight.
  const fresh = await stack.gql<{ licenses: { totalCount: number } }>(COUNT);
  expect(fresh.data!.licenses.totalCount).toBe(before + 1);
  // The older read answers as the portal was when it asked; its answer must not be kept.
  expect((await stale).data!.licenses.totalCount).toBe(before);

  const callsBefore = listCalls();
  const later = await stack.gql<{ licenses: { totalCount: number } }>(COUNT);
  expect(later.data!.licenses.totalCount).toBe(before + 1);
  expect(listCalls()).toBe(callsBefore); // served from the cache, which holds the fresh list
});
