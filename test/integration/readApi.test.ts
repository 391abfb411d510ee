/**
 * The read API as a frontend uses it: the real server in front of the emulator over real sockets,
 * with every answer checked against the emulator's own REST data and its request log.
 */
import { createHash } from 'node:crypto';
import { startStack, type Stack } from '../helpers/stack';
import { portalGet } from '../helpers/portalRest';

let stack: Stack;
let expected: { assignments: any[]; licenses: any[]; details: any[]; globexLicenses: any[]; globexAssignments: any[] };

beforeAll(async () => {
  stack = await startStack();
  const get = (path: string, auth = stack.auth.acme) => portalGet(stack.emulator.url, path, auth);
  expected = {
    assignments: await get('/api/product-assignment/list'),
    licenses: await get('/api/license/list'),
    details: await get('/api/license-detail/list'),
    globexLicenses: await get('/api/license/list', stack.auth.globex),
    globexAssignments: await get('/api/product-assignment/list', stack.auth.globex),
  };
});

afterAll(() => stack.close());

beforeEach(async () => {
  await stack.emulator.requestLog.whenIdle();
  stack.emulator.requestLog.clear();
  stack.emulator.faults.clear();
});

/** The routes the emulator served since the last clear, sorted, for call-count assertions. */
function upstreamRoutes(): string[] {
  return stack.emulator.requestLog
    .entries()
    .map((entry) => entry.route ?? `unrouted ${entry.path}`)
    .sort();
}

const today = new Date().toISOString().slice(0, 10);

describe('product assignments', () => {
  test('every assignment of the caller, renamed, with the derived remaining count', async () => {
    const result = await stack.gql(
      `{ productAssignments { id productName productCode totalLicenseCount usedLicenseCount remainingLicenseCount validUntil note createdAt } }`,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.productAssignments).toEqual(
      expected.assignments.map((a) => ({
        id: String(a.id),
        productName: a.product_name,
        productCode: a.product_code,
        totalLicenseCount: a.total_license_count,
        usedLicenseCount: a.used_license_count,
        remainingLicenseCount:
          a.total_license_count === null ? null : Math.max(0, a.total_license_count - a.used_license_count),
        validUntil: a.valid_until,
        note: a.note,
        createdAt: a.created_at,
      })),
    );
    expect(upstreamRoutes()).toEqual(['productAssignment.list']);
  });

  test('the seed has the awkward cases this suite relies on', () => {
    expect(expected.assignments.some((a) => a.total_license_count === null)).toBe(true);
    expect(
      expected.assignments.some((a) => a.total_license_count !== null && a.used_license_count >= a.total_license_count),
    ).toBe(true);
    expect(expected.licenses.some((l) => l.hwid === null)).toBe(true);
    expect(expected.licenses.some((l) => l.expiration_date < today)).toBe(true);
    expect(expected.licenses.some((l) => l.note === null)).toBe(true);
  });

  test('one assignment by id is one show call', async () => {
    const target = expected.assignments[1];
    const result = await stack.gql(`query($id: ID!) { productAssignment(id: $id) { id productName } }`, {
      id: String(target.id),
    });
    expect(result.data!.productAssignment).toEqual({ id: String(target.id), productName: target.product_name });
    expect(upstreamRoutes()).toEqual(['productAssignment.show']);
  });
});

