/**
 * Query planning as the portal sees it: how many calls each benchmark query makes, which of them overlap in
 * time (read off the emulator's request log), the show-versus-list threshold, and the budget.
 */
import { SHOW_CALLS_THRESHOLD } from '../../src/planner/operationPlan';
import { startStack, type Stack } from '../helpers/stack';

let stack: Stack;
let landmarks: ReturnType<Stack['emulator']['state']['landmarks']>;

beforeAll(async () => {
  // 500 aliases are over the default limit of 30: this suite raises it to show the planner's rule for them.
  // Development: every response carries its upstream calls.
  stack = await startStack({
    emulator: { seed: 'large' },
    env: { NODE_ENV: 'development', MAX_ALIASES: '600', MAX_TOKENS: '10000' },
  });
  landmarks = stack.emulator.state.landmarks();
});
afterAll(() => stack.close());

beforeEach(async () => {
  await stack.emulator.requestLog.whenIdle();
  stack.emulator.requestLog.clear();
  stack.emulator.faults.clear();
  stack.emulator.setLatency(0);
});

const log = () => stack.emulator.requestLog.entries();
const routes = () =>
  log()
    .map((entry) => entry.route)
    .sort();

/** True when every pair of the given calls overlapped in time at the portal. */
function allOverlap(entries: ReturnType<typeof log>): boolean {
  return entries.every((a) => entries.every((b) => a === b || (a.startedAt < b.endedAt && b.startedAt < a.endedAt)));
}

describe('the benchmark queries: their calls, and the calls that go out together', () => {
  test('assignment → licences → detail, and back to the assignment: two calls at once, about one round trip', async () => {
    stack.emulator.setLatency(100);
    const result = await stack.gql(
      `{ productAssignments { id licenses { nodes { detail { fileName } productAssignment { productName } } } } }`,
    );
    expect(result.errors).toBeUndefined();
    expect(routes()).toEqual(['license.byAssignment.list', 'licenseDetail.list']);
    expect(allOverlap(log())).toBe(true);
  });

  test('licences with assignment and detail: three calls at once', async () => {
    stack.emulator.setLatency(200);
    const result = await stack.gql(`{ licenses { nodes { id productAssignment { productName } detail { hwids } } } }`);
    expect(result.errors).toBeUndefined();
    expect(routes()).toEqual(['license.list', 'licenseDetail.list', 'productAssignment.list']);
    expect(allOverlap(log())).toBe(true);
  });

  test('five aliased licences with their assignment: the licence list and the assignment list, at once', async () => {
    stack.emulator.setLatency(200);
    const ids = stack.emulator.state
      .licensesOf('demo')
      .slice(0, 5)
      .map((license) => license.id);
    const result = await stack.gql(
      `{ ${ids.map((id, i) => `l${i}: license(id: ${id}) { id productAssignment { productName } }`).join(' ')} }`,
    );
    expect(Object.values(result.data!).map((license: any) => Number(license.id))).toEqual(ids);
    expect(routes()).toEqual(['license.list', 'productAssignment.list']);
    expect(allOverlap(log())).toBe(true);
  });

  test('a filtered, paged licence list: two calls at once', async () => {
    stack.emulator.setLatency(200);
    const result = await stack.gql(
      `{ licenses(filter: { universal: false }, orderBy: { field: EXPIRATION_DATE, direction: DESC }, first: 20) { totalCount nodes { hwid productAssignment { productName } } } }`,
    );
    expect(result.data!.licenses.nodes).toHaveLength(20);
    expect(routes()).toEqual(['license.list', 'productAssignment.list']);
    expect(allOverlap(log())).toBe(true);
  });

  test('one licence with its detail: the detail is fetched beside the licence, not after it', async () => {
    stack.emulator.setLatency(200);
    const id = landmarks.hwidBoundLicenseId;
    const result = await stack.gql(`{ license(id: ${id}) { id detail { fileName } } }`);
    expect(result.data!.license).toEqual({ id: String(id), detail: { fileName: 'iengine.lic' } });
    expect(routes()).toEqual(['license.show', 'licenseDetail.show']);
    expect(allOverlap(log())).toBe(true);
  });

  test('generateLicense: the call, then the fresh assignment', async () => {
    const result = await stack.gql(
      `mutation($input: GenerateLicenseInput!) { generateLicense(input: $input) { license { id } productAssignment { usedLicenseCount } } }`,
      {
        input: {
          productAssignmentId: String(landmarks.unlimitedAssignmentId),
          hwid: 'BENCH-1',
          expirationDate: new Date(Date.now() + 30 * 864e5).toISOString().slice(0, 10),
        },
      },
    );
    expect(result.errors).toBeUndefined();
    expect(log().map((entry) => entry.route)).toEqual(['license.generate', 'productAssignment.show']);
  });
});

