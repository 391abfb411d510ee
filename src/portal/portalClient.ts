/**
 * The upstream client: one function per portal endpoint, over one undici pool per origin.
 *
 * Every call forwards the caller's `Authorization` header unchanged, consumes the whole response body, turns
 * non-2xx answers into `PortalError`s by the table in `portalErrors.ts`, and validates every 2xx body against the
 * contract in `wireTypes.ts`, so that nothing above this file sees a wire shape that was not checked.
 * This function never retries; `generateLicense` is sent as a non-idempotent request, so undici never replays it.
 */
import { createHash } from 'node:crypto';
import { Pool, errors as undiciErrors } from 'undici';
import type { Dispatcher } from 'undici';
import { endpointPath, endpointSpanName, type EndpointName } from './endpoints';
import { SpanKind, type Attributes } from '@opentelemetry/api';
import { endWithError, type Span, type Tracing } from '../tracing/tracing';
import { PortalError, errorFromResponse } from './portalErrors';
import { CircuitBreaker } from './circuitBreaker';
import { BodyTooLargeError, headerValue, invalidBody, parseBody, readBounded } from './responseBody';
import { CACHEABLE_LISTS, type ListCache } from './listCache';
import { credentialsOf } from './credentials';
import {
  groupedLicensesListShape,
  licenseDetailListShape,
  licenseDetailShape,
  licenseListShape,
  licenseShape,
  productAssignmentListShape,
  productAssignmentShape,
  type GroupedLicensesWire,
  type LicenseDetailWire,
  type LicenseFileDownload,
  type LicenseWire,
  type ProductAssignmentWire,
  type WireShape,
} from './wireTypes';

export interface PortalClientOptions {
  /** The portal's origin, e.g. `https://customerportal.innovatrics.com`. */
  origin: string;
  /** Most sockets open to the portal at once. */
  connections: number;
  connectTimeoutMs: number;
  /** Time from sending a request to the response headers. */
  headersTimeoutMs: number;
  /** Most time between two chunks of a response body. */
  bodyTimeoutMs: number;
  /** How long an idle keep-alive socket stays open. */
  keepAliveTimeoutMs: number;
  /** Most retries of a safe read (never of `generate`); 0 turns retries off. */
  maxRetries: number;
  /** First backoff delay; each retry doubles it, with jitter. */
  retryBaseDelayMs: number;
  /** Failures in a row that open the circuit breaker. */
  breakerFailureThreshold: number;
  /** How long an open breaker refuses calls before it lets a probe through. */
  breakerCooldownMs: number;
  /**
   * Largest response body read into memory, in bytes: a longer one is cut off as soon as it passes the bound and
   * is INVALID_RESPONSE (OUTCOME_UNKNOWN for generate). Licence files streamed by `openLicenseFile` are not bound.
   */
  maxResponseBytes: number;
  /** Where list answers are cached per caller (`PORTAL_CACHE_TTL_MS`); undefined: no cache. */
  listCache?: ListCache;
  /** Spans of the calls of traced requests, and the `traceparent` sent with them; undefined: tracing is off. */
  tracing?: Tracing;
}

/** One upstream call as it happened, for call counts, logs and metrics. */
export interface UpstreamCall {
  endpoint: EndpointName;
  path: string;
  /** The HTTP status, or undefined when no answer came. */
  status: number | undefined;
  /** Milliseconds since the process's time origin when the call was sent, and how long it took. */
  startedAt: number;
  durationMs: number;
  /** The PortalError code when the call failed. */
  errorCode?: string;
  /** Why it failed, in this server's words (for the log; never shown to a client). */
  errorMessage?: string;
  /** 0 for the first attempt, 1 and 2 for retries. */
  attempt: number;
}

