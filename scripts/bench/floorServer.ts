/**
 * The benchmark's floor: a hand-written aggregator for exactly the five operations of `queries.ts`, with no GraphQL
 * engine. For each it makes the portal calls the server's plan makes, joins the answers in memory and writes the
 * same JSON directly; what the server takes beyond it is the price of being general. The benchmark checks that its
 * answers are the server's, byte for byte, and that it makes the same calls.
 *
 *   node --require tsx/cjs scripts/bench/floorServer.ts --portal <origin> --port <n> --today <YYYY-MM-DD>
 *
 * POST /graphql answers the documents `benchQueries(today)` writes, as sized for the large seed and for the xlarge
 * one (`XLARGE_SIZES`), matched as text; any other document is 400.
 * GET /healthz is 200. The caller's Authorization goes to the portal unchanged, as the server sends it. With
 * `x-upstream-calls: 1` the answer carries `extensions.upstream` ({ calls, byEndpoint }) as the server's does.
 * A portal answer other than 200, or one that lacks a record a join needs, is a 502: the benchmark stops on it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { ALIASED_LICENSE_IDS, benchQueries, XLARGE_SIZES, type BenchQueryKey, type BenchSizes } from './queries';

/** The portal's records, as far as the floor reads them. */
interface Assignment {
  id: number;
  product_name: string;
  used_license_count: number;
}

interface License {
  id: number;
  product_assignment_id: number;
  hwid: string | null;
  expiration_date: string;
}

interface Detail {
  license_id: number;
  file_name: string;
  hwids: string[];
}

interface AssignmentLicenses {
  product_assignment: Assignment;
  licenses: License[];
}

/** Sockets open to the portal at once: the server's default (`PORTAL_CONNECTIONS`). */
const PORTAL_CONNECTIONS = 32;
/** Largest request body read; the benchmark's are a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;
/** Operation 4's page: `first: 20`, ordered by expiration date ascending, as its cursors name the order. */
const PAGE_SIZE = 20;
const PAGE_ORDER_TAG = 'license:EXPIRATION_DATE:ASC';

/** A request the floor does not serve: 400. */
class BadRequest extends Error {}

/** A portal answer the floor cannot use: 502. */
class PortalAnswerError extends Error {}

/** One request's portal calls, as the caller, counted by endpoint. */
class PortalCalls {
  readonly byEndpoint: Record<string, { calls: number }> = {};
  private calls = 0;

  constructor(
    private readonly pool: Pool,
    private readonly authorization: string | undefined,
  ) {}

  get count(): number {
    return this.calls;
  }

  /** GETs `path` and parses its JSON; anything but a 200 is a `PortalAnswerError`. */
  async get<T>(endpoint: string, path: string): Promise<T> {
    this.calls += 1;
    (this.byEndpoint[endpoint] ??= { calls: 0 }).calls += 1;
    const { statusCode, body } = await this.pool.request({
      method: 'GET',
      path,
      headers: this.authorization === undefined ? {} : { authorization: this.authorization },
    });
    if (statusCode !== 200)
      throw new PortalAnswerError(`${endpoint} answered ${statusCode}: ${(await body.text()).slice(0, 300)}`);
    return (await body.json()) as T;
  }
}

const portalPaths = {
  assignments: '/api/product-assignment/list',
  assignment: (id: number) => `/api/product-assignment/show/${id}`,
  licenses: '/api/license/list',
  license: (id: number) => `/api/license/show/${id}`,
  licensesByAssignment: '/api/license/product-assignment/list',
  details: '/api/license-detail/list',
  generate: (assignmentId: number, query: URLSearchParams) =>
    `/api/license/generate/${assignmentId}?${query.toString()}`,
};

/** Answers one operation: its `data`. */
type Answer = (portal: PortalCalls, variables: unknown) => Promise<unknown>;

/**
 * The answer of each benchmark operation, sized as `sizes` says; each comment names the calls, which are the
 * plan's.
 */
