/**
 * Trusted documents at the edge of `/graphql` (`TRUSTED_DOCUMENTS_PATH`, `TRUSTED_DOCUMENTS_MODE`): a request names a
 * document of the manifest by `documentId` (POST body or GET query string, optionally `sha256:`-prefixed), by APQ's
 * `extensions.persistedQuery.sha256Hash`, or by sending its very text. A named document's text is put in the request
 * for Apollo to run as any other; before Apollo parses anything, `enforce` refuses whatever the manifest does not
 * hold, with Apollo Router's codes (an unknown id or hash: 404 `PERSISTED_QUERY_NOT_IN_LIST`; any other text, APQ
 * registrations included: 403 `QUERY_NOT_IN_PERSISTED_QUERY_LIST`), and `report` lets it run, logging each distinct
 * operation once (its hash and name, never its variables) and counting every request.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import { ErrorCode } from '../graphql/errors';
import { readManifest, sha256Hex, type TrustedDocument, type TrustedManifest } from '../graphql/trustedManifest';

/** What a request's document came to: found in the manifest, refused as not in it, or run and reported. */
export type TrustedDocumentResult = 'found' | 'not_in_list' | 'reported';

export interface TrustedDocumentsOptions {
  path: string;
  mode: 'enforce' | 'report';
  /** The schema every document is validated against when the manifest is read. */
  schema: GraphQLSchema;
  log: { warn(details: Record<string, unknown>, message: string): void };
  /** Told of every request's result, with the document when the manifest holds it. Must not throw. */
  observe(result: TrustedDocumentResult, document: TrustedDocument | undefined): void;
}

/** Distinct untrusted operations remembered as logged; past it, the least recently seen may be logged again. */
const MAX_REPORTED = 10_000;

export class TrustedDocuments {
  private manifest: TrustedManifest;
  private readonly reported = new LRUCache<string, true>({ max: MAX_REPORTED });

  /** Reads the manifest: a bad one throws a `ManifestError`, which stops start-up. */
  constructor(private readonly options: TrustedDocumentsOptions) {
    this.manifest = readManifest(options.path, options.schema);
  }

  /** How many documents the manifest in force holds. */
  get size(): number {
    return this.manifest.size;
  }

  /** Reads the manifest again (SIGHUP); a bad one leaves the one in force, says why, and answers false. */
  reload(): boolean {
    try {
      this.manifest = readManifest(this.options.path, this.options.schema);
      return true;
    } catch (error) {
      this.options.log.warn(
        { path: this.options.path, reason: (error as Error).message },
        'trusted documents: the manifest was not reloaded; the one in force stays',
      );
      return false;
    }
  }

  /** Checks every GET and POST to `graphqlPath` once its body is read, before Apollo sees it. */
  register(app: FastifyInstance, graphqlPath: string): void {
    app.addHook('preHandler', async (request, reply) => {
      if (request.routeOptions.url !== graphqlPath || (request.method !== 'GET' && request.method !== 'POST')) return;
      const refusal = this.check(request);
      if (refusal) return refuse(reply, refusal);
      return undefined;
    });
  }

  /** What the request's document comes to; puts a named document's text in the request. */
  private check(request: FastifyRequest): Refusal | undefined {
    const { mode } = this.options;
    const params = paramsOf(request);
    if (!params) return undefined; // Not a GraphQL request's shape: Apollo refuses it, running nothing.
    const named = params.documentId ?? params.sha256Hash;
    if (named !== undefined && (params.documentId !== undefined || params.query === undefined)) {
      // A `documentId` is the manifest's own id or the SHA-256 of a text; an APQ hash is the latter.
      const document = params.documentId === undefined ? this.manifest.bySha256(named) : this.manifest.byId(named);
      if (document) return this.found(request, document);
      // An unknown hash without text, under `report`, goes on to APQ, which asks the client for the text.
      if (params.documentId === undefined && mode === 'report') return undefined;
      this.options.observe('not_in_list', undefined);
      return notInList(named);
    }
    if (params.query === undefined) return undefined; // Nothing to run: Apollo says what is missing.
    // A query that is not a string is hashed as its JSON: report logs it, enforce refuses it.
    const text = typeof params.query === 'string' ? params.query : undefined;
    const sha256 = sha256Hex(text ?? JSON.stringify(params.query));
    const document = text === undefined ? undefined : this.manifest.bySha256(sha256);
    if (document) {
      this.options.observe('found', document);
      return undefined;
    }
    if (mode === 'enforce') {
      this.options.observe('not_in_list', undefined);
      return notTrusted();
    }
    this.report(sha256, params.operationName);
    return undefined;
  }