/** Who a call is made for, and what to tell about it. */
export interface PortalCaller {
  /** The caller's own `Authorization` header, forwarded unchanged; undefined sends none (the portal answers 401). */
  authorization: string | undefined;
  /**
   * Who the caller is, as the per-caller stores name them: an HMAC of the credentials, not of their spelling
   * (`src/http/callerKeys.ts`). The read cache's entries are this caller's.
   */
  callerKey: string;
  /** Aborts the call (the operation's deadline, a client that went away). */
  signal?: AbortSignal;
  /**
   * Aborts at the operation's deadline only, never when the client goes away: for a call that must run to its
   * answer once sent (generate), yet must not outlive the operation.
   */
  deadlineSignal?: AbortSignal;
  /** When the operation's deadline passes (`performance.now()` time): no retry is started that would end after it. */
  deadline?: number;
  /** Told of every call once it has ended. Must not throw. */
  onCall?: (call: UpstreamCall) => void;
  /** The span the calls' spans go beneath, when the request is traced (the operation's, or the file route's). */
  span?: Span;
}

export interface GenerateLicenseRequest {
  productAssignmentId: number;
  hwid: string;
  expirationDate: string;
  note?: string | null;
}

/** What a download answers before its body is read: for streaming the file to a client. */
export interface LicenseFileStream {
  status: number;
  contentType: string;
  contentDisposition: string | undefined;
  /** The declared length, when the portal declared one. */
  contentLength: string | undefined;
  body: Dispatcher.ResponseData['body'];
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Without an operation deadline, the longest a retry waits (a `Retry-After` beyond it is not waited for). */
const MAX_RETRY_WAIT_MS = 30_000;

export class PortalClient {
  readonly origin: string;
  readonly breaker: CircuitBreaker;
  private readonly pool: Pool;
  private readonly retries: { max: number; baseDelayMs: number };
  private readonly maxResponseBytes: number;
  private readonly listCache: ListCache | undefined;
  private readonly tracing: Tracing | undefined;
  /** The portal's host and port, as the calls' spans name them. */
  private readonly server: { address: string; port: number };
  /** Lookups of the list cache so far, for `/metrics`. */
  readonly cacheLookups = { hit: 0, miss: 0 };
  /** Reads of a caller's list under way (its cache lookup and, on a miss, its call), by caller and endpoint. */
  private readonly flights = new Map<string, Promise<{ body: Buffer; fromCache: boolean }>>();

  constructor(options: PortalClientOptions) {
    this.origin = new URL(options.origin).origin;
    this.listCache = options.listCache;
    this.tracing = options.tracing;
    const origin = new URL(this.origin);
    this.server = { address: origin.hostname, port: Number(origin.port || (origin.protocol === 'https:' ? 443 : 80)) };
    this.maxResponseBytes = options.maxResponseBytes;
    this.retries = { max: options.maxRetries, baseDelayMs: options.retryBaseDelayMs };
    this.breaker = new CircuitBreaker({
      failureThreshold: options.breakerFailureThreshold,
      cooldownMs: options.breakerCooldownMs,
    });
    this.pool = new Pool(this.origin, {
      connections: options.connections,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      pipelining: 1,
    });
  }

  listProductAssignments(caller: PortalCaller): Promise<ProductAssignmentWire[]> {
    return this.getJson(caller, 'productAssignment.list', undefined, productAssignmentListShape);
  }

  showProductAssignment(caller: PortalCaller, id: number): Promise<ProductAssignmentWire> {
    return this.getJson(caller, 'productAssignment.show', id, productAssignmentShape);
  }

  listLicenses(caller: PortalCaller): Promise<LicenseWire[]> {
    return this.getJson(caller, 'license.list', undefined, licenseListShape);
  }

  showLicense(caller: PortalCaller, id: number): Promise<LicenseWire> {
    return this.getJson(caller, 'license.show', id, licenseShape);
  }

  /** Every assignment of the caller with its licences, also those with none. */
  listLicensesByAssignment(caller: PortalCaller): Promise<GroupedLicensesWire[]> {
    return this.getJson(caller, 'license.byAssignment.list', undefined, groupedLicensesListShape);
  }

