/**
 * Browser sessions over HTTP (backend-for-frontend): `POST /auth/session` signs in with a portal user's name and
 * password and answers an HttpOnly cookie that names a session kept on this server (`src/sessions/`); `GET` tells
 * the session, `DELETE` ends it. A request to a route that acts with credentials (GraphQL, licence files) that
 * carries the cookie and no `Authorization` of its own acts with the session's credentials, through
 * `authorizationOf`; one whose `Origin` is another site's is refused before any portal call.
 *
 * Its `onRequest` hook must run before the login limits' (`clientLimits.ts`), which count the credentials a request
 * acts with: `register` it first. A sign-in's body is read in that hook, so that the limits take it for a login with
 * the submitted credentials, as they take a request with an `Authorization` header.
 */
import { Readable } from 'node:stream';
import { parseCookie, stringifySetCookie } from 'cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PortalClient, UpstreamCall } from '../portal/portalClient';
import { PortalError, type PortalErrorCode } from '../portal/portalErrors';
import { UnreachableCaseError } from '../portal/endpoints';
import { basicAuthorization, type Session, type Sessions } from '../sessions/sessions';
import { SessionStoreError } from '../sessions/sessionStore';
import type { Span } from '../tracing/tracing';
import { ErrorCode } from '../graphql/errors';
import { actWith, authorizationOf } from './callerKeys';
import { graphqlErrorBody } from './errorAnswers';
import { MAX_SIGN_IN_BYTES, readSignInBody, type SignInBody, type SignInRefusal } from './signInBody';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `false` on a route that never acts with credentials though it shares its URL with one that does (the
     * playground's page, at `GET /graphql` from a browser): the sessions' hook does not look at its cookie.
     */
    actsWithCredentials?: false;
  }
}

/** The sessions' route, as Fastify names it. */
export const SESSION_ROUTE = '/auth/session';
/** The cookie that carries a session's id. */
const SESSION_COOKIE = 'portal_session';

export interface SessionRoutesOptions {
  portal: PortalClient;
  /** The routes (as Fastify names them) whose requests may act with a session: answered as GraphQL, or in text. */
  routes: { graphql: string[]; plainText: string[] };
  /** The origins, besides this server's own, whose requests may carry the cookie (`CORS_ORIGINS`). */
  allowedOrigins: readonly string[];
  /** Told of the sign-in's portal call once it has ended, as of every portal call. Must not throw. */
  onCall: (call: UpstreamCall, request: FastifyRequest) => void;
  /** Longest the sign-in's check with the portal may take. */
  timeoutMs: number;
  /** The request's span, when it is traced. */
  spanOf: (request: FastifyRequest) => Span | undefined;
  /** Who the request's caller is (`src/http/callerKeys.ts`). */
  callerKeyOf: (request: FastifyRequest) => string;
}

/** Why a request about sessions was refused, as `extensions.reason` says. */
type SessionRefusal =
  'CROSS_ORIGIN' | 'NO_SESSION' | 'SESSION_ENDED' | 'SESSION_STORE_UNAVAILABLE' | SignInRefusal['reason'];

interface Refusal {
  status: number;
  code: ErrorCode;
  reason?: SessionRefusal;
  message: string;
}

export class SessionRoutes {
  private readonly acting: Set<string>;
  private readonly textual: Set<string>;
  private readonly allowedOrigins: Set<string>;
  /** The session each request acts with (or, at `GET /auth/session`, asks about), and its reply. */
  private readonly resumed = new WeakMap<FastifyRequest, { id: string; session: Session; reply: FastifyReply }>();
  /** Each sign-in's credentials and body, as the hook read them. */
  private readonly signIns = new WeakMap<FastifyRequest, SignInBody>();
  constructor(
    private readonly sessions: Sessions,
    private readonly options: SessionRoutesOptions,
  ) {
    this.acting = new Set([...options.routes.graphql, ...options.routes.plainText]);
    this.textual = new Set(options.routes.plainText);
    this.allowedOrigins = new Set(options.allowedOrigins);
  }