describe('nested queries cost a handful of calls, whatever the list lengths', () => {
  test('assignment → licences → detail → licence, and back to the assignment: two calls', async () => {
    const result = await stack.gql(`{
      productAssignments {
        id
        licenses { totalCount nodes { id hwid detail { id fileName license { id } } productAssignment { id } } }
      }
    }`);
    expect(result.errors).toBeUndefined();
    const assignments = result.data!.productAssignments as any[];
    expect(assignments).toHaveLength(expected.assignments.length);
    for (const assignment of assignments) {
      const own = expected.licenses.filter((l) => String(l.product_assignment_id) === assignment.id);
      expect(assignment.licenses.totalCount).toBe(own.length);
      expect(assignment.licenses.nodes.map((n: any) => n.id)).toEqual(own.map((l) => String(l.id)));
      for (const node of assignment.licenses.nodes) {
        const detail = expected.details.find((d) => String(d.license_id) === node.id);
        expect(node.detail).toEqual({ id: String(detail.id), fileName: detail.file_name, license: { id: node.id } });
        expect(node.productAssignment).toEqual({ id: assignment.id });
      }
    }
    expect(upstreamRoutes()).toEqual(['license.byAssignment.list', 'licenseDetail.list']);
  });

  test('licences with their assignment and detail: three calls', async () => {
    const result = await stack.gql(
      `{ licenses { totalCount nodes { id productAssignment { productName } detail { customer products hwids } } } }`,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.licenses.totalCount).toBe(expected.licenses.length);
    const first = result.data!.licenses.nodes[0];
    const assignment = expected.assignments.find((a) => a.id === expected.licenses[0].product_assignment_id);
    expect(first.productAssignment.productName).toBe(assignment.product_name);
    expect(upstreamRoutes()).toEqual(['license.list', 'licenseDetail.list', 'productAssignment.list']);
  });

  test("a licence's detail and assignment are there however the licence is reached, by graphql-js and compiled alike", async () => {
    // Licences reached one way each, so that each way is shown on its own.
    const [a, b] = [expected.licenses[3], expected.licenses[5]];
    const want = (license: any) => ({
      id: String(license.id),
      detail: { fileName: expected.details.find((d) => d.license_id === license.id).file_name },
      productAssignment: {
        productName: expected.assignments.find((x) => x.id === license.product_assignment_id).product_name,
      },
    });
    const document = `
      fragment Related on License { id detail { fileName } productAssignment { productName } }
      query Reached($withAssignment: Boolean!) {
        byId: license(id: ${a.id}) { ...Related }
        throughEdges: licenses(first: 2) { edges { node { ...Related } } }
        throughDetail: licenseDetail(licenseId: ${b.id}) { license { ...Related } }
        throughAssignment: productAssignment(id: ${a.product_assignment_id}) {
          licenses(first: 1) { nodes { id ... on License @include(if: $withAssignment) { productAssignment { productName } } } }
        }
      }`;
    for (let run = 0; run < 2; run += 1) {
      const result = await stack.gql(document, { withAssignment: run === 0 });
      expect(result.errors).toBeUndefined();
      expect(result.data!.byId).toEqual(want(a));
      expect(result.data!.throughEdges.edges.map((edge: any) => edge.node)).toEqual(
        expected.licenses.slice(0, 2).map(want),
      );
      expect(result.data!.throughDetail.license).toEqual(want(b));
      const own = expected.licenses.find((l) => l.product_assignment_id === a.product_assignment_id);
      expect(result.data!.throughAssignment.licenses.nodes).toEqual([
        run === 0 ? { id: String(own.id), productAssignment: want(own).productAssignment } : { id: String(own.id) },
      ]);
    }
    const constant = `{ licenses(first: 3) { nodes { ...on License { productAssignment { productName } } detail { fileName } } } }`;
    const [first, second] = [await stack.gql(constant), await stack.gql(constant)];
    expect(second).toEqual(first);
    expect(first.data!.licenses.nodes).toEqual(
      expected.licenses.slice(0, 3).map((license) => {
        const { productAssignment, detail } = want(license);
        return { productAssignment, detail };
      }),
    );
  });

  test('a few ids stay show calls: two licences by id are two show calls, made once each', async () => {
    const [a, b] = expected.licenses;
    const result = await stack.gql(
      `{ x: license(id: ${a.id}) { id } y: license(id: ${b.id}) { id } again: license(id: ${a.id}) { hwid } }`,
    );
    expect(result.data).toEqual({ x: { id: String(a.id) }, y: { id: String(b.id) }, again: { hwid: a.hwid } });
    expect(upstreamRoutes()).toEqual(['license.show', 'license.show']);
  });

  test('many ids become one list call', async () => {
    const ids = expected.licenses.slice(0, 6).map((l) => l.id);
    const query = `{ ${ids.map((id, i) => `l${i}: license(id: ${id}) { id }`).join(' ')} }`;
    const result = await stack.gql(query);
    expect(Object.values(result.data!).map((l: any) => l.id)).toEqual(ids.map(String));
    expect(upstreamRoutes()).toEqual(['license.list']);
  });

  test('with the large seed, the nested query over thousands of licences is still two calls', async () => {
    const large = await startStack({ emulator: { seed: 'large' } });
    try {
      const result = await large.gql(
        `{ productAssignments { id licenses { totalCount nodes { id detail { fileName } productAssignment { id } } } } }`,
      );
      expect(result.errors).toBeUndefined();
      const assignments = result.data!.productAssignments as any[];
      const total = assignments.reduce((sum, a) => sum + a.licenses.totalCount, 0);
      expect(assignments.length).toBeGreaterThanOrEqual(20);
      expect(total).toBeGreaterThanOrEqual(1000);
      const routes = large.emulator.requestLog
        .entries()
        .map((entry) => entry.route)
        .sort();
      expect(routes).toEqual(['license.byAssignment.list', 'licenseDetail.list']);
    } finally {
      await large.close();
    }
  });
});