  listLicensesOfAssignment(caller: PortalCaller, productAssignmentId: number): Promise<LicenseWire[]> {
    return this.getJson(caller, 'license.byAssignment.show', productAssignmentId, licenseListShape);
  }

  listLicenseDetails(caller: PortalCaller): Promise<LicenseDetailWire[]> {
    return this.getJson(caller, 'licenseDetail.list', undefined, licenseDetailListShape);
  }

  /** The detail of a licence, by the licence's id. */
  showLicenseDetail(caller: PortalCaller, licenseId: number): Promise<LicenseDetailWire> {
    return this.getJson(caller, 'licenseDetail.show', licenseId, licenseDetailShape);
  }

  /**
   * Generates a licence: a GET with side effects. Sent once, as a non-idempotent request on a fresh pipeline
   * slot, never retried. An answer lost after the request was sent is `OUTCOME_UNKNOWN`, never `UNAVAILABLE`.
   */
  async generateLicense(caller: PortalCaller, request: GenerateLicenseRequest): Promise<LicenseWire> {
    const query = new URLSearchParams({ hwid: request.hwid, expiration_date: request.expirationDate });
    if (request.note !== undefined && request.note !== null) query.set('note', request.note);
    const path = `${endpointPath('license.generate', request.productAssignmentId)}?${query.toString()}`;
    return this.call(caller, 'license.generate', path, { idempotent: false }, async (response) =>
      parseBody('license.generate', await this.readBody('license.generate', response, true), licenseShape, true),
    );
  }

  /** Downloads a licence file whole, with the headers that describe it. */
  async downloadLicenseFile(caller: PortalCaller, licenseId: number): Promise<LicenseFileDownload> {
    const path = endpointPath('licenseDetail.download', licenseId);
    return this.call(caller, 'licenseDetail.download', path, { idempotent: true }, async (response) => {
      const bytes = await this.readBody('licenseDetail.download', response, false);
      return {
        licenseId,
        bytes,
        contentType: headerValue(response.headers['content-type']) ?? 'application/octet-stream',
        fileName: fileNameOf(headerValue(response.headers['content-disposition'])) ?? 'iengine.lic',
      };
    });
  }

  /**
   * Opens a licence file for streaming. On a 2xx answer the caller owns `body` and must consume or destroy it;
   * any other answer is consumed here and thrown as a PortalError.
   */
  async openLicenseFile(caller: PortalCaller, licenseId: number): Promise<LicenseFileStream> {
    const path = endpointPath('licenseDetail.download', licenseId);
    return this.call(caller, 'licenseDetail.download', path, { idempotent: true }, async (response) => ({
      status: response.statusCode,
      contentType: headerValue(response.headers['content-type']) ?? 'application/octet-stream',
      contentDisposition: headerValue(response.headers['content-disposition']),
      contentLength: headerValue(response.headers['content-length']),
      body: response.body,
    }));
  }

  /**
   * Resolves when the portal accepts the caller's credentials; throws the PortalError of its answer otherwise
   * (`UNAUTHENTICATED` for wrong ones). One read of the assignments, the shortest list an account has, always asked
   * of the portal: a cached answer would accept a password changed since.
   */
  async checkCredentials(caller: PortalCaller): Promise<void> {
    const endpoint = 'productAssignment.list';
    parseBody(
      endpoint,
      await this.fetchBody(caller, endpoint, endpointPath(endpoint)),
      productAssignmentListShape,
      false,
    );
  }

