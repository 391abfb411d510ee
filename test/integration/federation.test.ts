/**
 * The server as a Federation subgraph (`FEDERATION_SUBGRAPH=true`), spoken to as a gateway speaks to it: `_entities`
 * with the representations of a batch, planned like any query. The portal's calls are read off the emulator's log.
 */
import { postTo } from '../helpers/http';
import { startStack, type Stack } from '../helpers/stack';
import { allOverlap, routesCalled } from '../helpers/portalLog';

let stack: Stack;
let landmarks: ReturnType<Stack['emulator']['state']['landmarks']>;

beforeAll(async () => {
  // Development: every response carries its upstream calls.
  stack = await startStack({
    emulator: { seed: 'large' },
    env: { FEDERATION_SUBGRAPH: 'true', NODE_ENV: 'development' },
  });
  landmarks = stack.emulator.state.landmarks();
  // The demo caller's list lengths are known from here on, as they are once a gateway has sent a batch or two.
  await stack.gql(`{ productAssignments { licenses { totalCount } } licenseDetails { totalCount } }`);
});

test('the root fields of the standalone schema answer as a subgraph too', async () => {
  const result = await stack.gql<{
    productAssignments: Array<{ id: string }>;
    licenseDetails: { totalCount: number };
    license: { id: string } | null;
  }>(`query($id: ID!) { productAssignments { id } licenseDetails { totalCount } license(id: $id) { id } }`, {
    id: String(landmarks.hwidBoundLicenseId),
  });
  expect(result.errors).toBeUndefined();
  expect(result.data?.productAssignments.length).toBeGreaterThan(0);
  expect(result.data?.licenseDetails.totalCount).toBeGreaterThan(0);
  expect(result.data?.license).toEqual({ id: String(landmarks.hwidBoundLicenseId) });
});
afterAll(() => stack.close());

beforeEach(async () => {
  await stack.emulator.requestLog.whenIdle();
  stack.emulator.requestLog.clear();
  stack.emulator.setLatency(0);
});

const log = () => stack.emulator.requestLog.entries();
const routes = () => routesCalled(stack.emulator);

/** The operation a gateway sends for licence references, with their assignment and detail. */
const LICENSES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on License { id hwid expirationDate productAssignment { id productName } detail { fileName } }
  }
}`;

const licenseReferences = (ids: readonly number[]) => ids.map((id) => ({ __typename: 'License', id: String(id) }));
const demoLicenseIds = () => stack.emulator.state.licensesOf('demo').map((license) => license.id);

describe('_entities is planned like any query', () => {
  test('five licences of a caller whose lists are known: five show calls, in one round trip', async () => {
    stack.emulator.setLatency(100);
    const ids = demoLicenseIds().slice(0, 5);
    const result = await stack.gql(`query($r: [_Any!]!) { _entities(representations: $r) { ... on License { id } } }`, {
      r: licenseReferences(ids),
    });
    expect(result.errors).toBeUndefined();
    expect(result.data!._entities.map((license: { id: string }) => Number(license.id))).toEqual(ids);
    // Five small calls instead of the list of 5,000 licences, as for five `license(id:)`.
    expect(routes()).toEqual(Array(5).fill('license.show'));
    expect(allOverlap(log())).toBe(true);
  });

  test('five licences of a caller never seen: the licence list, one call', async () => {
    const ids = demoLicenseIds().slice(0, 5);
    const result = await stack.gql(
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on License { id } } }`,
      { r: licenseReferences(ids) },
      stack.auth.acmeOps,
    );
    expect(result.data!._entities).toHaveLength(5);
    expect(routes()).toEqual(['license.list']);
  });

  test('200 licences with their assignment and detail: three calls at once, not 400', async () => {
    stack.emulator.setLatency(100);
    const ids = demoLicenseIds().slice(100, 300);
    const result = await stack.gql(LICENSES, { representations: licenseReferences(ids) });
    expect(result.errors).toBeUndefined();
    const entities = result.data!._entities as Array<{ id: string; productAssignment: object; detail: object }>;
    expect(entities.map((license) => Number(license.id))).toEqual(ids);
    expect(entities.every((license) => license.productAssignment && license.detail)).toBe(true);
    expect(routes()).toEqual(['license.list', 'licenseDetail.list', 'productAssignment.list']);
    expect(allOverlap(log())).toBe(true);
  });

  test("2,000 of the caller's licences fit the body limit and are read from the lists: three calls", async () => {
    const ids = demoLicenseIds().slice(0, 2000);
    expect(ids).toHaveLength(2000);
    const body = { query: LICENSES, variables: { representations: licenseReferences(ids) } };
    // About 80 KB: under the default BODY_LIMIT_BYTES of 100 KiB.
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(102_400);
    const answer = await postTo(stack.graphqlUrl, body, { authorization: stack.auth.acme });
    expect(answer.status).toBe(200);
    expect(answer.json.errors).toBeUndefined();
    expect(answer.json.data._entities).toHaveLength(2000);
    expect(routes()).toEqual(['license.list', 'licenseDetail.list', 'productAssignment.list']);
  });

  test('2,000 ids the caller does not have: refused by the budget once the list shows it, never 2,000 calls', async () => {
    const ids = Array.from({ length: 2000 }, (_, i) => 9_000_000 + i);
    const result = await stack.gql(`query($r: [_Any!]!) { _entities(representations: $r) { ... on License { id } } }`, {
      r: licenseReferences(ids),
    });
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'UPSTREAM_CALL_BUDGET',
      estimatedCalls: 2001,
      budget: 50,
      byEndpoint: { 'license.list': 1, 'license.show': 2000 },
    });
    expect(routes()).toEqual(['license.list']);
  });

  test('a few ids the caller does not have get the show calls the budget leaves: the portal answers them', async () => {
    const own = demoLicenseIds().slice(0, 100);
    const result = await stack.gql(LICENSES, {
      representations: licenseReferences([...own, landmarks.otherCustomerLicenseId, 9_999_999]),
    });
    expect(result.data!._entities.slice(0, 100).every((license: object | null) => license !== null)).toBe(true);
    expect(result.data!._entities.slice(100)).toEqual([null, null]);
    const codes = result.errors!.map((error) => [error.path, error.extensions?.code]);
    expect(codes).toEqual([
      [['_entities', 100], 'FORBIDDEN'],
      [['_entities', 101], 'NOT_FOUND'],
    ]);
    expect(routes()).toEqual([
      'license.list',
      'license.show',
      'license.show',
      'licenseDetail.list',
      'productAssignment.list',
    ]);
  });
});

