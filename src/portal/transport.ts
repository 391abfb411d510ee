/**
 * The portal transport: sends one endpoint's request over one undici pool and hands a 2xx answer on. It owns what
 * every call goes through, whatever the endpoint: credentials that cannot be read are refused without a call, the
 * circuit breaker, the retry of a safe read (backoff, `Retry-After`, never past the operation's deadline), one client
 * span and one call report per attempt, and turning everything that is not a 2xx answer into a `PortalError`.
 *
 * It builds no path (`endpoints.ts`) and reads no body's shape (`portalClient.ts`); it never caches (`readCache.ts`).
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { SpanKind, type Attributes } from '@opentelemetry/api';
import { endWithError, type Span, type Tracing } from '../tracing/tracing';
import { endpointSpanName, type EndpointName } from './endpoints';
import { PortalError, errorFromResponse, transportError } from './portalErrors';
import { CircuitBreaker } from './circuitBreaker';
import { BodyTooLargeError, headerValue, invalidBody, readBounded } from './responseBody';
import { credentialsOf } from './credentials';
import { breakerVerdict, retryAfterOf, retryDelay, sleep } from './retryPolicy';

export interface TransportOptions {
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
  /** Spans of the calls of traced requests, and the `traceparent` sent with them; undefined: tracing is off. */
  tracing?: Tracing;
  /**
   * The clock (epoch ms) of the breaker's cooldown and of a `Retry-After` given as a date; `Date.now` unless given.
   */
  now?: () => number;
  /**
   * How a retry waits `ms`: resolves after it, or sooner when `signal` aborts, and never rejects. A real timer unless
   * given; a test hands in one that moves its clock on instead of waiting.
   */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
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

/** One request to send: the endpoint it is, its path (with any query) and whether it may be sent again. */
export interface PortalRequest {
  endpoint: EndpointName;
  path: string;
  /** False for a call with side effects (generate): sent once, never retried, never replayed by undici. */
  idempotent: boolean;
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Without an operation deadline, the longest a retry waits (a `Retry-After` beyond it is not waited for). */
const MAX_RETRY_WAIT_MS = 30_000;

export class PortalTransport {
  readonly origin: string;
  readonly breaker: CircuitBreaker;
  private readonly pool: Pool;
  private readonly retries: { max: number; baseDelayMs: number };
  private readonly maxResponseBytes: number;
  private readonly tracing: Tracing | undefined;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  /** The portal's host and port, as the calls' spans name them. */
  private readonly server: { address: string; port: number };

  constructor(options: TransportOptions) {
    this.origin = new URL(options.origin).origin;
    this.tracing = options.tracing;
    const origin = new URL(this.origin);
    this.server = { address: origin.hostname, port: Number(origin.port || (origin.protocol === 'https:' ? 443 : 80)) };
    this.maxResponseBytes = options.maxResponseBytes;
    this.retries = { max: options.maxRetries, baseDelayMs: options.retryBaseDelayMs };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleep;
    this.breaker = new CircuitBreaker({
      failureThreshold: options.breakerFailureThreshold,
      cooldownMs: options.breakerCooldownMs,
      now: this.now,
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

  /** A 2xx body, whole, within `maxResponseBytes`. */
  body(caller: PortalCaller, request: PortalRequest): Promise<Buffer> {
    return this.send(caller, request, (response) => this.readBody(request, response));
  }

  /**
   * Sends a request and hands a 2xx response to `onSuccess`, which must consume or destroy its body (or hand it on,
   * when the caller streams it); everything else becomes a PortalError.
   *
   * A safe read is retried at most `maxRetries` times, on connection errors, 502, 503, 504 and 429, after an
   * exponential backoff with jitter (or the portal's `Retry-After`), and never past the operation's deadline.
   * A side-effecting call is sent once. The circuit breaker refuses calls at once while the portal is down.
   * Basic credentials that do not decode to `user:password` are refused without a call: the portal would answer 401.
   */
  async send<T>(
    caller: PortalCaller,
    request: PortalRequest,
    onSuccess: (response: Dispatcher.ResponseData) => Promise<T>,
  ): Promise<T> {
    const { endpoint } = request;
    if (credentialsOf(caller.authorization).kind === 'unreadable') {
      throw new PortalError('UNAUTHENTICATED', 'The Basic credentials do not decode to user:password.', { endpoint });
    }
    const maxAttempts = request.idempotent ? 1 + this.retries.max : 1;
    for (let attempt = 0; ; attempt += 1) {
      if (!this.breaker.tryAcquire()) {
        const retryAfterMs = this.breaker.retryAfterMs();
        throw new PortalError('UNAVAILABLE', `The portal is failing; calls are held back for ${retryAfterMs} ms.`, {
          endpoint,
          retryAfterMs,
        });
      }
      try {
        const result = await this.attempt(caller, request, onSuccess, attempt);
        this.breaker.recordSuccess();
        return result;
      } catch (error) {
        const portalError = error as PortalError;
        const verdict = caller.signal?.aborted ? 'neutral' : breakerVerdict(portalError);
        if (verdict === 'neutral') this.breaker.recordNeutral();
        else if (verdict === 'failure') this.breaker.recordFailure();
        else this.breaker.recordSuccess();
        const delay =
          attempt + 1 < maxAttempts ? retryDelay(portalError, attempt, this.retries.baseDelayMs) : undefined;
        const deadline = caller.deadline ?? performance.now() + MAX_RETRY_WAIT_MS;
        if (delay === undefined || caller.signal?.aborted || performance.now() + delay >= deadline) {
          throw portalError;
        }
        await this.sleep(delay, caller.signal);
      }
    }
  }

  /** A 2xx body, whole, within `maxResponseBytes`; one that passes the bound is an answer this server cannot read. */
  async readBody(request: PortalRequest, response: Dispatcher.ResponseData): Promise<Buffer> {
    const sideEffecting = !request.idempotent;
    try {
      return await readBounded(response, this.maxResponseBytes, 'fail');
    } catch (error) {
      if (error instanceof BodyTooLargeError) throw invalidBody(request.endpoint, error.message, sideEffecting);
      throw transportError(request.endpoint, error, sideEffecting);
    }
  }

  /** Whether the portal answers `path` below 500 within `timeoutMs`: outside the breaker, sent once, no report. */
  async ping(path: string, timeoutMs: number): Promise<boolean> {
    try {
      const response = await this.pool.request({
        method: 'GET',
        path,
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

  /** One attempt: one request on the pool, its body always consumed or destroyed, its span ended, its call reported. */
  private async attempt<T>(
    caller: PortalCaller,
    request: PortalRequest,
    onSuccess: (response: Dispatcher.ResponseData) => Promise<T>,
    attempt: number,
  ): Promise<T> {
    const { endpoint, path } = request;
    const sideEffecting = !request.idempotent;
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
          idempotent: request.idempotent,
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
          retryAfterOf(headerValue(response.headers['retry-after']), this.now),
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

function report(caller: PortalCaller, call: UpstreamCall): void {
  try {
    caller.onCall?.(call);
  } catch {
    // An observer must not break the call it observes.
  }
}
