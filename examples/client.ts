/**
 * A typed example client: signs in, reads the licence overview in one query, generates a licence from the
 * assignment with the most room, downloads its file, and signs out. Plain `fetch`, no client library.
 *
 * It is built as a frontend should be. It never holds on to the password: it signs in once (`POST /auth/session`)
 * and sends the session's cookie with every request, never an `Authorization` header. And it sends no GraphQL
 * text: graphql-codegen's client preset (`npm run codegen`) types the operations of `examples/operations.graphql`
 * into `examples/generated/graphql.ts`, where each document holds only its id, and writes their texts by id into
 * `examples/generated/persisted-documents.json`, the manifest the server is given. So the server must know it:
 *   TRUSTED_DOCUMENTS_MODE=enforce TRUSTED_DOCUMENTS_PATH=examples/generated/persisted-documents.json npm start
 *   npx tsx examples/client.ts     # in another terminal
 *
 * GRAPHQL_URL (default http://127.0.0.1:4000/graphql), PORTAL_USER and PORTAL_PASSWORD (default demo / demo)
 * point it elsewhere. It exits 1 on any error, printing each GraphQL error's `extensions.code` and message.
 */
import { randomUUID } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  GenerateLicenceDocument,
  LicenceOverviewDocument,
  type GenerateLicenceMutationVariables,
  type LicenceOverviewQuery,
} from './generated/graphql';

const graphqlUrl = new URL(process.env.GRAPHQL_URL ?? 'http://127.0.0.1:4000/graphql');
const username = process.env.PORTAL_USER ?? 'demo';
const password = process.env.PORTAL_PASSWORD ?? 'demo';
const sessionUrl = new URL('/auth/session', graphqlUrl);
/** The cookie the server keeps a session under. */
const SESSION_COOKIE = 'portal_session';

type Assignment = NonNullable<LicenceOverviewQuery['productAssignments']>[number];

interface GraphQLResponse<TData> {
  data?: TData | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** A response with errors: this example treats even a partial answer as a failure. */
class GraphQLErrors extends Error {
  constructor(
    readonly errors: NonNullable<GraphQLResponse<unknown>['errors']>,
    /** What the person running the client may do about them, when that is known. */
    readonly hint?: string,
  ) {
    super(`${errors.length} GraphQL error(s)`);
  }
}

/** A server that does not read trusted documents takes no `documentId`, and refuses the request as malformed. */
const NO_MANIFEST_HINT =
  "The server runs no documents by id: start it with TRUSTED_DOCUMENTS_PATH=examples/generated/persisted-documents.json (the README's Trusted documents).";

/**
 * Signs in and answers the `Cookie` header that carries the session. Node's fetch keeps no cookies, so the client
 * keeps this one itself; and as it sets the header by hand, it must do what a browser does for a `Secure` cookie:
 * send it over HTTPS only, or to this machine (which browsers take as secure). The password goes nowhere else.
 */
async function signIn(): Promise<string> {
  const loopback = ['localhost', '[::1]'].includes(graphqlUrl.hostname) || graphqlUrl.hostname.startsWith('127.');
  if (graphqlUrl.protocol !== 'https:' && !loopback)
    throw new Error(`GRAPHQL_URL must be https:// for ${graphqlUrl.host}: the session cookie is Secure.`);
  const response = await fetch(sessionUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw await failure('Sign-in', response);
  const id = response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0]!.split('='))
    .find(([name]) => name === SESSION_COOKIE)?.[1];
  if (!id) throw new Error(`Sign-in: HTTP ${response.status} without a ${SESSION_COOKIE} cookie`);
  const session = (await response.json()) as { username: string; expiresAt: string };
  console.log(`Signed in as ${session.username} (the session lasts until ${session.expiresAt} unless used)`);
  return `${SESSION_COOKIE}=${id}`;
}

/** Ends the session, so that its cookie is good for nothing even if it leaked. */
async function signOut(cookie: string): Promise<void> {
  const response = await fetch(sessionUrl, { method: 'DELETE', headers: { cookie } });
  if (!response.ok) throw await failure('Sign-out', response);
  console.log('Signed out');
}

/** The id the client preset put in a document in place of its text (`persistedDocuments`, `replaceDocumentWithHash`). */
function documentIdOf(document: TypedDocumentNode<unknown, never>): string {
  const meta = '__meta__' in document ? (document.__meta__ as { hash?: unknown } | undefined) : undefined;
  if (typeof meta?.hash !== 'string')
    throw new TypeError(
      'The generated documents carry no id: run `npm run codegen` (persistedDocuments in codegen.yml).',
    );
  return meta.hash;
}

