/**
 * The portal emulator as a client sees it: started in-process on port 0 and spoken to over real sockets.
 * These tests pin the contract of docs/portal-contract.md (shapes, ids, every error byte for byte with its content type),
 * generate's side effects, each fault switch, latency, the request log, and the generated seeds.
 */
import { connect } from 'node:net';
import { Agent, request } from 'undici';
import { loadConfig } from '../../src/config';
import {
  startEmulator,
  type Emulator,
  type License,
  type LicenseDetail,
  type ProductAssignment,
  type RequestLogEntry,
} from '../../src/emulator';

const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json';
const WERKZEUG_404 =
  '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n' +
  '<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n';
const WERKZEUG_405 =
  '<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n' +
  '<p>The method is not allowed for the requested URL.</p>\n';
const BAD_HWID = 'Please provide valid hardware ID';
const BAD_DATE = "Please provide valid expiration_date format: '%Y-%m-%d'";
const DOWNLOAD_FORBIDDEN = "You cannot download licenses you don't have!";

let emulator: Emulator;
const dispatcher = new Agent({ keepAliveTimeout: 2_000 });

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
});

afterAll(async () => {
  await emulator.close();
  await dispatcher.close();
});

beforeEach(() => emulator.reset());

// ---------------------------------------------------------------------------------------------------------
// Small clients, kept here because no other test needs them
// ---------------------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: Record<string, string>;
  text: string;
  bytes: Buffer;
}

/** GET (or another method) as the `demo` account unless `auth` says otherwise; `auth: null` sends no header. */
async function call(
  path: string,
  options: { auth?: string | null; method?: string; on?: Emulator } = {},
): Promise<Reply> {
  const target = options.on ?? emulator;
  const auth = options.auth === undefined ? target.account('demo').authorization : options.auth;
  const response = await request(`${target.url}${path}`, {
    method: options.method ?? 'GET',
    headers: auth === null ? {} : { authorization: auth },
    dispatcher,
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers))
    headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  return { status: response.statusCode, headers, text: bytes.toString('utf8'), bytes };
}

async function getJson<T>(path: string, auth?: string): Promise<T> {
  const reply = await call(path, { auth });
  expect({ path, status: reply.status, type: reply.headers['content-type'] }).toEqual({
    path,
    status: 200,
    type: JSON_TYPE,
  });
  return JSON.parse(reply.text) as T;
}

/** Sends raw bytes on a fresh socket and reads until the server closes it: for targets and headers no client would send. */
function rawExchange(head: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(emulator.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.write(head);
  });
}

function rawGet(target: string, extraHeaders = ''): Promise<string> {
  return rawExchange(`GET ${target} HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n${extraHeaders}\r\n`);
}

function basic(userAndPassword: string): string {
  return `Basic ${Buffer.from(userAndPassword, 'utf8').toString('base64')}`;
}

function daysFrom(date: string, days: number): string {
  const at = new Date(`${date}T00:00:00Z`);
  at.setUTCDate(at.getUTCDate() + days);
  return at.toISOString().slice(0, 10);
}

function generatePath(assignmentId: number, params: Record<string, string>): string {
  return `/api/license/generate/${assignmentId}?${new URLSearchParams(params).toString()}`;
}

function ids(records: Array<{ id: number }>): number[] {
  return records.map((record) => record.id);
}

function ascending(numbers: number[]): number[] {
  return [...numbers].sort((a, b) => a - b);
}

const landmarks = () => emulator.state.landmarks();
const today = () => emulator.state.today();

// ---------------------------------------------------------------------------------------------------------

