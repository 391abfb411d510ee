/**
 * Query planning as the portal sees it: how many calls each benchmark query makes, which of them overlap in
 * time (read off the emulator's request log), show calls or a list, and the budget.
 */
import { FEW_SHOW_CALLS } from '../../src/planner/operationPlan';
import { startStack, type Stack } from '../helpers/stack';
import { allOverlap, routesCalled } from '../helpers/portalLog';

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
  // The demo caller's list lengths are known from here on, as they are once a user has opened a page or two.
  await stack.gql(`{ productAssignments { licenses { totalCount } } licenseDetails { totalCount } }`);
});
afterAll(() => stack.close());

beforeEach(async () => {
  await stack.emulator.requestLog.whenIdle();
  stack.emulator.requestLog.clear();
  stack.emulator.faults.clear();
  stack.emulator.setLatency(0);
});

const log = () => stack.emulator.requestLog.entries();
const routes = () => routesCalled(stack.emulator);

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

  test('five aliased licences with their assignment: five show calls and the assignment list, at once', async () => {
    stack.emulator.setLatency(200);
    const ids = stack.emulator.state
      .licensesOf('demo')
      .slice(0, 5)
      .map((license) => license.id);
    const result = await stack.gql(
      `{ ${ids.map((id, i) => `l${i}: license(id: ${id}) { id productAssignment { productName } }`).join(' ')} }`,
    );
    expect(Object.values(result.data!).map((license: any) => Number(license.id))).toEqual(ids);
    // Five small calls instead of the list of 5,000 licences; the list of 40 assignments instead of five calls.
    expect(routes()).toEqual([...Array<string>(5).fill('license.show'), 'productAssignment.list']);
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
  const demoIds = () => stack.emulator.state.licensesOf('demo').map((license) => license.id);

  test(`up to ${FEW_SHOW_CALLS} ids are show calls, so one licence never downloads the whole list`, async () => {
    await stack.gql(aliased(demoIds().slice(0, FEW_SHOW_CALLS)), undefined, stack.auth.acmeOps);
    expect(routes()).toEqual(Array(FEW_SHOW_CALLS).fill('license.show'));
  });

  test('more ids are show calls while they cost less than the list this caller was seen to have', async () => {
    const ids = demoIds();
    // acme-ops has not been seen yet: its licence list's length is unknown, so twenty ids are the list.
    const unseen: any = await stack.gql(aliased(ids.slice(0, 20)), undefined, stack.auth.acmeOps);
    expect(Object.keys(unseen.data)).toHaveLength(20);
    expect(routes()).toEqual(['license.list']);
    stack.emulator.requestLog.clear();
    // Now its 5,000 licences are known: twenty show calls answer sooner.
    await stack.gql(aliased(ids.slice(20, 40)), undefined, stack.auth.acmeOps);
    expect(routes()).toEqual(Array(20).fill('license.show'));
  });

  test('500 ids could cost 500 calls: the budget refuses them before any call', async () => {
    const result = await stack.gql(aliased(demoIds().slice(0, 500)));
    expect(result.status).toBe(400);
    expect(result.errors![0]!.extensions).toMatchObject({ reason: 'UPSTREAM_CALL_BUDGET', budget: 50 });
    expect(log()).toEqual([]);
  });

  test("five ids of another customer: each is FORBIDDEN, the portal's own answer, and no list is read twice", async () => {
    const foreign = stack.emulator.state
      .licensesOf('globex')
      .slice(0, 5)
      .map((license) => license.id);
    const asDemo: any = await stack.gql(aliased(foreign));
    expect(asDemo.data).toEqual(Object.fromEntries(foreign.map((_, i) => [`l${i}`, null])));
    expect(asDemo.errors.map((error: any) => [error.path[0], error.extensions.code])).toEqual(
      foreign.map((_, i) => [`l${i}`, 'FORBIDDEN']),
    );
    expect(routes()).toEqual(Array(5).fill('license.show'));
    stack.emulator.requestLog.clear();
    // A caller never seen before reads its list first; the five ids it lacks are still asked, once each.
    const acmeIds = stack.emulator.state
      .licensesOf('demo')
      .slice(0, 5)
      .map((license) => license.id);
    const asGlobex: any = await stack.gql(aliased(acmeIds), undefined, stack.auth.globex);
    expect(asGlobex.errors.map((error: any) => error.extensions.code)).toEqual(Array(5).fill('FORBIDDEN'));
    expect(routes()).toEqual(['license.list', ...Array<string>(5).fill('license.show')]);
  });

  test("many ids of another customer each get the portal's answer, in calls the estimate counted", async () => {
    const foreign = stack.emulator.state
      .licensesOf('globex')
      .slice(0, 20)
      .map((license) => license.id);
    const result: any = await stack.gql(aliased(foreign), undefined, stack.auth.acmeOps);
    expect(result.errors.map((error: any) => error.extensions.code)).toEqual(Array(20).fill('FORBIDDEN'));
    expect(log().filter((entry) => entry.route === 'license.list').length).toBeLessThanOrEqual(1);
    expect(result.extensions.upstream.calls).toBeLessThanOrEqual(result.extensions.upstream.estimatedCalls);
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
    // The licence list, five details by show calls (not the list of 5,000), and five files.
    expect(log()).toHaveLength(1 + 5 + 5);
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
  test('are show calls while each costs less than the grouped list; past the pool, the grouped call', async () => {
    const ids = stack.emulator.state.assignmentsOf('demo').map((assignment) => assignment.id);
    const query = (some: number[]) =>
      `{ ${some.map((id, i) => `a${i}: productAssignment(id: ${id}) { licenses { totalCount } }`).join(' ')} }`;
    const few: any = await stack.gql(query(ids.slice(0, 10)), undefined);
    // Ten assignments' licences (about 1,250) by ten calls, rather than all 5,000 with the grouped list; their ten
    // assignments from the list of 40.
    expect(routes()).toEqual([...Array<string>(10).fill('license.byAssignment.show'), 'productAssignment.list']);
    expect(few.extensions.upstream.calls).toBeLessThanOrEqual(few.extensions.upstream.estimatedCalls);
    stack.emulator.requestLog.clear();
    // More than the 32 calls that go out at once: the grouped list, which brings the assignments too.
    await stack.gql(query(ids.slice(0, 33)));
    expect(routes()).toEqual(['license.byAssignment.list']);
  });
});