function answers(today: string, sizes: BenchSizes): Record<BenchQueryKey, Answer> {
  /** The first licences of a list sorted by id, as many as operations 1 and 2 ask for. */
  const firstOf = (licenses: License[]) => licenses.sort(byId).slice(0, sizes.licensesFirst ?? licenses.length);
  return {
    // license.byAssignment.list and licenseDetail.list, together.
    async nested(portal) {
      const [groups, details] = await Promise.all([
        portal.get<AssignmentLicenses[]>('license.byAssignment.list', portalPaths.licensesByAssignment),
        portal.get<Detail[]>('licenseDetail.list', portalPaths.details),
      ]);
      const fileNames = new Map(details.map((detail) => [detail.license_id, detail.file_name]));
      groups.sort((a, b) => a.product_assignment.id - b.product_assignment.id);
      return {
        productAssignments: groups.map(({ product_assignment: assignment, licenses }) => {
          const named = { productName: assignment.product_name };
          return {
            id: String(assignment.id),
            productName: assignment.product_name,
            licenses: {
              totalCount: licenses.length,
              nodes: firstOf(licenses).map((license) => ({
                id: String(license.id),
                hwid: license.hwid,
                detail: { fileName: found(fileNames, license.id, 'detail of licence') },
                productAssignment: named,
              })),
            },
          };
        }),
      };
    },

    // license.list, productAssignment.list and licenseDetail.list, together.
    async licenses(portal) {
      const [licenses, assignments, details] = await Promise.all([
        portal.get<License[]>('license.list', portalPaths.licenses),
        portal.get<Assignment[]>('productAssignment.list', portalPaths.assignments),
        portal.get<Detail[]>('licenseDetail.list', portalPaths.details),
      ]);
      const named = assignmentNames(assignments);
      const hwids = new Map(details.map((detail) => [detail.license_id, detail.hwids]));
      return {
        licenses: {
          totalCount: licenses.length,
          nodes: firstOf(licenses).map((license) => ({
            id: String(license.id),
            productAssignment: found(named, license.product_assignment_id, 'assignment'),
            detail: { hwids: found(hwids, license.id, 'detail of licence') },
          })),
        },
      };
    },

    // One license.show per alias and productAssignment.list, together: the plan once the caller's list sizes are
    // known (its very first request, before they are, may read license.list instead).
    async aliased(portal) {
      const [assignments, ...licenses] = await Promise.all([
        portal.get<Assignment[]>('productAssignment.list', portalPaths.assignments),
        ...ALIASED_LICENSE_IDS.map((id) => portal.get<License>('license.show', portalPaths.license(id))),
      ]);
      const named = assignmentNames(assignments);
      const data: Record<string, unknown> = {};
      licenses.forEach((license, index) => {
        data[`l${index + 1}`] = {
          id: String(license.id),
          hwid: license.hwid,
          productAssignment: found(named, license.product_assignment_id, 'assignment'),
        };
      });
      return data;
    },

    // license.list and productAssignment.list, together. Licences with a hwid expiring after `today`, by
    // expiration date then id (the server's order and tie-break), the first page.
    async paged(portal) {
      const [licenses, assignments] = await Promise.all([
        portal.get<License[]>('license.list', portalPaths.licenses),
        portal.get<Assignment[]>('productAssignment.list', portalPaths.assignments),
      ]);
      const named = assignmentNames(assignments);
      const matching = licenses
        .filter((license) => license.hwid !== null && license.expiration_date > today)
        .sort((a, b) => compareText(a.expiration_date, b.expiration_date) || a.id - b.id);
      const page = matching.slice(0, PAGE_SIZE);
      const last = page[page.length - 1];
      return {
        licenses: {
          totalCount: matching.length,
          nodes: page.map((license) => ({
            id: String(license.id),
            hwid: license.hwid,
            productAssignment: found(named, license.product_assignment_id, 'assignment'),
          })),
          pageInfo: { endCursor: last === undefined ? null : cursorOf(last) },
        },
      };
    },

    // license.generate, then productAssignment.show of the new licence's assignment.
    async generate(portal, variables) {
      const input = generateInput(variables);
      const query = new URLSearchParams({ hwid: input.hwid, expiration_date: input.expirationDate });
      const license = await portal.get<License>('license.generate', portalPaths.generate(input.assignmentId, query));
      const assignment = await portal.get<Assignment>(
        'productAssignment.show',
        portalPaths.assignment(license.product_assignment_id),
      );
      return {
        generateLicense: {
          license: { id: String(license.id), hwid: license.hwid, expirationDate: license.expiration_date },
          productAssignment: { id: String(assignment.id), usedLicenseCount: assignment.used_license_count },
        },
      };
    },
  };
}

