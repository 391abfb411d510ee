/**
 * generateLicense, a side-effecting GET made safe: exactly one portal call per intended licence, every portal
 * answer mapped, lost answers reported as such, and idempotency keys that hold under retries and races.
 * Every check reads the emulator's request log and its licences, over real sockets.
 */
import { startStack, type Stack } from '../helpers/stack';
import { postTo } from '../helpers/http';
import { ManualClock } from '../helpers/clock';

let stack: Stack;
let landmarks: ReturnType<Stack['emulator']['state']['landmarks']>;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

beforeEach(async () => {
  await stack.emulator.requestLog.whenIdle();
  stack.emulator.reset();
  landmarks = stack.emulator.state.landmarks();
});

const GENERATE = `mutation Generate($input: GenerateLicenseInput!) {
  generateLicense(input: $input) {
    license { id hwid expirationDate note expired productAssignment { id } detail { hwids products } }
    productAssignment { id usedLicenseCount remainingLicenseCount licenses { totalCount } }
  }
}`;

function daysFromToday(days: number): string {
  const date = new Date(`${stack.emulator.state.today()}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

function input(overrides: Record<string, unknown> = {}) {
  return {
    productAssignmentId: String(landmarks.generatableAssignmentId),
    hwid: 'Apsh8svsn3/3xyID',
    expirationDate: daysFromToday(30),
    note: 'Lobby camera 2',
    ...overrides,
  };
}

const generateCalls = () => stack.emulator.requestLog.entries({ route: 'license.generate' });
const licenceCount = () => stack.emulator.state.licensesOf('demo').length;

describe('the happy path', () => {
  test('one call with the exact query string; the payload is fresh in the same operation and the next', async () => {
    const before = stack.emulator.state.assignment(landmarks.generatableAssignmentId)!;
    const countBefore = licenceCount();
    const result = await stack.gql(GENERATE, {
      input: input({ hwid: 'IM0000ff+c5/35 x'.replace(' ', ''), note: 'Vstupná kamera 2 & more' }),
    });
    expect(result.errors).toBeUndefined();

    const calls = generateCalls();
    expect(calls).toHaveLength(1);
    const expectedQuery = new URLSearchParams({
      hwid: 'IM0000ff+c5/35x',
      expiration_date: daysFromToday(30),
      note: 'Vstupná kamera 2 & more',
    }).toString();
    expect(calls[0]!.path).toBe(`/api/license/generate/${landmarks.generatableAssignmentId}`);
    expect(calls[0]!.query).toBe(expectedQuery);
    expect(licenceCount()).toBe(countBefore + 1);

    const payload = result.data!.generateLicense;
    const made = stack.emulator.state.licensesOf('demo').at(-1)!;
    expect(payload.license).toEqual({
      id: String(made.id),
      hwid: 'IM0000ff+c5/35x',
      expirationDate: daysFromToday(30),
      note: 'Vstupná kamera 2 & more',
      expired: false,
      productAssignment: { id: String(landmarks.generatableAssignmentId) },
      detail: { hwids: ['IM0000ff+c5/35x'], products: [before.assignment.product_code] },
    });
    const usedBefore = before.assignment.used_license_count;
    expect(payload.productAssignment.usedLicenseCount).toBe(usedBefore + 1);
    expect(payload.productAssignment.licenses.totalCount).toBe(usedBefore + 1);

    const next = await stack.gql(
      `{ license(id: ${made.id}) { id } productAssignment(id: ${landmarks.generatableAssignmentId}) { usedLicenseCount } }`,
    );
    expect(next.data).toEqual({
      license: { id: String(made.id) },
      productAssignment: { usedLicenseCount: usedBefore + 1 },
    });
  });

  test('reads made earlier in the same operation are forgotten after the licence is generated', async () => {
    const id = landmarks.generatableAssignmentId;
    const result = await stack.gql(
      `mutation($input: GenerateLicenseInput!) {
        first: generateLicense(input: $input) { productAssignment { usedLicenseCount licenses { totalCount } } }
        second: generateLicense(input: $input) { productAssignment { usedLicenseCount licenses { totalCount } } }
      }`,
      { input: input() },
    );
    const first = result.data!.first.productAssignment;
    const second = result.data!.second.productAssignment;
    expect(second.usedLicenseCount).toBe(first.usedLicenseCount + 1);
    expect(second.licenses.totalCount).toBe(first.licenses.totalCount + 1);
    expect(stack.emulator.state.assignment(id)!.assignment.used_license_count).toBe(second.usedLicenseCount);
  });

  test('two aliased mutations make two licences, in order', async () => {
    const countBefore = licenceCount();
    const result = await stack.gql(
      `mutation($a: GenerateLicenseInput!, $b: GenerateLicenseInput!) {
        a: generateLicense(input: $a) { license { id hwid } }
        b: generateLicense(input: $b) { license { id hwid } }
      }`,
      { a: input({ hwid: 'FIRST0001' }), b: input({ hwid: 'SECOND0002' }) },
    );
    expect(result.errors).toBeUndefined();
    expect(licenceCount()).toBe(countBefore + 2);
    const calls = generateCalls();
    expect(calls.map((call) => new URLSearchParams(call.query).get('hwid'))).toEqual(['FIRST0001', 'SECOND0002']);
    expect(calls[0]!.endedAt).toBeLessThanOrEqual(calls[1]!.startedAt);
    expect(Number(result.data!.a.license.id)).toBeLessThan(Number(result.data!.b.license.id));
  });
});

describe('input is checked before any upstream call', () => {
  test.each([
    ['productAssignmentId', { productAssignmentId: '0' }],
    ['productAssignmentId', { productAssignmentId: 'seven' }],
    ['hwid', { hwid: '' }],
    ['hwid', { hwid: 'x'.repeat(129) }],
    ['hwid', { hwid: 'ABC DEF' }],
    ['hwid', { hwid: 'ABC\tDEF' }],
    ['hwid', { hwid: 'ABC\u0001DEF' }],
    ['hwid', { hwid: 'ABC\u00a0DEF' }],
    ['expirationDate', { expirationDate: '2027-02-30' }],
    ['expirationDate', { expirationDate: '2027-2-3' }],
    ['expirationDate', { expirationDate: '27-01-01' }],
    ['expirationDate', { expirationDate: '2027-01-01T00:00:00Z' }],
    ['note', { note: 'n'.repeat(1001) }],
    ['idempotencyKey', { idempotencyKey: '' }],
  ])('%s: %j', async (field, overrides) => {
    const result = await stack.gql(GENERATE, { input: input(overrides) });
    expect(result.status).toBe(200);
    expect(result.data).toEqual({ generateLicense: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(stack.emulator.requestLog.entries()).toEqual([]);
  });

  // The hwid as JSON text, escapes and all: a lone surrogate can travel only as the escape `\ud800`.
  test.each([
    ['a zero-width space', 'ABC\\u200bDEF', /invisible formatting characters .* U\+200B\.$/],
    ['a zero-width joiner', 'ABC\\u200dDEF', /invisible formatting characters .* U\+200D\.$/],
    ['a right-to-left override', 'ABC\\u202eFED', /invisible formatting characters .* U\+202E\.$/],
    ['a left-to-right isolate', '\\u2066ABCDEF', /invisible formatting characters .* U\+2066\.$/],
    ['a byte-order mark', '\\ufeffABCDEF', /invisible formatting characters .* U\+FEFF\.$/],
    [
      'a lone high surrogate',
      'ABC\\ud800DEF',
      /well-formed Unicode text, but has an unpaired surrogate \(U\+D800\)\.$/,
    ],
    ['a lone low surrogate', 'ABCDEF\\udc00', /unpaired surrogate \(U\+DC00\)/],
    ['a control character', 'ABC\\u0007DEF', /whitespace or control characters/],
  ])('an hwid with %s is refused, with no portal call', async (_case, hwidJson, message) => {
    const variables = { input: input({ hwid: '<hwid>', idempotencyKey: 'hwid-check' }) };
    const body = JSON.stringify({ query: GENERATE, variables }).replace('"<hwid>"', `"${hwidJson}"`);
    const answer = await postTo(stack.graphqlUrl, body, {
      authorization: stack.auth.acme,
    });
    expect(answer.status).toBe(200);
    expect(answer.json.data).toEqual({ generateLicense: null });
    expect(answer.json.errors).toHaveLength(1);
    expect(answer.json.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'hwid' });
    expect(answer.json.errors[0].message).toMatch(message);
    expect(stack.emulator.requestLog.entries()).toEqual([]);
  });

  test('the limits themselves are accepted: a 128-character hwid and a 1000-character note', async () => {
    const result = await stack.gql(GENERATE, { input: input({ hwid: 'h'.repeat(128), note: 'n'.repeat(1000) }) });
    expect(result.errors).toBeUndefined();
    expect(generateCalls()).toHaveLength(1);
  });
});

describe("the portal's answers", () => {
  async function expectRefusal(
    overrides: Record<string, unknown>,
    code: string,
    portalMessage?: RegExp,
    authorization?: string | null,
  ) {
    const countBefore = stack.emulator.state.allLicenses().length;
    const result = await stack.gql(GENERATE, { input: input(overrides) }, authorization);
    expect(result.data).toEqual({ generateLicense: null });
    expect(result.errors![0]!.extensions!.code).toBe(code);
    if (portalMessage) expect(result.errors![0]!.extensions!.portalMessage).toMatch(portalMessage);
    expect(generateCalls()).toHaveLength(1);
    expect(stack.emulator.state.allLicenses()).toHaveLength(countBefore);
    return result;
  }

  test('an expiration date in the past is the portal’s 400, passed on as BAD_USER_INPUT', async () => {
    await expectRefusal({ expirationDate: daysFromToday(-1) }, 'BAD_USER_INPUT', /^Bad Request: /);
  });

  test("an expiration after the assignment's validUntil is refused by the portal", async () => {
    await expectRefusal(
      { productAssignmentId: String(landmarks.soonValidUntilAssignmentId), expirationDate: daysFromToday(400) },
      'BAD_USER_INPUT',
      /^Bad Request: /,
    );
  });

  test('an exhausted assignment is refused by the portal', async () => {
    await expectRefusal(
      { productAssignmentId: String(landmarks.exhaustedAssignmentId) },
      'BAD_USER_INPUT',
      /^Bad Request: /,
    );
  });

  test('another customer’s assignment is FORBIDDEN, a missing one NOT_FOUND, no credentials UNAUTHENTICATED', async () => {
    await expectRefusal({ productAssignmentId: String(landmarks.otherCustomerAssignmentId) }, 'FORBIDDEN');
    stack.emulator.requestLog.clear();
    await expectRefusal({ productAssignmentId: '999999' }, 'NOT_FOUND');
    stack.emulator.requestLog.clear();
    await expectRefusal({}, 'UNAUTHENTICATED', undefined, null);
  });

  test.each([
    ['Please provide valid hardware ID', 'hwid'],
    ["Please provide valid expiration_date format: '%Y-%m-%d'", 'expirationDate'],
  ])("the portal's 403 %j is BAD_USER_INPUT on %s", async (body, field) => {
    stack.emulator.faults.add({ route: 'license.generate', kind: 'status', status: 403, body });
    const result = await expectRefusal({}, 'BAD_USER_INPUT', new RegExp(body.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    expect(result.errors![0]!.extensions!.field).toBe(field);
  });

  test('a 503 is UPSTREAM_UNAVAILABLE after exactly one call, and says no licence was made', async () => {
    stack.emulator.faults.add({ route: 'license.generate', kind: 'status', status: 503 });
    const result = await expectRefusal({}, 'UPSTREAM_UNAVAILABLE');
    expect(result.errors![0]!.message).toMatch(/no licence/);
  });
});

describe('a lost answer is OUTCOME_UNKNOWN, never a failure that invites a blind retry', () => {
  test.each([
    ['a reset after the licence was made', { kind: 'resetAfterEffect' as const }],
    ['a malformed body after the licence was made', { kind: 'malformedJson' as const }],
    ['a truncated body after the licence was made', { kind: 'truncatedBody' as const }],
  ])('%s: exactly one licence, one call', async (_name, fault) => {
    const countBefore = licenceCount();
    stack.emulator.faults.add({ route: 'license.generate', ...fault });
    const result = await stack.gql(GENERATE, { input: input() });
    expect(result.data).toEqual({ generateLicense: null });
    expect(result.errors![0]!.extensions!.code).toBe('OUTCOME_UNKNOWN');
    expect(result.errors![0]!.message).toMatch(/look at the assignment's licences before trying again/i);
    expect(generateCalls()).toHaveLength(1);
    expect(licenceCount()).toBe(countBefore + 1);
  });

  test('a portal slower than the timeout: one call, never retried', async () => {
    const quick = await startStack({ env: { PORTAL_HEADERS_TIMEOUT_MS: '200' } });
    try {
      const lm = quick.emulator.state.landmarks();
      quick.emulator.faults.add({ route: 'license.generate', kind: 'slowHeaders', ms: 1500 });
      const result = await quick.gql(GENERATE, {
        input: { ...input(), productAssignmentId: String(lm.generatableAssignmentId) },
      });
      expect(result.errors![0]!.extensions!.code).toBe('OUTCOME_UNKNOWN');
      await quick.emulator.requestLog.whenIdle();
      expect(quick.emulator.requestLog.entries({ route: 'license.generate' })).toHaveLength(1);
    } finally {
      await quick.close();
    }
  });
});

describe('idempotencyKey', () => {
  test('the same caller and key, one after the other: the first licence, no second generate call', async () => {
    const countBefore = licenceCount();
    const first = await stack.gql(GENERATE, { input: input({ idempotencyKey: 'order-1' }) });
    const second = await stack.gql(GENERATE, { input: input({ idempotencyKey: 'order-1' }) });
    expect(second.data!.generateLicense.license.id).toBe(first.data!.generateLicense.license.id);
    expect(generateCalls()).toHaveLength(1);
    expect(licenceCount()).toBe(countBefore + 1);
  });

  test('the same key at the same time: one generate call, every request gets the same licence', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => stack.gql(GENERATE, { input: input({ idempotencyKey: 'double-click' }) })),
    );
    const ids = new Set(results.map((result) => result.data!.generateLicense.license.id));
    expect(ids.size).toBe(1);
    expect(generateCalls()).toHaveLength(1);
  });

  test("keys are scoped to the caller's credentials: the same key of two users makes two licences", async () => {
    const [demo, ops] = await Promise.all([
      stack.gql(GENERATE, { input: input({ idempotencyKey: 'shared-key' }) }, stack.auth.acme),
      stack.gql(GENERATE, { input: input({ idempotencyKey: 'shared-key' }) }, stack.auth.acmeOps),
    ]);
    expect(demo.data!.generateLicense.license.id).not.toBe(ops.data!.generateLicense.license.id);
    expect(
      generateCalls()
        .map((call) => call.username)
        .sort(),
    ).toEqual(['acme-ops', 'demo']);
  });

  test('a key reused with other input is BAD_USER_INPUT, and nothing is generated', async () => {
    await stack.gql(GENERATE, { input: input({ idempotencyKey: 'k-7' }) });
    const reused = await stack.gql(GENERATE, { input: input({ idempotencyKey: 'k-7', hwid: 'OTHER-HWID' }) });
    expect(reused.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'idempotencyKey' });
    expect(generateCalls()).toHaveLength(1);
  });

  test('after a lost answer, a retry with the same key returns the licence the lost call made', async () => {
    const countBefore = licenceCount();
    stack.emulator.faults.add({ route: 'license.generate', kind: 'resetAfterEffect', times: 1 });
    const lost = await stack.gql(GENERATE, { input: input({ idempotencyKey: 'lost-1' }) });
    expect(lost.errors![0]!.extensions!.code).toBe('OUTCOME_UNKNOWN');
    const retry = await stack.gql(GENERATE, { input: input({ idempotencyKey: 'lost-1' }) });
    expect(retry.errors).toBeUndefined();
    expect(licenceCount()).toBe(countBefore + 1);
    expect(retry.data!.generateLicense.license.id).toBe(String(stack.emulator.state.licensesOf('demo').at(-1)!.id));
    expect(generateCalls()).toHaveLength(1);
  });

  test('after a lost answer, a retry that finds several licences of that input stays OUTCOME_UNKNOWN and generates none', async () => {
    stack.emulator.faults.add({ route: 'license.generate', kind: 'resetAfterEffect', times: 1 });
    const lost = await stack.gql(GENERATE, { input: input({ idempotencyKey: 'lost-twice' }) });
    expect(lost.errors![0]!.extensions!.code).toBe('OUTCOME_UNKNOWN');
    // Meanwhile the same licence is generated once more, without the key (another tab, another tool).
    const other = await stack.gql(GENERATE, { input: input() });
    expect(other.errors).toBeUndefined();
    const countBefore = licenceCount();
    const retry = await stack.gql(GENERATE, { input: input({ idempotencyKey: 'lost-twice' }) });
    expect(retry.errors![0]!.extensions!.code).toBe('OUTCOME_UNKNOWN');
    expect(licenceCount()).toBe(countBefore);
    expect(generateCalls()).toHaveLength(2);
  });

  test('after a 503, a retry with the same key generates: nothing was made the first time', async () => {
    const countBefore = licenceCount();
    stack.emulator.faults.add({ route: 'license.generate', kind: 'status', status: 503, times: 1 });
    const failed = await stack.gql(GENERATE, { input: input({ idempotencyKey: 'retry-2' }) });
    expect(failed.errors![0]!.extensions!.code).toBe('UPSTREAM_UNAVAILABLE');
    const retry = await stack.gql(GENERATE, { input: input({ idempotencyKey: 'retry-2' }) });
    expect(retry.errors).toBeUndefined();
    expect(generateCalls()).toHaveLength(2);
    expect(licenceCount()).toBe(countBefore + 1);
  });
});

describe("a key's lease, on a clock the test moves", () => {
  let leased: Stack;
  /** The leases' clock: the test moves it past a lease instead of waiting out IDEMPOTENCY_LEASE_MS (a minute). */
  const clock = new ManualClock();
  beforeAll(async () => {
    leased = await startStack({ parts: { now: clock.now } });
  });
  afterAll(() => leased.close());

  test("a holder that hangs past its lease: a retry then reconciles, returning the licence the holder's call made; one licence, one call", async () => {
    const { emulator } = leased;
    const generate = () =>
      leased.gql(
        `mutation Generate($input: GenerateLicenseInput!) { generateLicense(input: $input) { license { id } } }`,
        {
          input: {
            ...input({ idempotencyKey: 'hung-holder', hwid: 'HUNG-HOLDER' }),
            productAssignmentId: String(emulator.state.landmarks().generatableAssignmentId),
          },
        },
      );
    const made = () => emulator.state.licensesOf('demo').filter((license) => license.hwid === 'HUNG-HOLDER');
    const calls = (route: string) => emulator.requestLog.entries().filter((entry) => entry.route === route);
    // The portal makes the licence at once and answers a second later: the holder hangs meanwhile.
    emulator.setLatency(1000, 'license.generate');
    try {
      const holder = generate();
      for (let waited = 0; made().length === 0; waited += 10) {
        if (waited > 10_000) throw new Error('the holder never sent its generate call');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      clock.advance(60_000);
      const retry = await generate();
      expect(retry.errors).toBeUndefined();
      expect(made()).toHaveLength(1);
      expect(retry.data!.generateLicense.license.id).toBe(String(made()[0]!.id));
      const held = await holder;
      expect(held.data!.generateLicense.license.id).toBe(String(made()[0]!.id));
      // The holder noted the assignment's licences and called once; the retry did not wait, it read them again.
      expect(calls('license.generate')).toHaveLength(1);
      expect(calls('license.byAssignment.show')).toHaveLength(2);
    } finally {
      emulator.setLatency(0);
    }
  });
});

describe('GET /licenses/<licenseId>/file', () => {
  const download = (path: string, authorization?: string) =>
    fetch(`${stack.origin}${path}`, { headers: authorization ? { authorization } : {} });

  test("streams the portal's exact bytes, as an attachment with the portal's name and type", async () => {
    const id = landmarks.hwidBoundLicenseId;
    const response = await download(`/licenses/${id}/file`, stack.auth.acme);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="iengine.lic"');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await response.arrayBuffer())).toEqual(stack.emulator.state.licenseFile(id));
    expect(stack.emulator.requestLog.entries().map((entry) => [entry.route, entry.username])).toEqual([
      ['licenseDetail.download', 'demo'],
    ]);
  });

  const PAGE = '<!doctype html><script>fetch("/graphql")</script>';
  // As the emulator spells them, so that they replace its own headers of an answer rather than repeat them.
  test.each([
    [
      'an HTML page to show inline, its name with a quote',
      { 'Content-Type': 'text/html; charset=utf-8', 'Content-Disposition': 'inline; filename="evil\\".html"' },
      'application/octet-stream',
      'attachment; filename="evil_.html"',
    ],
    [
      'an SVG image with no name',
      { 'Content-Type': 'image/svg+xml' },
      'application/octet-stream',
      'attachment; filename="license-{id}.lic"',
    ],
    [
      'a name that is a path',
      { 'Content-Type': 'application/json', 'Content-Disposition': 'attachment; filename="../../.bashrc"' },
      'application/json',
      'attachment; filename="bashrc"',
    ],
    [
      'a non-ASCII name',
      {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Disposition': "attachment; filename*=UTF-8''licen%C3%A7a%20%C3%BA.lic",
      },
      'application/json',
      'attachment; filename="licenca u.lic"; filename*=UTF-8\'\'licen%C3%A7a%20%C3%BA.lic',
    ],
  ])(
    "a portal answering %s: the bytes as they came, as an attachment of this server's type and name, nosniff",
    async (_case, headers, contentType, disposition) => {
      const id = landmarks.hwidBoundLicenseId;
      stack.emulator.faults.add({ route: 'licenseDetail.download', kind: 'status', status: 200, body: PAGE, headers });
      const response = await download(`/licenses/${id}/file`, stack.auth.acme);
      expect(response.status).toBe(200);
      expect(response.headers.get('Content-Type')).toBe(contentType);
      expect(response.headers.get('Content-Disposition')).toBe(disposition.replace('{id}', String(id)));
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await response.text()).toBe(PAGE);
      expect(stack.emulator.requestLog.entries().map((entry) => entry.route)).toEqual(['licenseDetail.download']);
    },
  );

  test.each([
    ['no credentials', () => [`/licenses/${landmarks.hwidBoundLicenseId}/file`, undefined], 401],
    ["another customer's licence", () => [`/licenses/${landmarks.otherCustomerLicenseId}/file`, stack.auth.acme], 403],
    ['an id that is not a number', () => ['/licenses/abc/file', stack.auth.acme], 400],
  ] as Array<[string, () => [string, string | undefined], number]>)(
    '%s: %i with a short plain-text message',
    async (_name, args, status) => {
      const [path, authorization] = args();
      const response = await download(path, authorization);
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      const text = await response.text();
      expect(text.length).toBeLessThan(200);
      expect(text).not.toMatch(/</);
    },
  );

  test('a failing portal is 502, a slow one 504', async () => {
    stack.emulator.faults.add({ route: 'licenseDetail.download', kind: 'status', status: 500, times: 1 });
    expect((await download(`/licenses/${landmarks.hwidBoundLicenseId}/file`, stack.auth.acme)).status).toBe(502);
    const quick = await startStack({ env: { PORTAL_HEADERS_TIMEOUT_MS: '150' } });
    try {
      quick.emulator.faults.add({ route: 'licenseDetail.download', kind: 'slowHeaders', ms: 1000 });
      const response = await fetch(`${quick.origin}/licenses/${landmarks.hwidBoundLicenseId}/file`, {
        headers: { authorization: quick.auth.acme },
      });
      expect(response.status).toBe(504);
    } finally {
      await quick.close();
    }
  });

  test('the GraphQL downloadUrl is this route', async () => {
    const result = await stack.gql(`{ licenseDetail(licenseId: ${landmarks.universalLicenseId}) { downloadUrl } }`);
    const response = await download(result.data!.licenseDetail.downloadUrl, stack.auth.acme);
    expect(response.status).toBe(200);
    const file = JSON.parse(await response.text());
    expect(file.contract.hwids).toEqual([]);
  });
});