describe('reads: every endpoint answers only the caller’s records, in ascending id order', () => {
  test('/api/product-assignment/list', async () => {
    const assignments = await getJson<ProductAssignment[]>('/api/product-assignment/list');
    expect(assignments).toEqual(emulator.state.assignmentsOf('demo'));
    expect(ids(assignments)).toEqual(ascending(ids(assignments)));
    expect(ids(assignments)).toEqual([1, 2, 4, 5, 7, 8]);
    expect(Object.keys(assignments[0]!).sort()).toEqual([
      'created_at',
      'id',
      'note',
      'product_code',
      'product_name',
      'total_license_count',
      'used_license_count',
      'valid_until',
    ]);
  });

  test('/api/license/list', async () => {
    const licenses = await getJson<License[]>('/api/license/list');
    const own = new Set(ids(emulator.state.assignmentsOf('demo')));
    expect(licenses).toEqual(emulator.state.licensesOf('demo'));
    expect(ids(licenses)).toEqual(ascending(ids(licenses)));
    expect(licenses.every((license) => own.has(license.product_assignment_id))).toBe(true);
    expect(licenses.length).toBeGreaterThanOrEqual(25);
    expect(Object.keys(licenses[0]!).sort()).toEqual([
      'created_at',
      'expiration_date',
      'hwid',
      'id',
      'note',
      'product_assignment_id',
    ]);
  });

  test('/api/license-detail/list: one detail per licence, each with an id of its own', async () => {
    const details = await getJson<LicenseDetail[]>('/api/license-detail/list');
    const licenses = emulator.state.licensesOf('demo');
    expect(details).toEqual(emulator.state.detailsOf('demo'));
    expect(ids(details)).toEqual(ascending(ids(details)));
    expect(details.map((detail) => detail.license_id).sort()).toEqual(ids(licenses).sort());
    const licenseIds = new Set(ids(licenses));
    expect(details.filter((detail) => licenseIds.has(detail.id))).toEqual([]);
    for (const detail of details) {
      const license = licenses.find((l) => l.id === detail.license_id)!;
      expect(detail).toMatchObject({
        file_name: 'iengine.lic',
        customer: 'Acme Security s.r.o.',
        hwids: license.hwid === null ? [] : [license.hwid],
        expiration_date: license.expiration_date,
        created_at: license.created_at,
      });
    }
  });

  test('show endpoints answer one record; license-detail/show and download take the licence id', async () => {
    const { hwidBoundLicenseId: licenseId } = landmarks();
    const license = emulator.state.license(licenseId)!;
    expect(await getJson(`/api/license/show/${licenseId}`)).toEqual(license.license);
    expect(await getJson(`/api/license-detail/show/${licenseId}`)).toEqual(license.detail);
    expect(await getJson(`/api/product-assignment/show/${license.license.product_assignment_id}`)).toEqual(
      emulator.state.assignment(license.license.product_assignment_id)!.assignment,
    );
  });

  test('/api/license/product-assignment/list: one entry per assignment, the empty one included', async () => {
    const grouped = await getJson<Array<{ product_assignment: ProductAssignment; licenses: License[] }>>(
      '/api/license/product-assignment/list',
    );
    expect(grouped).toEqual(emulator.state.licensesByAssignmentOf('demo'));
    expect(grouped.map((entry) => entry.product_assignment)).toEqual(emulator.state.assignmentsOf('demo'));
    expect(grouped.find((entry) => entry.product_assignment.id === landmarks().emptyAssignmentId)!.licenses).toEqual(
      [],
    );
    for (const entry of grouped) {
      expect(entry.licenses.length).toBe(entry.product_assignment.used_license_count);
      expect(entry.licenses.every((license) => license.product_assignment_id === entry.product_assignment.id)).toBe(
        true,
      );
      expect(ids(entry.licenses)).toEqual(ascending(ids(entry.licenses)));
    }
  });

  test('/api/license/product-assignment/<id>: the licences of that assignment', async () => {
    const licenses = await getJson<License[]>('/api/license/product-assignment/1');
    expect(licenses).toEqual(
      emulator.state.licensesOf('demo').filter((license) => license.product_assignment_id === 1),
    );
    expect(await getJson(`/api/license/product-assignment/${landmarks().emptyAssignmentId}`)).toEqual([]);
  });

  test('download: the licence file bytes, as JSON with a signature, hwids [] for a universal licence', async () => {
    for (const licenseId of [landmarks().hwidBoundLicenseId, landmarks().universalLicenseId]) {
      const reply = await call(`/api/license-detail/download/${licenseId}`);
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe(JSON_TYPE);
      expect(reply.headers['content-disposition']).toBe('attachment; filename="iengine.lic"');
      expect(reply.bytes.equals(emulator.state.licenseFile(licenseId)!)).toBe(true);
      const { license, detail } = emulator.state.license(licenseId)!;
      const [year, month, day] = license.expiration_date.split('-').map(Number);
      const file = JSON.parse(reply.text);
      expect(Object.keys(file)).toEqual(['version', 'contract', 'contract_signature']);
      expect(file.version).toBe('2.1');
      expect(file.contract).toEqual({
        customer: detail.customer,
        expiration: { day, month, year },
        hwids: detail.hwids,
        products: detail.products,
      });
      expect(file.contract_signature).toMatch(/^[A-Za-z0-9+/]{171}=$/);
    }
    const universal = JSON.parse((await call(`/api/license-detail/download/${landmarks().universalLicenseId}`)).text);
    expect(universal.contract.hwids).toEqual([]);
  });

  test('JSON is written as Flask writes it: sorted keys, compact, \\u-escaped non-ASCII, trailing newline', async () => {
    const licenseId = landmarks().nonAsciiNoteLicenseId;
    const reply = await call(`/api/license/show/${licenseId}`);
    const license = emulator.state.license(licenseId)!.license;
    expect(license.note).toMatch(/[^\u0000-\u007f]/);
    expect(reply.bytes.every((byte) => byte < 0x80)).toBe(true);
    expect(reply.text.endsWith('}\n')).toBe(true);
    expect(reply.text).toContain(
      '"note":"' +
        license.note!.replace(/[^\u0000-\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    );
    expect(reply.text.indexOf('"created_at"')).toBeLessThan(reply.text.indexOf('"id"'));
    expect(JSON.parse(reply.text)).toEqual(license);
  });

  test('another login of the same customer sees the same records; Globex sees only its own', async () => {
    const ops = emulator.account('acme-ops').authorization;
    expect(await getJson('/api/license/list', ops)).toEqual(await getJson('/api/license/list'));
    const globex = emulator.account('globex').authorization;
    const globexLicenses = await getJson<License[]>('/api/license/list', globex);
    expect(globexLicenses).toEqual(emulator.state.licensesOf('globex'));
    const acmeIds = new Set(ids(emulator.state.licensesOf('demo')));
    expect(globexLicenses.some((license) => acmeIds.has(license.id))).toBe(false);
    expect(await getJson('/api/product-assignment/list', globex)).toEqual(emulator.state.assignmentsOf('globex'));
  });
});

describe('the demo seed holds every case the contract names', () => {
  test('notable ids', () => {
    expect(landmarks()).toEqual({
      unlimitedAssignmentId: 2,
      exhaustedAssignmentId: 4,
      emptyAssignmentId: 7,
      noValidUntilAssignmentId: 4,
      soonValidUntilAssignmentId: 5,
      generatableAssignmentId: 1,
      universalLicenseId: 1003,
      hwidBoundLicenseId: 1001,
      expiredLicenseId: 1001,
      soonExpiringLicenseId: 1008,
      nonAsciiNoteLicenseId: 1005,
      nullNoteLicenseId: 1006,
      otherCustomerAssignmentId: 3,
      otherCustomerLicenseId: 1004,
    });
  });

  test('used counts match the licences, and owners interleave', () => {
    for (const { assignment } of emulator.state.allAssignments()) {
      expect({ id: assignment.id, used: assignment.used_license_count }).toEqual({
        id: assignment.id,
        used: emulator.state.allLicenses().filter((l) => l.license.product_assignment_id === assignment.id).length,
      });
    }
    const acme = ids(emulator.state.licensesOf('demo'));
    const globex = ids(emulator.state.licensesOf('globex'));
    expect(globex.some((id) => id > Math.min(...acme) && id < Math.max(...acme))).toBe(true);
    expect(emulator.state.assignmentsOf('globex').length).toBe(3);
    expect(globex.length).toBeGreaterThanOrEqual(8);
  });

  test('realistic values: hwids with / and +, universal ones, null notes, expired and soon-expiring licences', () => {
    const licenses = emulator.state.licensesOf('demo');
    const hwids = licenses.map((l) => l.hwid).filter((hwid): hwid is string => hwid !== null);
    expect(hwids).toEqual(expect.arrayContaining(['Apsh8svsn3/3xyID', 'IM0000ffc535fc60']));
    expect(hwids.some((hwid) => hwid.includes('+'))).toBe(true);
    expect(licenses.some((l) => l.note === 'Vstupná kamera 2')).toBe(true);
    expect(licenses.filter((l) => l.expiration_date < today()).length).toBeGreaterThanOrEqual(3);
    expect(
      licenses.filter((l) => l.expiration_date >= today() && l.expiration_date <= daysFrom(today(), 30)).length,
    ).toBeGreaterThanOrEqual(3);
    const assignments = emulator.state.assignmentsOf('demo');
    expect(new Set(assignments.map((a) => a.product_code)).size).toBeGreaterThanOrEqual(4);
    expect(assignments.some((a) => a.note === null)).toBe(true);
    for (const { license, detail } of emulator.state.allLicenses()) {
      expect(license.expiration_date >= license.created_at.slice(0, 10)).toBe(true);
      const validUntil = emulator.state.assignment(license.product_assignment_id)!.assignment.valid_until;
      if (validUntil !== null) expect(license.expiration_date <= validUntil).toBe(true);
      expect(detail.id).not.toBe(license.id);
    }
  });

  test('seeding is deterministic, and the seed number varies the generated parts', async () => {
    const options = { today: '2026-05-02' } as const;
    const [a, b, c] = await Promise.all([
      startEmulator({ ...options, seedNumber: 7 }),
      startEmulator({ ...options, seedNumber: 7 }),
      startEmulator({ ...options, seedNumber: 8 }),
    ]);
    try {
      expect(a.state.allLicenses()).toEqual(b.state.allLicenses());
      expect(a.state.allAssignments()).toEqual(b.state.allAssignments());
      expect(a.state.licenseFile(1001)!.equals(b.state.licenseFile(1001)!)).toBe(true);
      expect(a.state.allLicenses().map((l) => l.license.hwid)).not.toEqual(
        c.state.allLicenses().map((l) => l.license.hwid),
      );
      expect(a.state.landmarks()).toEqual(c.state.landmarks());
      expect(a.state.license(1001)!.license.expiration_date).toBe('2025-10-14');
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

describe('errors, byte for byte with their content type', () => {
  const wrongPassword = basic('demo:wrong');
  const cases: Array<[string, string, string | null | (() => string), number, string]> = [
    ['no Authorization', '/api/license/list', null, 401, 'Unauthorized'],
    ['wrong password', '/api/license/list', wrongPassword, 401, 'Unauthorized'],
    ['unknown user', '/api/product-assignment/list', basic('nobody:nobody'), 401, 'Unauthorized'],
    ['another scheme', '/api/license/list', 'Bearer abc.def', 401, 'Unauthorized'],
    ['not base64', '/api/license/list', 'Basic !!!not-base64!!!', 401, 'Unauthorized'],
    ['base64 without a colon', '/api/license/list', basic('demo'), 401, 'Unauthorized'],
    ['a scheme alone', '/api/license/list', 'Basic', 401, 'Unauthorized'],
    ['401 comes before 404', '/api/license/show/999999', null, 401, 'Unauthorized'],
    [
      '401 comes before 403',
      '/api/license/generate/3?hwid=x&expiration_date=2030-01-01',
      wrongPassword,
      401,
      'Unauthorized',
    ],
    ['missing licence', '/api/license/show/999999', undefined as never, 404, 'Not Found'],
    ['missing licence detail', '/api/license-detail/show/999999', undefined as never, 404, 'Not Found'],
    ['missing assignment', '/api/product-assignment/show/999', undefined as never, 404, 'Not Found'],
    ['missing assignment’s licences', '/api/license/product-assignment/999', undefined as never, 404, 'Not Found'],
    [
      'generate on a missing assignment',
      '/api/license/generate/999?hwid=x&expiration_date=2030-01-01',
      undefined as never,
      404,
      'Not Found',
    ],
    ['id 0', '/api/license/show/0', undefined as never, 404, 'Not Found'],
    ['an id beyond any integer', `/api/license/show/${'9'.repeat(40)}`, undefined as never, 404, 'Not Found'],
    ["Globex's licence", '/api/license/show/1004', undefined as never, 403, 'Forbidden'],
    ["Globex's licence detail", '/api/license-detail/show/1004', undefined as never, 403, 'Forbidden'],
    ["Globex's assignment", '/api/product-assignment/show/3', undefined as never, 403, 'Forbidden'],
    ["Globex's assignment’s licences", '/api/license/product-assignment/3', undefined as never, 403, 'Forbidden'],
    [
      "generate on Globex's assignment",
      '/api/license/generate/3?hwid=x&expiration_date=2030-01-01',
      undefined as never,
      403,
      'Forbidden',
    ],
    ['403 comes before invalid input', '/api/license/generate/3', undefined as never, 403, 'Forbidden'],
    ["download of Globex's licence", '/api/license-detail/download/1004', undefined as never, 403, DOWNLOAD_FORBIDDEN],
    [
      'download of a licence that does not exist',
      '/api/license-detail/download/999999',
      undefined as never,
      403,
      DOWNLOAD_FORBIDDEN,
    ],
    ['Acme seen as Globex', '/api/license/show/1001', () => emulator.account('globex').authorization, 403, 'Forbidden'],
  ];

  test.each(cases)('%s: %s', async (_name, path, auth, status, body) => {
    const reply = await call(path, { auth: typeof auth === 'function' ? auth() : auth });
    expect({ status: reply.status, type: reply.headers['content-type'], body: reply.text }).toEqual({
      status,
      type: HTML,
      body,
    });
    expect(reply.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(reply.headers['www-authenticate']).toBeUndefined();
  });
});

describe('generate refuses bad input with the portal’s 403s and 400s, and creates nothing', () => {
  const hwidCases: Array<[string, string]> = [
    ['hwid missing', 'expiration_date=2030-01-01'],
    ['hwid empty', 'hwid=&expiration_date=2030-01-01'],
    ['hwid of 129 characters', `hwid=${'A'.repeat(129)}&expiration_date=2030-01-01`],
    ['hwid with a space', 'hwid=IM0000%20ff&expiration_date=2030-01-01'],
    ['hwid with a raw + (a space once decoded)', 'hwid=ab+cd&expiration_date=2030-01-01'],
    ['hwid with a tab', 'hwid=ab%09cd&expiration_date=2030-01-01'],
    ['hwid with a control character', 'hwid=ab%00cd&expiration_date=2030-01-01'],
    ['hwid and date both bad: the hwid is checked first', 'hwid=&expiration_date=soon'],
  ];
  const dateCases: Array<[string, string]> = [
    ['date missing', 'hwid=IM0000ffc535fc60'],
    ['date empty', 'hwid=IM0000ffc535fc60&expiration_date='],
    ['date without leading zeros', 'hwid=IM0000ffc535fc60&expiration_date=2030-2-3'],
    ['a day that does not exist', 'hwid=IM0000ffc535fc60&expiration_date=2030-02-30'],
    ['a date with a time', 'hwid=IM0000ffc535fc60&expiration_date=2030-02-03T00:00:00'],
    ['a day-first date', 'hwid=IM0000ffc535fc60&expiration_date=03.02.2030'],
  ];

  test.each([...hwidCases.map(([n, q]) => [n, q, BAD_HWID]), ...dateCases.map(([n, q]) => [n, q, BAD_DATE])])(
    '%s',
    async (_name, query, message) => {
      const before = emulator.state.counts().licenses;
      const reply = await call(`/api/license/generate/1?${query}`);
      expect({ status: reply.status, type: reply.headers['content-type'], body: reply.text }).toEqual({
        status: 403,
        type: HTML,
        body: message,
      });
      expect(emulator.state.counts().licenses).toBe(before);
    },
  );

  test('no licence left: 400 naming the assignment', async () => {
    const { exhaustedAssignmentId } = landmarks();
    const reply = await call(
      generatePath(exhaustedAssignmentId, { hwid: 'IM0000ffc535fc60', expiration_date: daysFrom(today(), 10) }),
    );
    expect({ status: reply.status, type: reply.headers['content-type'], body: reply.text }).toEqual({
      status: 400,
      type: HTML,
      body: `Bad Request: No licenses left on product assignment ${exhaustedAssignmentId}`,
    });
  });

  test('an invalid hwid on an exhausted assignment is still the 403', async () => {
    const reply = await call(
      generatePath(landmarks().exhaustedAssignmentId, { hwid: '', expiration_date: daysFrom(today(), 10) }),
    );
    expect([reply.status, reply.text]).toEqual([403, BAD_HWID]);
  });

  test('an expiration in the past: 400', async () => {
    const yesterday = daysFrom(today(), -1);
    const reply = await call(generatePath(1, { hwid: 'IM0000ffc535fc60', expiration_date: yesterday }));
    expect([reply.status, reply.headers['content-type'], reply.text]).toEqual([
      400,
      HTML,
      `Bad Request: Expiration date ${yesterday} is in the past`,
    ]);
  });

  test('an expiration after valid_until: 400; on valid_until and on today: accepted', async () => {
    const { soonValidUntilAssignmentId: id } = landmarks();
    const validUntil = emulator.state.assignment(id)!.assignment.valid_until!;
    const after = daysFrom(validUntil, 1);
    const refused = await call(generatePath(id, { hwid: 'IM0000ffc535fc60', expiration_date: after }));
    expect([refused.status, refused.text]).toEqual([
      400,
      `Bad Request: Expiration date ${after} is after the product assignment's validity ${validUntil}`,
    ]);
    expect((await call(generatePath(id, { hwid: 'IM0000ffc535fc60', expiration_date: validUntil }))).status).toBe(200);
    expect((await call(generatePath(id, { hwid: 'IM0000ffc535fc60', expiration_date: today() }))).status).toBe(200);
  });

  test('a hwid of exactly 128 characters is accepted', async () => {
    const reply = await call(generatePath(1, { hwid: 'A'.repeat(128), expiration_date: daysFrom(today(), 30) }));
    expect(reply.status).toBe(200);
  });
});

describe('generate: a GET with side effects, visible everywhere right after', () => {
  test('creates a licence and its detail, uses one licence of the assignment, and answers the licence', async () => {
    const assignmentId = landmarks().generatableAssignmentId;
    const before = emulator.state.assignment(assignmentId)!.assignment;
    const maxLicenseId = Math.max(...emulator.state.allLicenses().map((l) => l.license.id));
    const maxDetailId = Math.max(...emulator.state.allLicenses().map((l) => l.detail.id));
    const expiration = daysFrom(today(), 90);
    // Read once before: a list is encoded once per state of the store, and the generate must make it anew.
    const lists = ['license/list', 'license-detail/list', 'product-assignment/list', 'license/product-assignment/list'];
    for (const list of lists) expect((await call(`/api/${list}`)).status).toBe(200);

    const reply = await call(
      generatePath(assignmentId, { hwid: 'Zx9+/Ab0Qm2pL0aZ', expiration_date: expiration, note: 'Vstupná kamera 9' }),
    );
    expect([reply.status, reply.headers['content-type']]).toEqual([200, JSON_TYPE]);
    const created = JSON.parse(reply.text) as License;
    expect(created).toEqual({
      id: maxLicenseId + 1,
      product_assignment_id: assignmentId,
      hwid: 'Zx9+/Ab0Qm2pL0aZ',
      expiration_date: expiration,
      note: 'Vstupná kamera 9',
      created_at: expect.stringMatching(new RegExp(`^${today()}T\\d{2}:\\d{2}:\\d{2}Z$`)),
    });

    expect(await getJson<License[]>('/api/license/list')).toContainEqual(created);
    expect(await getJson(`/api/license/show/${created.id}`)).toEqual(created);
    const detail = await getJson<LicenseDetail>(`/api/license-detail/show/${created.id}`);
    expect(detail).toEqual({
      id: maxDetailId + 1,
      license_id: created.id,
      file_name: 'iengine.lic',
      customer: 'Acme Security s.r.o.',
      products: [before.product_code],
      hwids: ['Zx9+/Ab0Qm2pL0aZ'],
      expiration_date: expiration,
      created_at: created.created_at,
    });
    expect(await getJson<LicenseDetail[]>('/api/license-detail/list')).toContainEqual(detail);
    const after = await getJson<ProductAssignment>(`/api/product-assignment/show/${assignmentId}`);
    expect(after.used_license_count).toBe(before.used_license_count + 1);
    expect(await getJson<ProductAssignment[]>('/api/product-assignment/list')).toContainEqual(after);
    expect(await getJson<License[]>(`/api/license/product-assignment/${assignmentId}`)).toContainEqual(created);
    const grouped = await getJson<Array<{ product_assignment: ProductAssignment; licenses: License[] }>>(
      '/api/license/product-assignment/list',
    );
    const entry = grouped.find((g) => g.product_assignment.id === assignmentId)!;
    expect(entry.product_assignment).toEqual(after);
    expect(entry.licenses.at(-1)).toEqual(created);
    const file = JSON.parse((await call(`/api/license-detail/download/${created.id}`)).text);
    expect(file.contract.hwids).toEqual(['Zx9+/Ab0Qm2pL0aZ']);
    expect(file.contract.expiration).toEqual({
      year: Number(expiration.slice(0, 4)),
      month: Number(expiration.slice(5, 7)),
      day: Number(expiration.slice(8)),
    });
    // Globex sees none of it.
    expect(
      (await call(`/api/license/show/${created.id}`, { auth: emulator.account('globex').authorization })).status,
    ).toBe(403);
  });

  test('no note, or an empty one, is null', async () => {
    const a = JSON.parse(
      (await call(generatePath(1, { hwid: 'IM0000ffc535fc60', expiration_date: daysFrom(today(), 5) }))).text,
    );
    const b = JSON.parse(
      (await call(generatePath(1, { hwid: 'IM0000ffc535fc60', expiration_date: daysFrom(today(), 5), note: '' }))).text,
    );
    expect([a.note, b.note]).toEqual([null, null]);
  });

  test('two identical calls create two licences', async () => {
    const path = generatePath(1, { hwid: 'IM0000ffc535fc60', expiration_date: daysFrom(today(), 60), note: 'twice' });
    const first = JSON.parse((await call(path)).text) as License;
    const second = JSON.parse((await call(path)).text) as License;
    expect(second.id).toBe(first.id + 1);
    expect(emulator.state.licensesOf('demo').filter((l) => l.note === 'twice')).toHaveLength(2);
    expect(emulator.state.assignment(1)!.assignment.used_license_count).toBe(
      emulator.state.assignment(1)!.licenses.length,
    );
  });

  test('an assignment fills up, then answers 400', async () => {
    const { emptyAssignmentId: id } = landmarks();
    const total = emulator.state.assignment(id)!.assignment.total_license_count!;
    for (let i = 0; i < total; i += 1) {
      expect(
        (await call(generatePath(id, { hwid: `IM00000000000${i}`, expiration_date: daysFrom(today(), 30) }))).status,
      ).toBe(200);
    }
    const full = await call(generatePath(id, { hwid: 'IM0000000000ff', expiration_date: daysFrom(today(), 30) }));
    expect([full.status, full.text]).toEqual([400, `Bad Request: No licenses left on product assignment ${id}`]);
    expect(emulator.state.assignment(id)!.assignment.used_license_count).toBe(total);
  });

  test('an unlimited assignment never runs out', async () => {
    const { unlimitedAssignmentId: id } = landmarks();
    const validUntil = emulator.state.assignment(id)!.assignment.valid_until;
    const reply = await call(
      generatePath(id, { hwid: 'IM0000ffc535fc60', expiration_date: validUntil ?? daysFrom(today(), 30) }),
    );
    expect(reply.status).toBe(200);
  });

  test('HEAD runs the view as Flask does (so it generates too) and answers no body; OPTIONS answers the allowed methods', async () => {
    const before = emulator.state.counts().licenses;
    const head = await call(generatePath(1, { hwid: 'IM0000ffc535fc60', expiration_date: daysFrom(today(), 5) }), {
      method: 'HEAD',
    });
    expect([head.status, head.bytes.length, head.headers['content-type']]).toEqual([200, 0, JSON_TYPE]);
    expect(emulator.state.counts().licenses).toBe(before + 1);
    const options = await call('/api/license/list', { method: 'OPTIONS', auth: null });
    expect([options.status, options.headers.allow, options.text]).toEqual([200, 'GET, HEAD, OPTIONS', '']);
  });
});

describe("Flask's router: Werkzeug's HTML pages, before any credentials are read", () => {
  test.each([
    '/api/license/show/abc',
    '/api/license/show/-1',
    '/api/license/show/1.5',
    '/api/license/show/',
    '/api/license/list/',
    '/api/licenses',
    '/',
    '/api/license/generate/abc?hwid=x&expiration_date=2030-01-01',
  ])('%s: 404 page', async (path) => {
    for (const auth of [undefined, null]) {
      const reply = await call(path, { auth });
      expect({ status: reply.status, type: reply.headers['content-type'], body: reply.text }).toEqual({
        status: 404,
        type: HTML,
        body: WERKZEUG_404,
      });
    }
  });

  test('another method on a known path: the 405 page with Allow; on an unknown path: 404', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const reply = await call('/api/license/generate/1?hwid=x&expiration_date=2030-01-01', { method });
      expect({
        status: reply.status,
        type: reply.headers['content-type'],
        allow: reply.headers.allow,
        body: reply.text,
      }).toEqual({
        status: 405,
        type: HTML,
        allow: 'GET, HEAD, OPTIONS',
        body: WERKZEUG_405,
      });
    }
    expect((await call('/api/nowhere', { method: 'POST' })).text).toBe(WERKZEUG_404);
    expect(emulator.state.counts().licenses).toBe(41);
  });

  test('the path is percent-decoded before routing, as WSGI does', async () => {
    expect(JSON.parse((await call('/api/license/show/%31%30%30%31')).text).id).toBe(1001);
    expect(JSON.parse((await call('/api/license/show/0001001')).text).id).toBe(1001);
  });
});

describe('never crashes, whatever arrives', () => {
  test('bad percent-encoding, huge paths, odd targets', async () => {
    for (const target of [
      '/api/license/show/%',
      '/api/license/show/%zz',
      '/api/%E0%A4%A',
      '/%00',
      `/api/${'x'.repeat(8000)}`,
      '*',
    ]) {
      const answer = await rawGet(target);
      expect(answer).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
      expect(answer).toContain('<title>404 Not Found</title>');
    }
    // Past Node's header limit the parser itself refuses, and the server lives on.
    expect(await rawGet(`/api/${'x'.repeat(20_000)}`)).toMatch(/^HTTP\/1\.1 431/);
    expect((await call('/api/license/list')).status).toBe(200);
  });

  test('an absolute-form target is routed by its path', async () => {
    const answer = await rawGet(
      `http://portal.example/api/license/show/1001`,
      `Authorization: ${emulator.account('demo').authorization}\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
  });

  test('garbage Authorization headers are 401, never a crash', async () => {
    const headers = [
      'Authorization: \r\n',
      'Authorization: Basic\r\n',
      'Authorization: Basic =\r\n',
      'Authorization: Basic Og==\r\n',
      'Authorization: Basic /w==\r\n',
      'Authorization: basic\tZGVtbzp3cm9uZw==\r\n',
      'Authorization: Basic ZGVtbzpkZW1v ZGVtbzpkZW1v\r\n',
      `Authorization: Basic ${'A'.repeat(4000)}\r\n`,
    ];
    for (const header of headers) {
      const answer = await rawGet('/api/license/list', header);
      expect(answer).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
      expect(answer.endsWith('\r\n\r\nUnauthorized')).toBe(true);
    }
    const latin1 = await rawExchange(
      Buffer.concat([
        Buffer.from('GET /api/license/list HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic '),
        Buffer.from([0xff, 0xfe, 0x80]),
        Buffer.from('\r\n\r\n'),
      ]),
    );
    expect(latin1).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    // Scheme in any case, as Werkzeug reads it.
    expect(
      await rawGet('/api/license/list', `Authorization: bAsIc ${emulator.account('demo').authorization.slice(6)}\r\n`),
    ).toMatch(/^HTTP\/1\.1 200/);
    expect((await call('/api/license/list')).status).toBe(200);
  });
});

describe('faults', () => {
  const hwid = 'IM0000ffc535fc60';
  const generate = () => call(generatePath(1, { hwid, expiration_date: daysFrom(today(), 30) }));

  test('status: answers the status and its text before any effect, then expires after `times`', async () => {
    emulator.faults.add({ route: 'license.generate', kind: 'status', status: 503, times: 1 });
    const before = emulator.state.counts().licenses;
    const refused = await generate();
    expect({ status: refused.status, type: refused.headers['content-type'], body: refused.text }).toEqual({
      status: 503,
      type: HTML,
      body: 'Service Unavailable',
    });
    expect(emulator.state.counts().licenses).toBe(before);
    expect(emulator.faults.list()).toEqual([]);
    expect((await generate()).status).toBe(200);
    expect(emulator.state.counts().licenses).toBe(before + 1);
  });

  test('status with its own body and headers', async () => {
    emulator.faults.add({ kind: 'status', status: 429, body: 'Too many', headers: { 'Retry-After': '2' } });
    const reply = await call('/api/license/list');
    expect([reply.status, reply.text, reply.headers['retry-after']]).toEqual([429, 'Too many', '2']);
  });

  test('a rule strikes only its route; without a route, every route', async () => {
    emulator.faults.add({ route: 'license.show', kind: 'status', status: 502 });
    expect((await call('/api/license/list')).status).toBe(200);
    expect((await call('/api/license/show/1001')).status).toBe(502);
    emulator.faults.clear();
    emulator.faults.add({ route: ['license.list', 'licenseDetail.list'], kind: 'status', status: 500 });
    expect((await call('/api/license-detail/list')).status).toBe(500);
    emulator.faults.clear();
    const id = emulator.faults.add({ kind: 'status', status: 504 });
    expect((await call('/api/product-assignment/list')).status).toBe(504);
    expect((await call('/api/license/show/nope')).status).toBe(404);
    expect(emulator.faults.remove(id)).toBe(true);
    expect((await call('/api/product-assignment/list')).status).toBe(200);
  });

  test('probability: 0 never strikes; 0.5 strikes some, deterministically per seed number', async () => {
    emulator.faults.add({ route: 'license.list', kind: 'status', status: 503, probability: 0 });
    for (let i = 0; i < 5; i += 1) expect((await call('/api/license/list')).status).toBe(200);
    emulator.faults.clear();
    emulator.faults.add({ route: 'productAssignment.list', kind: 'status', status: 503, probability: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i += 1) statuses.push((await call('/api/product-assignment/list')).status);
    const struck = statuses.filter((s) => s === 503).length;
    expect(struck).toBeGreaterThan(5);
    expect(struck).toBeLessThan(25);
  });

  test('reset: the client sees a socket error, nothing was answered, nothing created', async () => {
    emulator.faults.add({ route: 'license.generate', kind: 'reset', times: 1 });
    const before = emulator.state.counts().licenses;
    await expect(generate()).rejects.toThrow(/other side closed|ECONNRESET|socket/i);
    expect(emulator.state.counts().licenses).toBe(before);
    await emulator.requestLog.whenIdle();
    expect(emulator.requestLog.byRoute('license.generate')).toEqual([
      expect.objectContaining({ status: null, completed: false, fault: 'reset', username: 'demo' }),
    ]);
  });

  test('resetAfterEffect on generate: exactly one new licence, and the client sees a socket error', async () => {
    emulator.faults.add({ route: 'license.generate', kind: 'resetAfterEffect', times: 1 });
    const before = emulator.state.licensesOf('demo');
    await expect(generate()).rejects.toThrow(/other side closed|ECONNRESET|socket/i);
    const after = emulator.state.licensesOf('demo');
    expect(after).toHaveLength(before.length + 1);
    expect(after.at(-1)).toMatchObject({ hwid, product_assignment_id: 1 });
    expect(emulator.requestLog.count({ route: 'license.generate' })).toBe(1);
  });

  test('slowHeaders: the headers come late', async () => {
    emulator.faults.add({ route: 'license.list', kind: 'slowHeaders', ms: 250 });
    const started = performance.now();
    const reply = await call('/api/license/list');
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
    expect(JSON.parse(reply.text)).toEqual(emulator.state.licensesOf('demo'));
  });

  test('slowBody: headers and half the body at once, the rest later, and the body intact', async () => {
    emulator.faults.add({ route: 'license.list', kind: 'slowBody', ms: 300 });
    const started = performance.now();
    const response = await request(`${emulator.url}/api/license/list`, {
      headers: { authorization: emulator.account('demo').authorization },
      dispatcher,
    });
    const headersAfter = performance.now() - started;
    const text = await response.body.text();
    const bodyAfter = performance.now() - started;
    expect(headersAfter).toBeLessThan(200);
    expect(bodyAfter).toBeGreaterThanOrEqual(290);
    expect(JSON.parse(text)).toEqual(emulator.state.licensesOf('demo'));
  });

  test('malformedJson: a 200 whose body does not parse; on generate, after the licence was created', async () => {
    emulator.faults.add({ route: ['license.list', 'license.generate'], kind: 'malformedJson' });
    const list = await call('/api/license/list');
    expect([list.status, list.headers['content-type']]).toEqual([200, JSON_TYPE]);
    expect(() => JSON.parse(list.text)).toThrow();
    const before = emulator.state.counts().licenses;
    const generated = await generate();
    expect(generated.status).toBe(200);
    expect(() => JSON.parse(generated.text)).toThrow();
    expect(emulator.state.counts().licenses).toBe(before + 1);
  });

  test('truncatedBody: Content-Length promises more than arrives, then the connection closes', async () => {
    emulator.faults.add({ route: 'license.list', kind: 'truncatedBody' });
    const answer = await rawGet('/api/license/list', `Authorization: ${emulator.account('demo').authorization}\r\n`);
    const [head, body] = answer.split('\r\n\r\n') as [string, string];
    const declared = Number(/Content-Length: (\d+)/.exec(head)![1]);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(body.length).toBeGreaterThan(0);
    expect(body.length).toBeLessThan(declared);
    await expect(call('/api/license/list')).rejects.toThrow();
  });

  test('wrongShape: valid JSON the contract does not allow (or the body given)', async () => {
    emulator.faults.add({ route: 'license.show', kind: 'wrongShape', times: 1 });
    const show = JSON.parse((await call('/api/license/show/1001')).text);
    expect(show).toEqual(
      expect.objectContaining({ id: '1001', productAssignmentId: '1', expirationDate: expect.any(String) }),
    );
    emulator.faults.add({ route: 'license.list', kind: 'wrongShape', times: 1 });
    const list = JSON.parse((await call('/api/license/list')).text);
    expect(list.total).toBe(emulator.state.licensesOf('demo').length);
    expect(list.items[0].id).toEqual(expect.any(String));
    emulator.faults.add({ route: 'productAssignment.list', kind: 'wrongShape', body: [{ id: 'one' }] });
    const custom = await call('/api/product-assignment/list');
    expect([custom.status, JSON.parse(custom.text)]).toEqual([200, [{ id: 'one' }]]);
  });

  test('garbage: a 200 of random bytes', async () => {
    emulator.faults.add({ route: 'license.list', kind: 'garbage' });
    const reply = await call('/api/license/list');
    expect([reply.status, reply.bytes.length]).toEqual([200, 256]);
    expect(() => JSON.parse(reply.text)).toThrow();
  });

  test('bad rules are refused naming the field', () => {
    expect(() => emulator.faults.add({ kind: 'slowHeaders', ms: -1 })).toThrow(/ms must be/);
    expect(() => emulator.faults.add({ kind: 'status', status: 42 })).toThrow(/status must be/);
    expect(() => emulator.faults.add({ kind: 'reset', times: 0 })).toThrow(/times must be/);
    expect(() => emulator.faults.add({ kind: 'reset', probability: 2 })).toThrow(/probability must be/);
    expect(() => emulator.faults.add({ kind: 'explode' } as never)).toThrow(/kind must be one of/);
  });
});

describe('latency', () => {
  test('setLatency adds time to every answer; per route, to that route only; reset() restores it', async () => {
    emulator.setLatency(200);
    let started = performance.now();
    await call('/api/license/list');
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);

    emulator.setLatency(0);
    emulator.setLatency(200, 'license.show');
    started = performance.now();
    await call('/api/license/list');
    expect(performance.now() - started).toBeLessThan(150);
    started = performance.now();
    await call('/api/license/show/1001');
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);

    emulator.reset();
    started = performance.now();
    await call('/api/license/show/1001');
    expect(performance.now() - started).toBeLessThan(150);
    expect(() => emulator.setLatency(-5)).toThrow(TypeError);
  });

  test('the latencyMs option applies from the start', async () => {
    const slow = await startEmulator({ latencyMs: 150 });
    try {
      const started = performance.now();
      expect((await call('/api/product-assignment/list', { on: slow })).status).toBe(200);
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      await slow.close();
    }
  });
});

describe('request log', () => {
  test('records each request in order: method, path, raw query, route, status, username', async () => {
    await call('/api/license/list');
    await call('/api/license/show/1004', { auth: emulator.account('globex').authorization });
    await call('/api/license/generate/1?hwid=ab%2Bcd&expiration_date=2000-01-01', {
      auth: emulator.account('acme-ops').authorization,
    });
    await call('/api/license/list', { auth: basic('demo:wrong') });
    await call('/nope?x=1', { auth: null });
    const entries = emulator.requestLog.entries();
    expect(
      entries.map(({ seq, method, path, query, route, status, username, fault, completed }) => ({
        seq,
        method,
        path,
        query,
        route,
        status,
        username,
        fault,
        completed,
      })),
    ).toEqual([
      {
        seq: 1,
        method: 'GET',
        path: '/api/license/list',
        query: '',
        route: 'license.list',
        status: 200,
        username: 'demo',
        fault: null,
        completed: true,
      },
      {
        seq: 2,
        method: 'GET',
        path: '/api/license/show/1004',
        query: '',
        route: 'license.show',
        status: 200,
        username: 'globex',
        fault: null,
        completed: true,
      },
      {
        seq: 3,
        method: 'GET',
        path: '/api/license/generate/1',
        query: 'hwid=ab%2Bcd&expiration_date=2000-01-01',
        route: 'license.generate',
        status: 400,
        username: 'acme-ops',
        fault: null,
        completed: true,
      },
      {
        seq: 4,
        method: 'GET',
        path: '/api/license/list',
        query: '',
        route: 'license.list',
        status: 401,
        username: null,
        fault: null,
        completed: true,
      },
      {
        seq: 5,
        method: 'GET',
        path: '/nope',
        query: 'x=1',
        route: null,
        status: 404,
        username: null,
        fault: null,
        completed: true,
      },
    ]);
    expect(emulator.requestLog.byRoute('license.list').map((e) => e.seq)).toEqual([1, 4]);
    expect(emulator.requestLog.entries({ route: null }).map((e) => e.path)).toEqual(['/nope']);
    expect(emulator.requestLog.count({ username: 'globex' })).toBe(1);
  });

  test('holds no password and no Authorization header', async () => {
    await call('/api/license/list');
    await call('/api/license/list', { auth: basic('demo:s3cret-attempt') });
    const entries = emulator.requestLog.entries();
    for (const entry of entries) {
      expect(Object.keys(entry).sort()).toEqual([
        'completed',
        'endedAt',
        'fault',
        'method',
        'path',
        'query',
        'route',
        'seq',
        'startedAt',
        'status',
        'traceparent',
        'username',
      ]);
    }
    const text = JSON.stringify(entries);
    expect(text).not.toContain('Basic');
    expect(text).not.toContain(emulator.account('demo').authorization.slice(6));
    expect(text).not.toContain('s3cret');
  });

  test('startedAt and endedAt tell which calls overlapped', async () => {
    emulator.setLatency(150);
    await Promise.all([call('/api/license/list'), call('/api/product-assignment/list')]);
    await call('/api/license-detail/list');
    const [a, b, c] = emulator.requestLog.entries().sort((x, y) => x.startedAt - y.startedAt) as [
      RequestLogEntry,
      RequestLogEntry,
      RequestLogEntry,
    ];
    const overlap = (x: RequestLogEntry, y: RequestLogEntry) => x.startedAt < y.endedAt && y.startedAt < x.endedAt;
    expect(overlap(a, b)).toBe(true);
    expect(overlap(b, c) || overlap(a, c)).toBe(false);
    for (const entry of [a, b, c]) {
      expect(entry.endedAt - entry.startedAt).toBeGreaterThanOrEqual(140);
      expect(Math.abs(entry.startedAt - Date.now())).toBeLessThan(10_000);
    }
  });

  test('whenIdle waits for requests in flight; clear() forgets everything', async () => {
    emulator.faults.add({ route: 'license.list', kind: 'slowHeaders', ms: 150 });
    const pending = call('/api/license/list');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(emulator.requestLog.inFlight()).toBe(1);
    expect(emulator.requestLog.entries()).toEqual([]);
    await emulator.requestLog.whenIdle();
    expect(emulator.requestLog.entries()).toHaveLength(1);
    await pending;
    emulator.requestLog.clear();
    expect(emulator.requestLog.entries()).toEqual([]);
  });
});

describe('lifecycle and options', () => {
  test('close() ends keep-alive and in-flight connections promptly', async () => {
    const own = await startEmulator();
    expect((await call('/api/license/list', { on: own })).status).toBe(200);
    own.faults.add({ kind: 'slowHeaders', ms: 10_000 });
    const stuck = call('/api/license/list', { on: own });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    await own.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    await expect(stuck).rejects.toThrow();
  });

  test('bad options are refused naming the option', async () => {
    await expect(startEmulator({ port: -1 })).rejects.toThrow(/port must be/);
    await expect(startEmulator({ seed: 'huge' as never })).rejects.toThrow(/seed must be one of demo, large/);
    await expect(startEmulator({ today: '2027-02-30' })).rejects.toThrow(/today must be/);
    await expect(startEmulator({ seedNumber: 1.5 })).rejects.toThrow(/seedNumber must be/);
    await expect(startEmulator({ latencyMs: -1 })).rejects.toThrow(/latencyMs must be/);
    expect(() => emulator.account('root')).toThrow(/demo, acme-ops, globex/);
  });

  test('setPassword: the account takes only its new password, as after a change in the portal; reset() restores it', async () => {
    const basic = (password: string) => `Basic ${Buffer.from(`acme-ops:${password}`).toString('base64')}`;
    emulator.setPassword('acme-ops', 'changed-in-the-portal');
    expect(
      (await call('/api/product-assignment/list', { auth: emulator.account('acme-ops').authorization })).status,
    ).toBe(401);
    expect((await call('/api/product-assignment/list', { auth: basic('changed-in-the-portal') })).status).toBe(200);
    expect(emulator.requestLog.entries().map((entry) => entry.username)).toEqual([null, 'acme-ops']);
    // The other accounts are as seeded.
    expect((await call('/api/product-assignment/list')).status).toBe(200);
    emulator.reset();
    expect((await call('/api/product-assignment/list', { auth: basic('acme-ops') })).status).toBe(200);
    expect((await call('/api/product-assignment/list', { auth: basic('changed-in-the-portal') })).status).toBe(401);
    expect(() => emulator.setPassword('root', 'x')).toThrow(/demo, acme-ops, globex/);
    expect(() => emulator.setPassword('demo', '')).toThrow(/non-empty string/);
  });

  test('a fixed today moves every date with it', async () => {
    const past = await startEmulator({ today: '2030-01-15' });
    try {
      expect(past.state.today()).toBe('2030-01-15');
      expect(past.state.license(1001)!.license.expiration_date).toBe('2029-06-29');
      const refused = await call(generatePath(1, { hwid: 'IM0000ffc535fc60', expiration_date: '2030-01-14' }), {
        on: past,
      });
      expect(refused.text).toBe('Bad Request: Expiration date 2030-01-14 is in the past');
      const created = JSON.parse(
        (await call(generatePath(1, { hwid: 'IM0000ffc535fc60', expiration_date: '2030-01-15' }), { on: past })).text,
      );
      expect(created.created_at.slice(0, 10)).toBe('2030-01-15');
    } finally {
      await past.close();
    }
  });
});

describe.each([
  { seed: 'large' as const, assignments: 40, licenses: 5000 },
  { seed: 'xlarge' as const, assignments: 400, licenses: 50_000 },
])('the $seed seed', ({ seed, assignments: assignmentCount, licenses: licenseCount }) => {
  test(`${assignmentCount} assignments and ${licenseCount} licences, consistent, interleaved, and served whole`, async () => {
    const large = await startEmulator({ seed });
    try {
      const assignments = large.state.assignmentsOf('demo');
      const licenses = large.state.licensesOf('demo');
      expect(assignments.length).toBe(assignmentCount);
      expect(licenses.length).toBe(licenseCount);
      expect(large.state.licensesOf('globex').length).toBeGreaterThan(100);
      for (const { assignment, licenses: own } of assignments.map((a) => large.state.assignment(a.id)!)) {
        expect(assignment.used_license_count).toBe(own.length);
        if (assignment.total_license_count !== null)
          expect(assignment.used_license_count).toBeLessThanOrEqual(assignment.total_license_count);
        if (assignment.valid_until !== null)
          expect(own.every((l) => l.expiration_date <= assignment.valid_until!)).toBe(true);
      }
      const marks = large.state.landmarks();
      expect(marks.otherCustomerAssignmentId).toBeGreaterThan(1);
      expect(new Set(licenses.map((l) => l.hwid === null)).size).toBe(2);

      const reply = await call('/api/license/list', { on: large });
      const served = JSON.parse(reply.text) as License[];
      expect(served).toEqual(licenses);
      expect(ids(served)).toEqual(ascending(ids(served)));
      const globexIds = ids(large.state.licensesOf('globex'));
      expect(globexIds.some((id) => id > served[0]!.id && id < served.at(-1)!.id)).toBe(true);
      const grouped = await call('/api/license/product-assignment/list', { on: large });
      expect(JSON.parse(grouped.text)).toHaveLength(assignmentCount);
      // Every list, the largest being the details', is read whole by a server on its default settings.
      const details = await call('/api/license-detail/list', { on: large });
      const { maxResponseBytes } = loadConfig({}).portal;
      for (const body of [reply.text, grouped.text, details.text])
        expect(Buffer.byteLength(body)).toBeLessThan(maxResponseBytes);
    } finally {
      await large.close();
    }
  });
});