  /** Adds the hook and the routes; before the login limits' hook (see the module's header). */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url;
      if (route === SESSION_ROUTE) return this.sessionRouteRequest(request, reply);
      // A request's own Authorization wins over a session: its cookie is not even looked up. Nor is it for a page
      // served at an acting route's URL: a cookie of a session that has ended must not keep a person from the page
      // on which they sign in again.
      if (
        route === undefined ||
        !this.acting.has(route) ||
        request.routeOptions.config.actsWithCredentials === false ||
        request.headers.authorization !== undefined
      )
        return;
      return this.resume(request, reply, this.textual.has(route));
    });
    app.post(
      SESSION_ROUTE,
      {
        bodyLimit: MAX_SIGN_IN_BYTES,
        // The hook has read the body: Fastify parses the same bytes again, from here.
        preParsing: async (request) =>
          Readable.from([this.signIns.get(request)?.bytes ?? Buffer.alloc(0)], { objectMode: false }),
      },
      (request, reply) => this.signIn(request, reply),
    );
    app.get(SESSION_ROUTE, async (request, reply) => {
      const resumed = this.resumed.get(request);
      if (!resumed)
        return refuse(reply, {
          status: 401,
          code: ErrorCode.UNAUTHENTICATED,
          reason: 'NO_SESSION',
          message: `No session: sign in with POST ${SESSION_ROUTE}.`,
        });
      return reply.header('cache-control', 'no-store').send(answerOf(resumed.session));
    });
    app.delete(SESSION_ROUTE, async (request, reply) => {
      const id = this.cookieOf(request);
      clearCookie(reply);
      if (id !== undefined) {
        try {
          await this.sessions.end(id);
        } catch (error) {
          return this.storeUnavailable(request, reply, error, false);
        }
        request.log.info('session ended: signed out');
      }
      return reply.code(204).header('cache-control', 'no-store').send();
    });
  }

  /**
   * Tells that the portal refused the credentials of this request (401): when they were its session's (a password
   * changed since the sign-in), the session is ended and the response expires the cookie. Must not throw.
   */
  credentialsRefused(request: FastifyRequest): void {
    const resumed = this.resumed.get(request);
    if (!resumed || request.headers.authorization !== undefined) return;
    this.resumed.delete(request);
    if (!resumed.reply.raw.headersSent) clearCookie(resumed.reply);
    request.log.info('session ended: the portal refused its credentials');
    this.sessions
      .end(resumed.id)
      .catch((error: unknown) =>
        request.log.warn({ err: { message: String(error) } }, 'a session the portal refused could not be ended'),
      );
  }

  /** `/auth/session`: from this server's own pages or a listed origin only; a sign-in's body is read here. */
  private async sessionRouteRequest(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (!this.originAllowed(request)) return refuse(reply, crossOrigin(request));
    if (request.method === 'POST') return this.readSignIn(request, reply);
    if (request.method === 'GET' || request.method === 'HEAD') return this.resume(request, reply, false);
    return undefined;
  }

  /**
   * Looks up the session the request's cookie names: it acts with it unless it has an `Authorization` of its own.
   * A cookie of a session that is over is refused (401 `SESSION_ENDED`, the cookie expired), never taken for no
   * credentials; a store that cannot be asked is 503 `SESSION_STORE_UNAVAILABLE` (fail closed).
   */
  private async resume(
    request: FastifyRequest,
    reply: FastifyReply,
    plainText: boolean,
  ): Promise<FastifyReply | undefined> {
    const id = this.cookieOf(request);
    if (id === undefined) return undefined;
    if (!this.originAllowed(request)) return refuse(reply, crossOrigin(request), plainText);
    let session: Session | undefined;
    try {
      session = await this.sessions.resume(id);
    } catch (error) {
      return this.storeUnavailable(request, reply, error, plainText);
    }
    if (!session) {
      clearCookie(reply);
      return refuse(
        reply,
        {
          status: 401,
          code: ErrorCode.UNAUTHENTICATED,
          reason: 'SESSION_ENDED',
          message: `The session has ended (signed out, unused for too long, past its maximum age, or its password changed); sign in again with POST ${SESSION_ROUTE}.`,
        },
        plainText,
      );
    }
    this.resumed.set(request, { id, session, reply });
    if (request.headers.authorization === undefined) actWith(request, session.authorization);
    return undefined;
  }

  /** Reads and checks a sign-in's body; the request then acts with the submitted credentials. */
  private async readSignIn(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const signIn = await readSignInBody(request);
    if ('reason' in signIn) return refuse(reply, { ...signIn, code: ErrorCode.BAD_REQUEST });
    this.signIns.set(request, signIn);
    actWith(request, basicAuthorization(signIn.username, signIn.password));
    return undefined;
  }

  /**
   * Signs in: the portal checks the credentials (one call), and a session is started under a new id; one the
   * browser sent is ended, never taken over.
   */
  private async signIn(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { username, password } = this.signIns.get(request)!;
    try {
      await this.checkCredentials(request);
    } catch (error) {
      if (!(error instanceof PortalError)) throw error;
      return refuse(reply, signInRefusal(error.code));
    }
    const previous = this.cookieOf(request);
    let started;
    try {
      if (previous !== undefined) await this.sessions.end(previous);
      started = await this.sessions.start(username, password);
    } catch (error) {
      return this.storeUnavailable(request, reply, error, false);
    }
    request.log.info('session started');
    return reply
      .header(
        'set-cookie',
        stringifySetCookie(SESSION_COOKIE, started.id, {
          ...COOKIE_ATTRIBUTES,
          maxAge: Math.floor(this.sessions.maxAgeMs / 1000),
        }),
      )
      .header('cache-control', 'no-store')
      .send(answerOf(started.session));
  }

  private async checkCredentials(request: FastifyRequest): Promise<void> {
    const { timeoutMs } = this.options;
    const abort = new AbortController();
    const deadline = setTimeout(
      () => abort.abort(new DOMException(`The sign-in took longer than ${timeoutMs} ms.`, 'TimeoutError')),
      timeoutMs,
    );
    deadline.unref();
    const span = this.options.spanOf(request);
    try {
      await this.options.portal.checkCredentials({
        authorization: authorizationOf(request),
        callerKey: this.options.callerKeyOf(request),
        signal: abort.signal,
        deadline: performance.now() + timeoutMs,
        onCall: (call) => this.options.onCall(call, request),
        ...(span ? { span } : {}),
      });
    } finally {
      clearTimeout(deadline);
    }
  }

  private storeUnavailable(
    request: FastifyRequest,
    reply: FastifyReply,
    error: unknown,
    plainText: boolean,
  ): FastifyReply {
    if (!(error instanceof SessionStoreError)) throw error;
    request.log.warn({ err: { message: error.message } }, 'session store unavailable: request refused');
    return refuse(
      reply,
      {
        status: 503,
        code: ErrorCode.UNAUTHENTICATED,
        reason: 'SESSION_STORE_UNAVAILABLE',
        message:
          'The session could not be looked up: the session store is unavailable. Try again later, or send Authorization.',
      },
      plainText,
    );
  }

  /** The session id the request's cookie carries, if any (an emptied cookie carries none). */
  private cookieOf(request: FastifyRequest): string | undefined {
    const header = request.headers.cookie;
    return header === undefined ? undefined : parseCookie(header)[SESSION_COOKIE] || undefined;
  }

  /**
   * Whether a request may carry the cookie: it has no `Origin` (a browser sends one with every cross-origin request),
   * or its `Origin` names the host it was sent to, or one of `CORS_ORIGINS`. The host alone is compared: behind a
   * proxy that ends TLS the request arrives as http, from a page that is https.
   */
  private originAllowed(request: FastifyRequest): boolean {
    const origin = request.headers.origin;
    if (origin === undefined || this.allowedOrigins.has(origin)) return true;
    return URL.canParse(origin) && new URL(origin).host === request.host.toLowerCase();
  }
}