describe('the bounds of a batch', () => {
  test("one assignment referenced 2,000 times with its licences: refused by the answer's estimated size, before any call", async () => {
    const [assignment] = stack.emulator.state.assignmentsOf('demo');
    const result = await stack.gql(
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on ProductAssignment { id licenses { nodes { id } } } } }`,
      { r: Array.from({ length: 2000 }, () => ({ __typename: 'ProductAssignment', id: String(assignment!.id) })) },
    );
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'RESULT_TOO_LARGE' });
    // 2,000 entities, each with a page of the assignment's share of 5,000 licences seen before.
    expect(result.errors![0]!.extensions).toMatchObject({ counted: 'ESTIMATE', maxResultObjects: 100_000 });
    expect(result.errors![0]!.extensions!.resultObjects).toBeGreaterThan(100_000);
    expect(routes()).toEqual([]);
  });

  test('a body past BODY_LIMIT_BYTES is 413, before any call', async () => {
    const ids = Array.from({ length: 3000 }, (_, i) => 1_000_000 + i);
    const answer = await postTo(
      stack.graphqlUrl,
      { query: LICENSES, variables: { representations: licenseReferences(ids) } },
      { authorization: stack.auth.acme },
    );
    expect(answer.status).toBe(413);
    expect(answer.json.errors[0].extensions.reason).toBe('BODY_TOO_LARGE');
    expect(routes()).toEqual([]);
  });
});

describe('representations that name no record of the caller', () => {
  test("another customer's records are null with FORBIDDEN at their index; malformed ones BAD_USER_INPUT; the rest answered", async () => {
    const [first, second] = demoLicenseIds();
    const representations = [
      { __typename: 'License', id: String(first) },
      { __typename: 'License', id: String(landmarks.otherCustomerLicenseId) },
      { __typename: 'ProductAssignment', id: String(landmarks.otherCustomerAssignmentId) },
      { __typename: 'License' },
      { __typename: 'Device', id: '1' },
      { __typename: 'License', id: 'abc' },
      'License:1',
      { __typename: 'License', id: String(second) },
    ];
    const result = await stack.gql(
      `query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on License { id } ... on ProductAssignment { id } } }`,
      { r: representations },
    );
    expect(result.status).toBe(200);
    expect(result.data!._entities).toEqual([
      { __typename: 'License', id: String(first) },
      null,
      null,
      null,
      null,
      null,
      null,
      { __typename: 'License', id: String(second) },
    ]);
    const errors = result
      .errors!.map((error) => ({ path: error.path, code: error.extensions?.code, field: error.extensions?.field }))
      .sort((a, b) => Number(a.path![1]) - Number(b.path![1]));
    expect(errors).toEqual([
      { path: ['_entities', 1], code: 'FORBIDDEN', field: undefined },
      { path: ['_entities', 2], code: 'FORBIDDEN', field: undefined },
      { path: ['_entities', 3], code: 'BAD_USER_INPUT', field: 'id' },
      { path: ['_entities', 4], code: 'BAD_USER_INPUT', field: '__typename' },
      { path: ['_entities', 5], code: 'BAD_USER_INPUT', field: 'id' },
      { path: ['_entities', 6], code: 'BAD_USER_INPUT', field: 'representations' },
    ]);
  });

  test('an operation without variables, compiled once it is seen again, answers alike', async () => {
    const [first] = demoLicenseIds();
    const query = `{ _entities(representations: [{ __typename: "License", id: "${first}" }, { __typename: "License", id: "${landmarks.otherCustomerLicenseId}" }, { __typename: "Device" }]) { ... on License { id } } }`;
    const answers = [await stack.gql(query), await stack.gql(query), await stack.gql(query)];
    for (const answer of answers) {
      expect(answer.data!._entities).toEqual([{ id: String(first) }, null, null]);
      expect(answer.errors!.map((error) => [error.path, error.extensions?.code]).sort()).toEqual([
        [['_entities', 1], 'FORBIDDEN'],
        [['_entities', 2], 'BAD_USER_INPUT'],
      ]);
    }
  });

  test("a detail is referenced by its own id, from the caller's detail list; one it lacks is NOT_FOUND", async () => {
    const detail = stack.emulator.state.detailsOf('demo')[0]!;
    const result = await stack.gql(
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on LicenseDetail { id fileName license { id } } } }`,
      {
        r: [
          { __typename: 'LicenseDetail', id: String(detail.id) },
          { __typename: 'LicenseDetail', id: '1' },
        ],
      },
    );
    expect(result.data!._entities).toEqual([
      { id: String(detail.id), fileName: detail.file_name, license: { id: String(detail.license_id) } },
      null,
    ]);
    expect(result.errors!.map((error) => [error.path, error.extensions?.code])).toEqual([
      [['_entities', 1], 'NOT_FOUND'],
    ]);
    expect(routes()).toEqual(['license.show', 'licenseDetail.list']);
  });

  test('a gateway may forward the session cookie in place of Authorization', async () => {
    const signIn = await postTo(`${stack.origin}/auth/session`, { username: 'demo', password: 'demo' });
    expect(signIn.status).toBe(200);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const [first] = demoLicenseIds();
    const answer = await postTo(
      stack.graphqlUrl,
      {
        query: `query($r: [_Any!]!) { _entities(representations: $r) { ... on License { id } } }`,
        variables: { r: licenseReferences([first!, landmarks.otherCustomerLicenseId]) },
      },
      { cookie },
    );
    expect(answer.json.data._entities).toEqual([{ id: String(first) }, null]);
    expect(answer.json.errors.map((error: { extensions: { code: string } }) => error.extensions.code)).toEqual([
      'FORBIDDEN',
    ]);
  });

  test("each caller gets its own records: the same batch as another customer's user is FORBIDDEN throughout", async () => {
    const ids = demoLicenseIds().slice(0, 3);
    const result = await stack.gql(
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on License { id } } }`,
      { r: licenseReferences(ids) },
      stack.auth.globex,
    );
    expect(result.data!._entities).toEqual([null, null, null]);
    expect(result.errors!.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
  });
});

describe('the subgraph schema', () => {
  test('_service.sdl links Federation 2 and keys every entity type by its id', async () => {
    const result = await stack.gql('{ _service { sdl } }');
    const sdl: string = result.data!._service.sdl;
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])');
    for (const type of ['ProductAssignment', 'License', 'LicenseDetail'])
      expect(sdl).toMatch(new RegExp(`type ${type} @key\\(fields: "id"\\)`));
    expect(routes()).toEqual([]);
  });

  test('without FEDERATION_SUBGRAPH the schema has no _entities nor _service', async () => {
    const standalone = await startStack({ env: { NODE_ENV: 'development' } });
    try {
      const result = await standalone.gql('{ __schema { queryType { fields { name } } } }');
      const fields = result.data!.__schema.queryType.fields.map((field: { name: string }) => field.name);
      expect(fields).toContain('license');
      expect(fields).not.toContain('_entities');
      expect(fields).not.toContain('_service');
      const entities = await standalone.gql('{ _entities(representations: []) { __typename } }');
      expect(entities.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    } finally {
      await standalone.close();
    }
  });
});