function main(): void {
  const options = parseOptions(process.argv.slice(2));
  const pool = new Pool(options.portal, { connections: PORTAL_CONNECTIONS, pipelining: 1 });
  const byDocument = new Map<string, Answer>();
  for (const sizes of [{}, XLARGE_SIZES]) {
    const byKey = answers(options.today, sizes);
    for (const query of benchQueries(options.today, '', sizes)) byDocument.set(query.document, byKey[query.key]);
  }
  const server = createServer((request, response) => {
    respond(request, response, pool, byDocument).catch((error: unknown) => {
      process.stderr.write(`floor: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      response.destroy();
    });
  });
  server.listen(options.port, '127.0.0.1');
  void once(server, 'listening').then(() => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    process.stdout.write(`floor listening on http://127.0.0.1:${port}/graphql\n`);
  });
  const stop = () => {
    server.close();
    server.closeIdleConnections();
    void pool.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function respond(
  request: IncomingMessage,
  response: ServerResponse,
  pool: Pool,
  byDocument: ReadonlyMap<string, Answer>,
): Promise<void> {
  if (request.method === 'GET' && request.url === '/healthz') return send(response, 200, { status: 'ok' });
  if (request.method !== 'POST' || request.url !== '/graphql') return send(response, 404, errorBody('Not found.'));
  const portal = new PortalCalls(pool, request.headers.authorization);
  let data: unknown;
  try {
    const { document, variables } = operationOf(await bodyOf(request));
    const answer = byDocument.get(document);
    if (!answer) throw new BadRequest('Not one of the benchmark operations.');
    data = await answer(portal, variables);
  } catch (error) {
    if (error instanceof BadRequest) return send(response, 400, errorBody(error.message));
    if (error instanceof PortalAnswerError) return send(response, 502, errorBody(error.message));
    throw error;
  }
  const wantsCalls = /^(1|true|yes)$/i.test(String(request.headers['x-upstream-calls'] ?? ''));
  send(
    response,
    200,
    wantsCalls ? { data, extensions: { upstream: { calls: portal.count, byEndpoint: portal.byEndpoint } } } : { data },
  );
}

/** Writes a JSON answer as Apollo Server writes one: compact, with a newline. */
function send(response: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function errorBody(message: string): { errors: Array<{ message: string }> } {
  return { errors: [{ message }] };
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) throw new BadRequest(`The body is over ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function operationOf(body: string): { document: string; variables: unknown } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new BadRequest('The body is not JSON.');
  }
  if (!isRecord(parsed) || typeof parsed.query !== 'string') throw new BadRequest('The body has no `query`.');
  return { document: parsed.query, variables: parsed.variables };
}

function generateInput(variables: unknown): { assignmentId: number; hwid: string; expirationDate: string } {
  const input = isRecord(variables) ? variables.input : undefined;
  if (
    !isRecord(input) ||
    typeof input.productAssignmentId !== 'string' ||
    !/^[1-9][0-9]{0,8}$/.test(input.productAssignmentId) ||
    typeof input.hwid !== 'string' ||
    typeof input.expirationDate !== 'string'
  )
    throw new BadRequest("`input` is not the benchmark's: { productAssignmentId, hwid, expirationDate }.");
  return { assignmentId: Number(input.productAssignmentId), hwid: input.hwid, expirationDate: input.expirationDate };
}

/** Each assignment's `{ productName }`, by id: the one object every licence of it points to. */
function assignmentNames(assignments: readonly Assignment[]): Map<number, { productName: string }> {
  return new Map(assignments.map((assignment) => [assignment.id, { productName: assignment.product_name }]));
}

/** The opaque cursor the server gives a licence of operation 4's page (`src/graphql/connections.ts`). */
function cursorOf(license: License): string {
  return Buffer.from(JSON.stringify([PAGE_ORDER_TAG, license.expiration_date, license.id]), 'utf8').toString(
    'base64url',
  );
}

function found<V>(map: ReadonlyMap<number, V>, id: number, what: string): V {
  const value = map.get(id);
  if (value === undefined) throw new PortalAnswerError(`No ${what} ${id} in the portal's list.`);
  return value;
}

function byId(a: { id: number }, b: { id: number }): number {
  return a.id - b.id;
}

function compareText(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseOptions(argv: string[]): { portal: string; port: number; today: string } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: { portal: { type: 'string' }, port: { type: 'string' }, today: { type: 'string' } },
  });
  const port = Number(values.port);
  if (values.portal === undefined || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error('usage: floorServer.ts --portal <origin> --port <n> --today <YYYY-MM-DD>');
  if (values.today === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(values.today))
    throw new Error(`--today must be YYYY-MM-DD, but got: ${String(values.today)}`);
  return { portal: values.portal, port, today: values.today };
}

main();