  /** A document named by id or hash: its text goes in the request, in place of the name. */
  private found(request: FastifyRequest, document: TrustedDocument): undefined {
    this.options.observe('found', document);
    if (request.method === 'POST') {
      const body = request.body as Record<string, unknown>;
      body.query = document.text;
      delete body.documentId;
    } else {
      const url = new URL(request.raw.url ?? '/', 'http://localhost');
      url.searchParams.set('query', document.text);
      url.searchParams.delete('documentId');
      request.raw.url = `${url.pathname}${url.search}`;
    }
    return undefined;
  }

  /** Logs an untrusted operation once (per process, while remembered), and counts every request of it. */
  private report(sha256: string, name: unknown): void {
    this.options.observe('reported', undefined);
    const operationName = typeof name === 'string' ? name.slice(0, 100) : null;
    const key = `${sha256}:${operationName ?? ''}`;
    if (this.reported.has(key)) return;
    this.reported.set(key, true);
    this.options.log.warn(
      { sha256, operationName },
      'untrusted operation: not in the trusted documents, run because TRUSTED_DOCUMENTS_MODE=report (enforce would refuse it)',
    );
  }
}

/** The parts of a GraphQL request this check reads, from a POST body or a GET query string. */
interface RequestParams {
  query: unknown;
  operationName: unknown;
  /** A `documentId`, without its `sha256:` prefix. */
  documentId: string | undefined;
  /** APQ's `extensions.persistedQuery.sha256Hash`. */
  sha256Hash: string | undefined;
}

function paramsOf(request: FastifyRequest): RequestParams | undefined {
  const source = request.method === 'POST' ? request.body : request.query;
  if (typeof source !== 'object' || source === null || Array.isArray(source)) return undefined;
  const params = source as Record<string, unknown>;
  let extensions = params.extensions;
  if (typeof extensions === 'string') {
    try {
      extensions = JSON.parse(extensions) as unknown;
    } catch {
      extensions = undefined;
    }
  }
  const persistedQuery =
    typeof extensions === 'object' && extensions !== null
      ? (extensions as { persistedQuery?: unknown }).persistedQuery
      : undefined;
  const sha256Hash =
    typeof persistedQuery === 'object' && persistedQuery !== null
      ? (persistedQuery as { sha256Hash?: unknown }).sha256Hash
      : undefined;
  const documentId = params.documentId;
  return {
    query: params.query,
    operationName: params.operationName,
    // Anything but a string (a number, a repeated GET parameter) names no document.
    documentId:
      documentId === undefined ? undefined : typeof documentId === 'string' ? documentId.replace(/^sha256:/, '') : '',
    sha256Hash: typeof sha256Hash === 'string' ? sha256Hash : undefined,
  };
}

interface Refusal {
  status: number;
  message: string;
  extensions: Record<string, unknown>;
}

function notInList(id: string): Refusal {
  return {
    status: 404,
    message: `No trusted document has the id ${JSON.stringify(id.slice(0, 128))}: this server runs only the operations its frontends were built with.`,
    extensions: { code: ErrorCode.PERSISTED_QUERY_NOT_IN_LIST, id: id.slice(0, 128) },
  };
}

function notTrusted(): Refusal {
  return {
    status: 403,
    message:
      'This operation is not among the trusted documents: this server runs only the operations its frontends were built with. Send the documentId of one of them.',
    extensions: { code: ErrorCode.QUERY_NOT_IN_PERSISTED_QUERY_LIST },
  };
}

function refuse(reply: FastifyReply, refusal: Refusal): FastifyReply {
  return reply
    .code(refusal.status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify({ errors: [{ message: refusal.message, extensions: refusal.extensions }] }));
}