/** Runs one operation of the manifest by its id, with the session's cookie. */
async function execute<TData, TVariables>(
  cookie: string,
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
): Promise<TData> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ documentId: documentIdOf(document), variables }),
  });
  const isJson = response.headers.get('content-type')?.includes('json') ?? false;
  const body = isJson ? ((await response.json()) as GraphQLResponse<TData>) : {};
  if (body.errors?.length) {
    const malformed = response.status === 400 && body.errors.some((e) => e.extensions?.code === 'BAD_REQUEST');
    throw new GraphQLErrors(body.errors, malformed ? NO_MANIFEST_HINT : undefined);
  }
  if (!response.ok || !body.data) throw new Error(`HTTP ${response.status} without data`);
  return body.data;
}

/** The error to throw for a refused request to the sessions' route: its GraphQL errors, or its status. */
async function failure(what: string, response: Response): Promise<Error> {
  const body = (await response.json().catch(() => ({}))) as GraphQLResponse<unknown>;
  return body.errors?.length ? new GraphQLErrors(body.errors) : new Error(`${what}: HTTP ${response.status}`);
}

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

/** The assignment with the most licences left (null: unlimited, the most of all) that still accepts a date. */
function roomiest(assignments: Assignment[]): Assignment | undefined {
  const room = (a: Assignment) => a.remainingLicenseCount ?? Number.POSITIVE_INFINITY;
  const open = assignments.filter((a) => room(a) > 0 && (a.validUntil === null || a.validUntil >= day(0)));
  return open.reduce<Assignment | undefined>((best, a) => (best && room(best) >= room(a) ? best : a), undefined);
}

const left = (remaining: number | null) => (remaining === null ? 'unlimited' : `${remaining} left`);

function summary(a: Assignment): string {
  const licenses = a.licenses?.nodes ?? [];
  const expired = licenses.filter((l) => l.expired).length;
  return `#${a.id} ${a.productName}: ${a.usedLicenseCount} used, ${left(a.remainingLicenseCount)}, valid until ${a.validUntil ?? 'no end date'}; ${licenses.length} licences (${expired} expired)`;
}

async function work(cookie: string): Promise<void> {
  const overview = await execute(cookie, LicenceOverviewDocument, {});
  const assignments = overview.productAssignments ?? [];
  console.log(`${assignments.length} product assignments:`);
  for (const assignment of assignments) console.log(`  ${summary(assignment)}`);

  const target = roomiest(assignments);
  if (!target) throw new Error('No assignment has licences left to generate.');
  const in30Days = day(30);
  const variables: GenerateLicenceMutationVariables = {
    input: {
      productAssignmentId: target.id,
      hwid: `example-${randomUUID()}`,
      expirationDate: target.validUntil !== null && target.validUntil < in30Days ? target.validUntil : in30Days,
      note: 'Generated by examples/client.ts',
      // One key per user action: resending it (after OUTCOME_UNKNOWN, a double click) never generates twice.
      idempotencyKey: randomUUID(),
    },
  };
  console.log(
    `\nGenerating a licence from #${target.id} ${target.productName} for ${variables.input.hwid}, until ${variables.input.expirationDate}`,
  );
  const { generateLicense } = await execute(cookie, GenerateLicenceDocument, variables);
  const license = generateLicense?.license;
  if (!license?.detail) throw new Error('generateLicense answered no licence detail.');
  console.log(`Generated licence ${license.id} (${license.detail.fileName}), download: ${license.detail.downloadUrl}`);
  const after = generateLicense?.productAssignment;
  if (after) console.log(`  #${after.id} now has ${after.usedLicenseCount} used, ${left(after.remainingLicenseCount)}`);

  // downloadUrl is a path on the GraphQL server; the session's cookie is good for it too.
  const file = await fetch(new URL(license.detail.downloadUrl, graphqlUrl), { headers: { cookie } });
  if (!file.ok) throw new Error(`Download failed: HTTP ${file.status} ${await file.text()}`);
  console.log(`Downloaded licence file: ${(await file.arrayBuffer()).byteLength} bytes`);
}

async function main(): Promise<void> {
  const cookie = await signIn();
  try {
    await work(cookie);
  } finally {
    await signOut(cookie).catch(report);
  }
}

function report(error: unknown): void {
  if (error instanceof GraphQLErrors) {
    for (const e of error.errors) console.error(`${e.extensions?.code ?? 'NO_CODE'}: ${e.message}`);
    if (error.hint) console.error(error.hint);
  } else {
    // fetch's own failures (e.g. no server listening) say why in `cause`.
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    console.error(`${error instanceof Error ? error.message : String(error)}${cause}`);
  }
  process.exitCode = 1;
}

main().catch(report);