describe('licences: computed fields', () => {
  test('daysUntilExpiry counts whole days from today (UTC) to the expiration date, and costs no call of its own', async () => {
    const withIt = await stack.gql(`{ licenses { nodes { id expirationDate expired daysUntilExpiry } } }`);
    expect(withIt.errors).toBeUndefined();
    const callsWithIt = upstreamRoutes();
    expect(withIt.data!.licenses.nodes).toEqual(
      expected.licenses.map((l) => {
        const days = (Date.parse(l.expiration_date) - Date.parse(today)) / 86_400_000;
        return { id: String(l.id), expirationDate: l.expiration_date, expired: days < 0, daysUntilExpiry: days };
      }),
    );
    expect(withIt.data!.licenses.nodes.some((n: any) => n.daysUntilExpiry < 0)).toBe(true);
    expect(withIt.data!.licenses.nodes.some((n: any) => n.daysUntilExpiry > 0)).toBe(true);

    await stack.emulator.requestLog.whenIdle();
    stack.emulator.requestLog.clear();
    const without = await stack.gql(`{ licenses { nodes { id expirationDate expired } } }`);
    expect(without.errors).toBeUndefined();
    expect(callsWithIt).toEqual(['license.list']);
    expect(upstreamRoutes()).toEqual(callsWithIt);
  });
});