/** The cookie's attributes: never read by scripts, sent over HTTPS only, never with a request from another site. */
const COOKIE_ATTRIBUTES = { path: '/', httpOnly: true, secure: true, sameSite: 'strict' } as const;

/** Expires the browser's cookie. */
function clearCookie(reply: FastifyReply): void {
  reply.header(
    'set-cookie',
    stringifySetCookie(SESSION_COOKIE, '', { ...COOKIE_ATTRIBUTES, maxAge: 0, expires: new Date(0) }),
  );
}

/** What `POST` and `GET /auth/session` answer. */
function answerOf(session: Session): { username: string; expiresAt: string } {
  return { username: session.username, expiresAt: new Date(session.expiresAt).toISOString() };
}

function crossOrigin(request: FastifyRequest): Refusal {
  return {
    status: 403,
    code: ErrorCode.FORBIDDEN,
    reason: 'CROSS_ORIGIN',
    message: `A request from ${JSON.stringify(request.headers.origin?.slice(0, 200))} may not use this server's session cookie: only this server's own origin and CORS_ORIGINS may.`,
  };
}

/** What a sign-in answers when the portal did not accept the credentials, or could not be asked. */
function signInRefusal(code: PortalErrorCode): Refusal {
  switch (code) {
    case 'UNAUTHENTICATED':
      return {
        status: 401,
        code: ErrorCode.UNAUTHENTICATED,
        message: 'The Customer Portal refused the user name or password.',
      };
    case 'TIMEOUT':
      return {
        status: 504,
        code: ErrorCode.UPSTREAM_TIMEOUT,
        message: 'The Customer Portal did not answer in time; try again later.',
      };
    case 'UNAVAILABLE':
      return {
        status: 503,
        code: ErrorCode.UPSTREAM_UNAVAILABLE,
        message: 'The Customer Portal is unavailable; try again later.',
      };
    case 'INVALID_RESPONSE':
    case 'FORBIDDEN':
    case 'NOT_FOUND':
    case 'INVALID_INPUT':
    case 'OUTCOME_UNKNOWN':
      return {
        status: 502,
        code: ErrorCode.UPSTREAM_INVALID_RESPONSE,
        message: 'The Customer Portal answered the check of the credentials with something this server cannot read.',
      };
    default:
      throw new UnreachableCaseError(code);
  }
}

function refuse(reply: FastifyReply, refusal: Refusal, plainText = false): FastifyReply {
  reply.code(refusal.status).header('cache-control', 'no-store');
  if (plainText) return reply.header('content-type', 'text/plain; charset=utf-8').send(`${refusal.message}\n`);
  const extensions = refusal.reason ? { code: refusal.code, reason: refusal.reason } : { code: refusal.code };
  return reply
    .header('content-type', 'application/json; charset=utf-8')
    .send(graphqlErrorBody(refusal.message, extensions));
}