  /**
   * Whether the portal answers at all: one request without credentials to a list endpoint (it answers 401 at
   * once, reading no data), outside the breaker and with no retry. For readiness probes.
   */
  async ping(timeoutMs = 2000): Promise<boolean> {
    try {
      const response = await this.pool.request({
        method: 'GET',
        path: endpointPath('productAssignment.list'),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body.dump();
      return response.statusCode < 500;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async getJson<T>(
    caller: PortalCaller,
    endpoint: EndpointName,
    id: number | undefined,
    shape: WireShape<T>,
  ): Promise<T> {
    const cache = this.listCache;
    if (!cache || id !== undefined || caller.authorization === undefined || !CACHEABLE_LISTS.has(endpoint)) {
      return parseBody(endpoint, await this.fetchBody(caller, endpoint, endpointPath(endpoint, id)), shape, false);
    }
    // Concurrent reads of one caller's list share one lookup, and on a miss one call.
    const { callerKey } = caller;
    const flightKey = `${callerKey}:${endpoint}`;
    const joined = this.flights.get(flightKey);
    const flight =
      joined ?? this.cachedOrFetched(caller, cache, callerKey, endpoint).finally(() => this.flights.delete(flightKey));
    if (!joined) this.flights.set(flightKey, flight);
    const { body, fromCache } = await flight;
    // A cached list is the portal's body as it came, validated again like a fresh one.
    const list = parseBody(endpoint, body, shape, false);
    // The request that made the call caches its answer, once it is known to fit the contract.
    if (!joined && !fromCache) await cache.set(callerKey, endpoint, body.toString('utf8'));
    return list;
  }

  private async cachedOrFetched(
    caller: PortalCaller,
    cache: ListCache,
    callerKey: string,
    endpoint: EndpointName,
  ): Promise<{ body: Buffer; fromCache: boolean }> {
    const cached = await cache.get(callerKey, endpoint);
    this.cacheLookups[cached === undefined ? 'miss' : 'hit'] += 1;
    if (cached !== undefined) return { body: Buffer.from(cached, 'utf8'), fromCache: true };
    return { body: await this.fetchBody(caller, endpoint, endpointPath(endpoint)), fromCache: false };
  }

  /** A 2xx body of a read, whole. */
  private fetchBody(caller: PortalCaller, endpoint: EndpointName, path: string): Promise<Buffer> {
    return this.call(caller, endpoint, path, { idempotent: true }, (response) =>
      this.readBody(endpoint, response, false),
    );
  }

  /**
   * Forgets a caller's cached lists, on every replica that shares the cache: called once it may have generated a
   * licence, before it is answered, so that its next read shows the licence.
   */
  async forgetCachedLists(caller: PortalCaller): Promise<void> {
    if (this.listCache && caller.authorization !== undefined) await this.listCache.dropCaller(caller.callerKey);
  }

  /** A 2xx body, whole, within `maxResponseBytes`; one that passes the bound is an answer this server cannot read. */
  private async readBody(
    endpoint: EndpointName,
    response: Dispatcher.ResponseData,
    sideEffecting: boolean,
  ): Promise<Buffer> {
    try {
      return await readBounded(response, this.maxResponseBytes, 'fail');
    } catch (error) {
      if (error instanceof BodyTooLargeError) throw invalidBody(endpoint, error.message, sideEffecting);
      throw transportError(endpoint, error, sideEffecting);
    }
  }

  /**
   * Sends a request and hands a 2xx response to `onSuccess`; everything else becomes a PortalError.
   *
   * A safe read is retried at most `maxRetries` times, on connection errors, 502, 503, 504 and 429, after an
   * exponential backoff with jitter (or the portal's `Retry-After`), and never past the operation's deadline.
   * A side-effecting call is sent once. The circuit breaker refuses calls at once while the portal is down.
   * Basic credentials that do not decode to `user:password` are refused without a call: the portal would answer 401.
   */
  private async call<T>(
    caller: PortalCaller,
    endpoint: EndpointName,
    path: string,
    options: { idempotent: boolean },
    onSuccess: (response: Dispatcher.ResponseData) => Promise<T>,
  ): Promise<T> {
    if (credentialsOf(caller.authorization).kind === 'unreadable') {
      throw new PortalError('UNAUTHENTICATED', 'The Basic credentials do not decode to user:password.', { endpoint });
    }
    const maxAttempts = options.idempotent ? 1 + this.retries.max : 1;
    for (let attempt = 0; ; attempt += 1) {
      if (!this.breaker.tryAcquire()) {
        throw new PortalError(
          'UNAVAILABLE',
          `The portal is failing; calls are held back for ${this.breaker.retryAfterMs()} ms.`,
          {
            endpoint,
            retryAfterMs: this.breaker.retryAfterMs(),
          },
        );
      }
      try {
        const result = await this.attempt(caller, endpoint, path, options, onSuccess, attempt);
        this.breaker.recordSuccess();
        return result;
      } catch (error) {
        const portalError = error as PortalError;
        if (caller.signal?.aborted) this.breaker.recordNeutral();
        else if (isPortalFailure(portalError)) this.breaker.recordFailure();
        else this.breaker.recordSuccess();
        const delay =
          attempt + 1 < maxAttempts && isRetryable(portalError) ? this.retryDelay(portalError, attempt) : undefined;
        const deadline = caller.deadline ?? performance.now() + MAX_RETRY_WAIT_MS;
        if (delay === undefined || caller.signal?.aborted || performance.now() + delay >= deadline) {
          throw portalError;
        }
        await sleep(delay, caller.signal);
      }
    }
  }

  /** The backoff before retry `attempt + 1`: the portal's Retry-After when it gave one, else 2^attempt × base, jittered. */
  private retryDelay(error: PortalError, attempt: number): number {
    if (error.retryAfterMs !== undefined) return error.retryAfterMs;
    const ceiling = this.retries.baseDelayMs * 2 ** attempt;
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  /**
   * The client span of one attempt, beneath the caller's span, as OpenTelemetry's HTTP client conventions name it
   * (`GET /api/license/show/{id}`), with only the attributes they require: each is serialized for every call.
   * The URL is the portal's origin and path, without the query: credentials travel in a header, and generate's
   * query carries the client's input (hardware id, note), which no span records.
   */
  private callSpan(parent: Span, endpoint: EndpointName, path: string, attempt: number): Span {
    const span = this.tracing!.startChild(parent, endpointSpanName(endpoint), undefined, SpanKind.CLIENT);
    // Not sampled: a span that only carries its ids on to the portal, told nothing.
    if (!span.isRecording()) return span;
    const query = path.indexOf('?');
    const attributes: Attributes = {
      'http.request.method': 'GET',
      'url.full': this.origin + (query < 0 ? path : path.slice(0, query)),
      'server.address': this.server.address,
      'server.port': this.server.port,
    };
    if (attempt > 0) attributes['http.request.resend_count'] = attempt;
    return span.setAttributes(attributes);
  }

  /** One attempt: one request on the pool, its body always consumed or destroyed. */
  private async attempt<T>(
    caller: PortalCaller,
    endpoint: EndpointName,
    path: string,
    options: { idempotent: boolean },
    onSuccess: (response: Dispatcher.ResponseData) => Promise<T>,
    attempt: number,
  ): Promise<T> {
    const sideEffecting = !options.idempotent;
    const startedAt = performance.now();
    let status: number | undefined;
    const span = caller.span && this.callSpan(caller.span, endpoint, path, attempt);
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (caller.authorization !== undefined) headers.authorization = caller.authorization;
      if (span) this.tracing!.inject(span, headers);
      let response: Dispatcher.ResponseData;
      try {
        response = await this.pool.request({
          method: 'GET',
          path,
          headers,
          idempotent: options.idempotent,
          signal: caller.signal,
        });
      } catch (error) {
        throw transportError(endpoint, error, sideEffecting);
      }
      status = response.statusCode;
      if (status < 200 || status > 299) {
        let body: Buffer;
        try {
          body = await readBounded(response, MAX_ERROR_BODY_BYTES, 'cut');
        } catch (error) {
          throw transportError(endpoint, error, sideEffecting);
        }
        throw errorFromResponse(
          endpoint,
          status,
          body.toString('utf8'),
          retryAfterOf(headerValue(response.headers['retry-after'])),
        );
      }
      let result: T;
      try {
        result = await onSuccess(response);
      } catch (error) {
        response.body.destroy();
        throw error;
      }
      report(caller, { endpoint, path, status, startedAt, durationMs: performance.now() - startedAt, attempt });
      if (span) {
        span.setAttribute('http.response.status_code', status);
        span.end();
      }
      return result;
    } catch (error) {
      const portalError = error instanceof PortalError ? error : transportError(endpoint, error, sideEffecting);
      if (span) {
        if (status !== undefined) span.setAttribute('http.response.status_code', status);
        endWithError(span, portalError.code);
      }
      report(caller, {
        endpoint,
        path,
        status,
        startedAt,
        durationMs: performance.now() - startedAt,
        errorCode: portalError.code,
        errorMessage: portalError.message,
        attempt,
      });
      throw portalError;
    }
  }
}

/** The portal unreachable or failing: what the breaker counts. A 4xx, or a body it could not read, is an answer. */
function isPortalFailure(error: PortalError): boolean {
  return error.code === 'UNAVAILABLE' || error.code === 'TIMEOUT' || error.code === 'OUTCOME_UNKNOWN';
}

/** Connection errors (no status), 502, 503, 504 and 429; not 500 (the portal failed on this request), not timeouts. */
function isRetryable(error: PortalError): boolean {
  if (error.code !== 'UNAVAILABLE') return false;
  return error.status === undefined ? error.cause !== undefined : [429, 502, 503, 504].includes(error.status);
}

/** `Retry-After` in seconds or as an HTTP date, in ms; undefined when absent or unreadable. */
function retryAfterOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function report(caller: PortalCaller, call: UpstreamCall): void {
  try {
    caller.onCall?.(call);
  } catch {
    // An observer must not break the call it observes.
  }
}

/**
 * A failure below HTTP. Whether a side-effecting request could have reached the portal decides between
 * UNAVAILABLE (it never left: connection refused, connect timeout) and OUTCOME_UNKNOWN (it may have been served).
 */
function transportError(endpoint: EndpointName, error: unknown, sideEffecting: boolean): PortalError {
  if (error instanceof PortalError) return error;
  const neverSent =
    error instanceof undiciErrors.ConnectTimeoutError ||
    (isErrnoError(error) &&
      ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(error.code));
  const timedOut =
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    ['TimeoutError', 'AbortError'].includes(nameOf(error));
  if (sideEffecting && !neverSent) {
    return new PortalError(
      'OUTCOME_UNKNOWN',
      'The request to generate a licence was sent, but its answer was lost; a licence may or may not have been generated.',
      { endpoint, cause: error },
    );
  }
  if (timedOut)
    return new PortalError('TIMEOUT', `The portal did not answer ${endpoint} in time.`, { endpoint, cause: error });
  return new PortalError('UNAVAILABLE', `The portal could not be reached for ${endpoint}.`, { endpoint, cause: error });
}

/**
 * Errors are told apart by their fields, not by `instanceof`: those made by Node itself (socket errors, an abort
 * signal's DOMException) may come from another realm than this module's `Error`.
 */
function isErrnoError(error: unknown): error is { code: string } {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string';
}

function nameOf(error: unknown): string {
  return typeof error === 'object' && error !== null && typeof (error as { name?: unknown }).name === 'string'
    ? (error as { name: string }).name
    : '';
}

/** The file name of a `Content-Disposition` header (`filename*=` or `filename=`), if it names one. */
export function fileNameOf(disposition: string | undefined): string | undefined {
  if (!disposition) return undefined;
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // Fall through to the plain parameter.
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/.exec(disposition);
  const name = plain?.[1]?.replace(/\\(.)/g, '$1') ?? plain?.[2];
  return name && name.length > 0 ? name : undefined;
}

/** Lowercase hex SHA-256 of some bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