describe('licences: filters, order and pages', () => {
  const ids = (result: any) => result.data.licenses.nodes.map((n: any) => Number(n.id));

  test.each([
    ['universal', `{ universal: true }`, (l: any) => l.hwid === null],
    ['HWID-bound', `{ universal: false }`, (l: any) => l.hwid !== null],
    ['expiring before today', `{ expiresBefore: "${today}" }`, (l: any) => l.expiration_date < today],
    ['expiring after today', `{ expiresAfter: "${today}" }`, (l: any) => l.expiration_date > today],
  ])('%s', async (_name, filter, keep) => {
    const result = await stack.gql(`{ licenses(filter: ${filter}) { totalCount nodes { id } } }`);
    const want = expected.licenses.filter(keep).map((l) => l.id);
    expect(want.length).toBeGreaterThan(0);
    expect(ids(result)).toEqual(want);
    expect(result.data!.licenses.totalCount).toBe(want.length);
  });

  test('search is a case-insensitive substring of hwid or note', async () => {
    const withNote = expected.licenses.find((l) => l.note && l.note.length > 4);
    const needle = withNote.note.slice(1, 4).toUpperCase();
    const result = await stack.gql(`query($s: String) { licenses(filter: { search: $s }) { nodes { id } } }`, {
      s: needle,
    });
    const lower = needle.toLowerCase();
    const want = expected.licenses
      .filter((l) => (l.hwid ?? '').toLowerCase().includes(lower) || (l.note ?? '').toLowerCase().includes(lower))
      .map((l) => l.id);
    expect(ids(result)).toEqual(want);
  });

  test('a filter on one assignment reads only that assignment', async () => {
    const assignment = expected.assignments.find((a) =>
      expected.licenses.some((l) => l.product_assignment_id === a.id),
    );
    const result = await stack.gql(`{ licenses(filter: { productAssignmentId: ${assignment.id} }) { nodes { id } } }`);
    expect(ids(result)).toEqual(
      expected.licenses.filter((l) => l.product_assignment_id === assignment.id).map((l) => l.id),
    );
    expect(upstreamRoutes()).toEqual(['license.byAssignment.show']);
  });

  test("a filter on another customer's assignment matches nothing", async () => {
    const foreign = expected.globexAssignments[0];
    const result = await stack.gql(`{ licenses(filter: { productAssignmentId: ${foreign.id} }) { totalCount } }`);
    expect(result).toMatchObject({ data: { licenses: { totalCount: 0 } } });
    expect(result.errors).toBeUndefined();
  });

  test('ordered by expiration date, descending, ties by id descending', async () => {
    const result = await stack.gql(
      `{ licenses(orderBy: { field: EXPIRATION_DATE, direction: DESC }) { nodes { id } } }`,
    );
    const want = [...expected.licenses]
      .sort((a, b) =>
        a.expiration_date === b.expiration_date ? b.id - a.id : a.expiration_date < b.expiration_date ? 1 : -1,
      )
      .map((l) => l.id);
    expect(ids(result)).toEqual(want);
  });

  test('paging with first and after visits every licence exactly once', async () => {
    const seen: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page += 1) {
      const result: any = await stack.gql(
        `query($after: String) { licenses(first: 7, after: $after, orderBy: { field: CREATED_AT, direction: ASC }) { totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
        { after },
      );
      const connection = result.data.licenses;
      expect(connection.totalCount).toBe(expected.licenses.length);
      expect(connection.pageInfo.hasPreviousPage).toBe(after !== null);
      seen.push(...connection.edges.map((e: any) => Number(e.node.id)));
      if (!connection.pageInfo.hasNextPage) break;
      expect(connection.pageInfo.endCursor).toBe(connection.edges[connection.edges.length - 1].cursor);
      after = connection.pageInfo.endCursor;
    }
    expect([...seen].sort((a, b) => a - b)).toEqual(expected.licenses.map((l) => l.id));
  });

  test.each([
    ['first below 0', `{ licenses(first: -1) { totalCount } }`, 'first'],
    ['first above 1000', `{ licenses(first: 1001) { totalCount } }`, 'first'],
    ['a cursor not of this API', `{ licenses(after: "bm9wZQ") { totalCount } }`, 'after'],
    ['an id that is not a positive integer', `{ license(id: "12abc") { id } }`, 'id'],
    ['a zero id', `{ productAssignment(id: 0) { id } }`, 'id'],
    [
      'a filter id that is not a number',
      `{ licenses(filter: { productAssignmentId: "x" }) { totalCount } }`,
      'productAssignmentId',
    ],
  ])('%s is refused before any upstream call', async (_name, query, field) => {
    const result = await stack.gql(query);
    expect(result.status).toBe(200);
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(upstreamRoutes()).toEqual([]);
  });

  test('a date that is not a calendar day is refused before any upstream call', async () => {
    const literal = await stack.gql(`{ licenses(filter: { expiresBefore: "2027-02-30" }) { totalCount } }`);
    expect(literal.status).toBe(200);
    expect(literal.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'expiresBefore' });
    const variable = await stack.gql(`query($d: Date) { licenses(filter: { expiresAfter: $d }) { totalCount } }`, {
      d: '2027-13-01',
    });
    expect(variable.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'expiresAfter' });
    const notAString = await stack.gql(`query($d: Date) { licenses(filter: { expiresAfter: $d }) { totalCount } }`, {
      d: 20270101,
    });
    expect(notAString.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(upstreamRoutes()).toEqual([]);
  });
});

describe('licence details and files', () => {
  test('licenseDetails pages by the detail id', async () => {
    const result = await stack.gql(
      `{ licenseDetails(first: 3) { totalCount nodes { id license { id } } pageInfo { hasNextPage } } }`,
    );
    const sorted = [...expected.details].sort((a, b) => a.id - b.id);
    expect(result.data!.licenseDetails.totalCount).toBe(sorted.length);
    expect(result.data!.licenseDetails.nodes.map((n: any) => n.id)).toEqual(
      sorted.slice(0, 3).map((d) => String(d.id)),
    );
    expect(result.data!.licenseDetails.pageInfo.hasNextPage).toBe(true);
  });

  test("licenseDetail is looked up by the licence's id and links back to it", async () => {
    const detail = expected.details[2];
    const result = await stack.gql(
      `{ licenseDetail(licenseId: ${detail.license_id}) { id downloadUrl license { id } } }`,
    );
    expect(result.data!.licenseDetail).toEqual({
      id: String(detail.id),
      downloadUrl: `/licenses/${detail.license_id}/file`,
      license: { id: String(detail.license_id) },
    });
    expect(upstreamRoutes()).toEqual(['license.show', 'licenseDetail.show']);
  });

  test('the file is downloaded only when selected, and carries the exact bytes', async () => {
    const licenseId = expected.licenses[0].id;
    await stack.gql(`{ licenseDetail(licenseId: ${licenseId}) { fileName } }`);
    expect(upstreamRoutes()).toEqual(['licenseDetail.show']);
    stack.emulator.requestLog.clear();

    const raw = await fetch(`${stack.emulator.url}/api/license-detail/download/${licenseId}`, {
      headers: { authorization: stack.auth.acme },
    });
    const bytes = Buffer.from(await raw.arrayBuffer());
    stack.emulator.requestLog.clear();
    const result = await stack.gql(
      `{ licenseDetail(licenseId: ${licenseId}) { file { fileName contentType byteLength sha256 text base64 } } }`,
    );
    expect(result.data!.licenseDetail.file).toEqual({
      fileName: 'iengine.lic',
      contentType: raw.headers.get('content-type'),
      byteLength: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      text: bytes.toString('utf8'),
      base64: bytes.toString('base64'),
    });
    expect(JSON.parse(result.data!.licenseDetail.file.text)).toHaveProperty('contract_signature');
    expect(upstreamRoutes()).toEqual(['licenseDetail.download', 'licenseDetail.show']);
  });
});

describe('errors', () => {
  test('no credentials: UNAUTHENTICATED, HTTP 200', async () => {
    const result = await stack.gql(`{ productAssignments { id } }`, undefined, null);
    expect(result.status).toBe(200);
    expect(result.data).toEqual({ productAssignments: null });
    expect(result.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
  });

  test("another customer's record is FORBIDDEN, a missing one NOT_FOUND, and the rest of the data still comes", async () => {
    const foreign = expected.globexLicenses[0];
    const own = expected.licenses[0];
    const result = await stack.gql(
      `{ foreign: license(id: ${foreign.id}) { id } missing: license(id: 987654321) { id } own: license(id: ${own.id}) { id } }`,
    );
    expect(result.data).toEqual({ foreign: null, missing: null, own: { id: String(own.id) } });
    const codes = Object.fromEntries(result.errors!.map((e) => [e.path![0], e.extensions!.code]));
    expect(codes).toEqual({ foreign: 'FORBIDDEN', missing: 'NOT_FOUND' });
  });

  test('a failing nested field is null beside its error; its siblings keep their data', async () => {
    stack.emulator.faults.add({
      route: 'licenseDetail.list',
      kind: 'status',
      status: 503,
      body: 'Service Unavailable',
    });
    // The first run of a document is graphql-js's, the second the compiled one's: both report it alike.
    const answers = [];
    for (let run = 0; run < 2; run += 1) {
      const result = await stack.gql(`{ licenses(first: 5) { nodes { id hwid detail { fileName } } } }`);
      const nodes = result.data!.licenses.nodes;
      expect(nodes).toHaveLength(5);
      for (const node of nodes) {
        expect(node.detail).toBeNull();
        expect(node.id).toEqual(expect.any(String));
      }
      expect(new Set(result.errors!.map((e) => e.extensions!.code))).toEqual(new Set(['UPSTREAM_UNAVAILABLE']));
      answers.push(result);
    }
    expect(answers[1]!.errors!.map((e) => e.path)).toEqual(answers[0]!.errors!.map((e) => e.path));
    expect(answers[0]!.errors!.map((e) => e.path)).toContainEqual(['licenses', 'nodes', 0, 'detail']);
  });

  test('a 2xx body that does not fit the contract is UPSTREAM_INVALID_RESPONSE', async () => {
    stack.emulator.faults.add({ route: 'productAssignment.list', kind: 'wrongShape' });
    const result = await stack.gql(`{ productAssignments { id } }`);
    expect(result.data).toEqual({ productAssignments: null });
    expect(result.errors![0]!.extensions!.code).toBe('UPSTREAM_INVALID_RESPONSE');
  });

  test('malformed JSON is UPSTREAM_INVALID_RESPONSE', async () => {
    stack.emulator.faults.add({ route: 'license.list', kind: 'malformedJson' });
    const result = await stack.gql(`{ licenses { totalCount } }`);
    expect(result.errors![0]!.extensions!.code).toBe('UPSTREAM_INVALID_RESPONSE');
  });

  test('a reset connection is UPSTREAM_UNAVAILABLE', async () => {
    stack.emulator.faults.add({ route: 'license.show', kind: 'reset' });
    const result = await stack.gql(`{ license(id: ${expected.licenses[0].id}) { id } }`);
    expect(result.errors![0]!.extensions!.code).toBe('UPSTREAM_UNAVAILABLE');
  });

  test('no error message carries the portal HTML or a stack trace', async () => {
    const result = await stack.gql(`{ a: license(id: 987654321) { id } b: productAssignment(id: 987654321) { id } }`);
    for (const error of result.errors!) {
      expect(error.message).not.toMatch(/<|stack|at .*\.ts/);
      expect(error.extensions).not.toHaveProperty('stacktrace');
    }
  });
});

describe('each caller sees only its own data', () => {
  test('two customers get their own lists from the same server', async () => {
    const [acme, globex] = await Promise.all([
      stack.gql(`{ licenses { nodes { id } } }`, undefined, stack.auth.acme),
      stack.gql(`{ licenses { nodes { id } } }`, undefined, stack.auth.globex),
    ]);
    expect(acme.data!.licenses.nodes.map((n: any) => Number(n.id))).toEqual(expected.licenses.map((l) => l.id));
    expect(globex.data!.licenses.nodes.map((n: any) => Number(n.id))).toEqual(expected.globexLicenses.map((l) => l.id));
  });

  test('the caller’s Authorization header reaches the portal unchanged', async () => {
    await stack.gql(`{ productAssignments { id } }`, undefined, stack.auth.globex);
    expect(stack.emulator.requestLog.entries().map((entry) => entry.username)).toEqual(['globex']);
  });
});

describe('slow portal', () => {
  test('a portal slower than the headers timeout is UPSTREAM_TIMEOUT', async () => {
    const quick = await startStack({ env: { PORTAL_HEADERS_TIMEOUT_MS: '150' } });
    try {
      quick.emulator.faults.add({ route: 'productAssignment.list', kind: 'slowHeaders', ms: 1000 });
      const result = await quick.gql(`{ productAssignments { id } licenses(first: 1) { totalCount } }`);
      expect(result.data!.productAssignments).toBeNull();
      expect(result.data!.licenses.totalCount).toBeGreaterThan(0);
      expect(result.errors![0]!.extensions!.code).toBe('UPSTREAM_TIMEOUT');
    } finally {
      await quick.close();
    }
  });
});
