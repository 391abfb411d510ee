/**
 * The endpoints layer against a real node:http server on port 0: each method asks its endpoint's path, every 2xx
 * body is checked against the contract (INVALID_RESPONSE, OUTCOME_UNKNOWN for generate), lists go through the read
 * cache, show calls and credential checks never do, and a generate moves its caller's reads on.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PortalClient } from '../../src/portal/portalClient';
import { MemoryListCache } from '../../src/portal/listCache';
import type { PortalCaller } from '../../src/portal/transport';
import type { PortalError } from '../../src/portal/portalErrors';

const LICENSE = {
  id: 5,
  product_assignment_id: 7,
  hwid: 'HW5',
  expiration_date: '2027-01-01',
  note: null,
  created_at: null,
};

let server: Server;
let portal: PortalClient;
let requests: string[];
/** The body answered for a path without its query; a path not here answers 404. */
let bodies: Map<string, unknown>;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = bodies.get((req.url ?? '').split('?')[0]!);
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end('Not Found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  portal = new PortalClient({
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: 4,
    connectTimeoutMs: 1000,
    headersTimeoutMs: 1000,
    bodyTimeoutMs: 1000,
    keepAliveTimeoutMs: 1000,
    maxRetries: 0,
    retryBaseDelayMs: 1,
    breakerFailureThreshold: 100,
    breakerCooldownMs: 1000,
    maxResponseBytes: 64 * 1024,
    listCache: new MemoryListCache(60_000),
  });
});
afterAll(async () => {
  await portal.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  requests = [];
  bodies = new Map();
});

let callers = 0;
/** A caller of its own per test, so that no test reads another's cached lists. */
function newCaller(): PortalCaller {
  callers += 1;
  return { authorization: 'Basic ZGVtbzpkZW1v', callerKey: `caller-${callers}` };
}

test("each method asks its endpoint's path and hands on the body, checked", async () => {
  bodies.set('/api/license/show/5', LICENSE);
  bodies.set('/api/license/product-assignment/7', [LICENSE]);
  const caller = newCaller();
  expect(await portal.showLicense(caller, 5)).toMatchObject({ id: 5, hwid: 'HW5' });
  expect(await portal.listLicensesOfAssignment(caller, 7)).toHaveLength(1);
  expect(requests).toEqual(['/api/license/show/5', '/api/license/product-assignment/7']);
});

test('a body that does not fit the contract is INVALID_RESPONSE, and OUTCOME_UNKNOWN for generate', async () => {
  bodies.set('/api/license/list', [{ ...LICENSE, id: '5' }]);
  bodies.set('/api/license/generate/7', { items: [] });
  const caller = newCaller();
  await expect(portal.listLicenses(caller)).rejects.toMatchObject({ code: 'INVALID_RESPONSE' } as PortalError);
  await expect(
    portal.generateLicense(caller, { productAssignmentId: 7, hwid: 'HW', expirationDate: '2027-01-01' }),
  ).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN' });
  expect(requests[1]).toBe('/api/license/generate/7?hwid=HW&expiration_date=2027-01-01');
});

test('lists are cached per caller; show calls and credential checks always ask the portal', async () => {
  bodies.set('/api/license/list', [LICENSE]);
  bodies.set('/api/license/show/5', LICENSE);
  bodies.set('/api/product-assignment/list', []);
  const caller = newCaller();
  await portal.listLicenses(caller);
  await portal.listLicenses(caller);
  await portal.showLicense(caller, 5);
  await portal.showLicense(caller, 5);
  await portal.listProductAssignments(caller);
  await portal.checkCredentials(caller);
  expect(requests).toEqual([
    '/api/license/list',
    '/api/license/show/5',
    '/api/license/show/5',
    '/api/product-assignment/list',
    '/api/product-assignment/list',
  ]);
});

test("a generate, answered or not, moves its caller's reads on: the next list is asked of the portal", async () => {
  bodies.set('/api/license/list', [LICENSE]);
  const caller = newCaller();
  await portal.listLicenses(caller);
  await expect(
    portal.generateLicense(caller, { productAssignmentId: 8, hwid: 'HW', expirationDate: '2027-01-01' }),
  ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  bodies.set('/api/license/list', [LICENSE, { ...LICENSE, id: 6 }]);
  expect(await portal.listLicenses(caller)).toHaveLength(2);
  expect(requests.filter((path) => path === '/api/license/list')).toHaveLength(2);
});