describe('show calls or one list call', () => {
  const aliased = (ids: number[]) => `{ ${ids.map((id, i) => `l${i}: license(id: ${id}) { id }`).join(' ')} }`;

  test(`up to ${SHOW_CALLS_THRESHOLD} ids are show calls, so one licence never downloads the whole list`, async () => {
    const ids = stack.emulator.state
      .licensesOf('demo')
      .slice(0, SHOW_CALLS_THRESHOLD)
      .map((license) => license.id);
    await stack.gql(aliased(ids));
    expect(routes()).toEqual(Array(SHOW_CALLS_THRESHOLD).fill('license.show'));
  });

  test(`${SHOW_CALLS_THRESHOLD + 1} ids are one list call, and so are 500`, async () => {
    const all = stack.emulator.state.licensesOf('demo').map((license) => license.id);
    await stack.gql(aliased(all.slice(0, SHOW_CALLS_THRESHOLD + 1)));
    expect(routes()).toEqual(['license.list']);
    stack.emulator.requestLog.clear();
    const result = await stack.gql(aliased(all.slice(0, 500)));
    expect(Object.keys(result.data!)).toHaveLength(500);
    expect(routes()).toEqual(['license.list']);
  });

  test("many ids that are not the caller's do not become many calls", async () => {
    const foreign = stack.emulator.state
      .licensesOf('globex')
      .slice(0, 20)
      .map((license) => license.id);
    const result = await stack.gql(aliased(foreign));
    expect(result.errors).toHaveLength(20);
    expect(new Set(result.errors!.map((error) => error.extensions!.code))).toEqual(new Set(['FORBIDDEN', 'NOT_FOUND']));
    // The list, one more read of it (lists are snapshots), and a few show calls: never one call per id.
    expect(log().length).toBeLessThanOrEqual(2 + SHOW_CALLS_THRESHOLD);
  });
});

describe('the budget', () => {
  test('files under a list of unknown length are refused before any call, with a clear error', async () => {
    const result = await stack.gql(`{ licenseDetails { nodes { file { sha256 } } } }`);
    expect(result.status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(result.errors![0]!.message).toMatch(/first/);
    expect(result.errors![0]!.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'UPSTREAM_CALL_BUDGET',
      budget: 50,
      estimatedCalls: null,
    });
    expect(log()).toEqual([]);
  });

  test('an operation estimated over the budget is refused; one within it runs', async () => {
    const over = await stack.gql(`{ licenses(first: 60) { nodes { detail { file { sha256 } } } } }`);
    expect(over.errors![0]!.extensions).toMatchObject({ reason: 'UPSTREAM_CALL_BUDGET', estimatedCalls: 62 });
    expect(log()).toEqual([]);
    const within = await stack.gql(`{ licenses(first: 5) { nodes { detail { file { byteLength } } } } }`);
    expect(within.errors).toBeUndefined();
    expect(log()).toHaveLength(1 + 1 + 5);
  });

  test('the budget is configurable', async () => {
    const tight = await startStack({ env: { NODE_ENV: 'development', UPSTREAM_CALL_BUDGET: '2' } });
    try {
      const refused = await tight.gql(`{ licenses { nodes { productAssignment { id } detail { id } } } }`);
      expect(refused.errors![0]!.extensions).toMatchObject({
        reason: 'UPSTREAM_CALL_BUDGET',
        estimatedCalls: 3,
        budget: 2,
      });
      expect(tight.emulator.requestLog.entries()).toEqual([]);
      const allowed = await tight.gql(`{ productAssignments { licenses { totalCount } } }`);
      expect(allowed.errors).toBeUndefined();
    } finally {
      await tight.close();
    }
  });
});

describe('visible costs', () => {
  test('the response carries the upstream calls, by endpoint with their time, matching what the portal saw', async () => {
    const result: any = await stack.gql(`{ licenses(first: 3) { nodes { productAssignment { id } } } }`);
    const upstream = result.extensions.upstream;
    expect(upstream.calls).toBe(log().length);
    expect(
      Object.fromEntries(
        Object.entries(upstream.byEndpoint).map(([endpoint, entry]: [string, any]) => [endpoint, entry.calls]),
      ),
    ).toEqual(Object.fromEntries(routes().map((route) => [route, routes().filter((r) => r === route).length])));
    for (const call of upstream.timeline) {
      expect(call).toEqual({
        endpoint: expect.any(String),
        status: 200,
        startMs: expect.any(Number),
        durationMs: expect.any(Number),
      });
    }
    expect(upstream.estimatedCalls).toBeGreaterThanOrEqual(upstream.calls);
  });
});

describe('licences of a few known assignments', () => {
  test('are show calls, as the estimate says; more are the grouped call', async () => {
    const ids = stack.emulator.state.assignmentsOf('demo').map((assignment) => assignment.id);
    const query = (some: number[]) =>
      `{ ${some.map((id, i) => `a${i}: productAssignment(id: ${id}) { licenses { totalCount } }`).join(' ')} }`;
    const few: any = await stack.gql(query(ids.slice(0, SHOW_CALLS_THRESHOLD)), undefined);
    expect(routes().filter((route) => route!.startsWith('license.'))).toEqual(
      Array(SHOW_CALLS_THRESHOLD).fill('license.byAssignment.show'),
    );
    expect(few.extensions.upstream.calls).toBe(few.extensions.upstream.estimatedCalls);
    stack.emulator.requestLog.clear();
    await stack.gql(query(ids.slice(0, SHOW_CALLS_THRESHOLD + 1)));
    expect(routes()).toEqual(['license.byAssignment.list']);
  });
});
