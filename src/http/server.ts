/**
 * The HTTP face of the server: GraphQL at `/graphql` and the routes beside it (health, licence files, browser
 * sessions, the playground, `/metrics` unless it has a listener of its own), each request's id and deadline.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import fastifyCors from '@fastify/cors';
import pinoPretty from 'pino-pretty';
import fastifyApollo from '@as-integrations/fastify';
import type { PortalClient, UpstreamCall } from '../portal/portalClient';
import { createApolloServer, type PersistedQueryCache } from '../graphql/apollo';
import { createRequestContext, type RequestContext } from '../graphql/context';
import type { Config } from '../config';
import type { AdmissionQueue } from '../graphql/admission';
import { LICENSE_FILE_ROUTE, registerLicenseFileRoute } from './licenseFileRoute';
import { clientErrorAnswer, registerErrorAnswers } from './errorAnswers';
import { registerPlayground } from './playground';
import type { ServerMetrics, SharedStateHealth } from './metrics';
import { Readiness, registerHealthRoutes } from './health';
import type { LicenseGenerator } from '../idempotency/idempotentGenerate';
import type { ListSizeMemory } from '../graphql/resultSize';
import type { LoadersFactory } from '../loaders/loaders';
import { ErrorCode } from '../graphql/errors';
import type { ClientLimits } from './clientLimits';
import { authorizationOf, type CallerKeys } from './callerKeys';
import type { Span, Tracing } from '../tracing/tracing';
import { RequestTracing } from './requestTracing';
import { ForwardedHeadersNotice } from './forwardedHeaders';
import type { TrustedDocuments } from './trustedDocuments';
import type { Sessions } from '../sessions/sessions';
import { SESSION_ROUTE, SessionRoutes } from './sessionRoutes';

/** What the HTTP layer is given: the settings, and the parts `main.ts` built from them that outlive a request. */
export interface HttpServerParts {
  config: Config;
  portal: PortalClient;
  /** What `/metrics` tells; served here unless `config.metrics` gives it a listener of its own. */
  metrics: ServerMetrics;
  /** Generates licences once, with idempotency keys; shared by every request. */
  generator: LicenseGenerator;
  /** Admission of operations to execution. */
  admission: AdmissionQueue;
  /** The per-address limits: failed logins and the request rate. */
  clientLimits: ClientLimits;
  /** Who is calling, as the per-caller parts name them. */
  callerKeys: CallerKeys;
  /** Browser sessions (`/auth/session` and its cookie); undefined: off. */
  sessions?: Sessions;
  /** Where the spans of traced requests go; undefined: tracing is off. */
  tracing?: Tracing;
  /** The list sizes seen per caller, for estimating answers before any call. */
  listSizes: ListSizeMemory;
  /** How each request's loaders are made; the planned loaders unless given (the benchmark's baseline gives its own). */
  loaders?: LoadersFactory;
  /** Where automatic persisted queries are kept when shared (Redis); undefined: in this process. */
  persistedQueries?: PersistedQueryCache;
  /** The shared store's health, for `/metrics` and `/readyz`; undefined when there is none. */
  sharedState?: () => SharedStateHealth;
  /** The trusted documents, when `TRUSTED_DOCUMENTS_MODE` is set. */
  trustedDocuments?: TrustedDocuments;
  /** The demo account, filled in on the playground's page (embedded emulator only). */
  demoAccount?: { username: string; password: string };
}

/** The request header that carries a request id; taken when well-formed, made otherwise, and always answered. */
const REQUEST_ID_HEADER = 'x-request-id';

/** The request header that asks for the upstream calls in the response's `extensions.upstream`. */
const SHOW_UPSTREAM_CALLS_HEADER = 'x-upstream-calls';

/** Builds the Fastify app with Apollo mounted; `listen` is the caller's. */
export async function createHttpServer(parts: HttpServerParts): Promise<FastifyInstance> {
  const { config, portal } = parts;
  const requestTracing = parts.tracing ? new RequestTracing(parts.tracing) : undefined;
  const app = Fastify({
    logger: {
      level: config.logLevel,
      // Credentials a request or a response may carry, should a serializer ever log them: the header, the session
      // cookie, a sign-in's body, and the cookie a sign-in sets.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.body', 'res.headers["set-cookie"]'],
        remove: true,
      },
      ...(config.logFormat === 'pretty'
        ? {
            stream: pinoPretty({
              sync: true,
              colorize: Boolean(process.stdout.isTTY),
              translateTime: 'SYS:HH:MM:ss.l',
              ignore: 'pid,hostname',
            }),
          }
        : {}),
    },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: trustProxyOf(config.trustProxy),
    genReqId: requestIdOf,
    ...requestDeadline(config.requestTimeoutMs),
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    ...(requestTracing ? { childLoggerFactory: requestTracing.childLoggerFactory } : {}),
  });
  const { admission, generator, metrics } = parts;
  // Once closing, `/readyz` says so, and every response asks its client to close the connection: a keep-alive
  // socket whose request was in flight at SIGTERM then closes with that response, instead of holding shutdown
  // until the grace period ends.
  let closing = false;
  const readiness = new Readiness({ portal: portal, cacheMs: config.readyCacheMs, closing: () => closing });
  const apollo = createApolloServer({
    logger: { error: (details, message) => app.log.error(details, message) },
    observeOperation: (name, outcome, seconds) => metrics.observeOperation(name, outcome, seconds),
    introspection: config.introspection,
    federationSubgraph: config.federationSubgraph,
    upstreamCallBudget: config.upstreamCallBudget,
    limits: config.limits,
    admission,
    listSizes: parts.listSizes,
    showCallsAtOnce: config.portal.connections,
    tracing: parts.tracing !== undefined,
    ...(parts.persistedQueries ? { persistedQueries: parts.persistedQueries } : {}),
  });
  await apollo.start();

  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (closing) reply.header('connection', 'close');
    // One customer's data: no shared cache may keep it (a trusted document's GET has a short, cacheable URL).
    if (request.routeOptions.url === '/graphql' && authorizationOf(request) !== undefined)
      reply.header('cache-control', 'private, no-store');
  });
  // The last line behind MAX_RESULT_OBJECTS: an answer over MAX_RESPONSE_BYTES is not sent. A mutation's answer is
  // always sent, whatever its size: it may carry the only word of a licence just generated.
  const operationTypes = new WeakMap<object, () => string | undefined>();
  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload !== 'string' || payload.length * 3 <= config.limits.maxResponseBytes) return payload;
    const bytes = Buffer.byteLength(payload);
    if (bytes <= config.limits.maxResponseBytes || operationTypes.get(request)?.() === 'mutation') return payload;
    request.log.warn(
      { responseBytes: bytes, maxResponseBytes: config.limits.maxResponseBytes },
      'response too large: not sent',
    );
    reply.code(400);
    return JSON.stringify({
      errors: [
        {
          message: `This operation's answer is ${bytes} bytes; at most ${config.limits.maxResponseBytes} are sent. Ask for less: give lists \`first\`, or select fewer fields (a licence file's text and base64 are large).`,
          extensions: {
            code: ErrorCode.BAD_USER_INPUT,
            reason: 'RESPONSE_TOO_LARGE',
            responseBytes: bytes,
            maxResponseBytes: config.limits.maxResponseBytes,
          },
        },
      ],
    });
  });
  if (config.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: config.corsOrigins,
      // Those origins' pages may send the session cookie (fetch's `credentials: 'include'`), and sign out.
      credentials: parts.sessions !== undefined,
      methods: parts.sessions ? ['GET', 'POST', 'DELETE'] : ['GET', 'POST'],
      allowedHeaders: [
        'authorization',
        'content-type',
        'apollo-require-preflight',
        'x-apollo-operation-name',
        REQUEST_ID_HEADER,
        SHOW_UPSTREAM_CALLS_HEADER,
      ],
      exposedHeaders: [REQUEST_ID_HEADER],
      maxAge: 600,
    });
  }

  if (config.trustProxy === false) {
    const forwardedHeaders = new ForwardedHeadersNotice();
    app.addHook('onRequest', async (request) => {
      if (forwardedHeaders.check(request.headers, request.socket.remoteAddress, request.log))
        metrics.observeIgnoredForwardedHeader();
    });
  }
  registerErrorAnswers(app, { bodyLimitBytes: config.bodyLimitBytes, graphqlPath: '/graphql' });
  requestTracing?.register(app);
  /**
   * What every portal call of a request tells: the metrics, readiness, the caller's address's logins, and the
   * request's session (ended when the portal refuses its credentials).
   */
  const observeCall = (call: UpstreamCall, request: FastifyRequest): void => {
    metrics.observeUpstreamCall(call);
    if (call.status !== undefined) readiness.portalAnswered();
    if (call.status === 401) {
      void parts.clientLimits.authFailed(request);
      sessionRoutes?.credentialsRefused(request);
    } else if (acceptedCredentials(call.status)) parts.clientLimits.credentialsAccepted(request);
  };
  const sessionRoutes =
    parts.sessions &&
    new SessionRoutes(parts.sessions, {
      portal,
      routes: { graphql: ['/graphql'], plainText: [LICENSE_FILE_ROUTE] },
      allowedOrigins: config.corsOrigins,
      onCall: observeCall,
      timeoutMs: config.limits.operationTimeoutMs,
      spanOf: (request) => requestTracing?.spanOf(request),
      callerKeyOf: (request) => parts.callerKeys.of(request),
    });
  // Fastify runs a stage's hooks in the order they were added: the sessions' hook first, since it decides which
  // credentials a request acts with, and the limits' then count those (a sign-in's submitted ones included).
  sessionRoutes?.register(app);
  parts.clientLimits.register(app, {
    graphql: sessionRoutes ? ['/graphql', SESSION_ROUTE] : ['/graphql'],
    plainText: [LICENSE_FILE_ROUTE],
  });
  registerHealthRoutes(app, readiness, parts.sharedState);
  parts.trustedDocuments?.register(app, '/graphql');
  if (!config.metrics) registerMetricsRoute(app, metrics);
  registerLicenseFileRoute(app, portal, {
    onCall: observeCall,
    maxBytes: config.portal.maxResponseBytes,
    timeoutMs: config.limits.operationTimeoutMs,
    spanOf: (request) => requestTracing?.spanOf(request),
    callerKeyOf: (request) => parts.callerKeys.of(request),
  });
  // The playground takes GET /graphql from browsers away from Apollo by a route constraint (see playground.ts).
  if (config.playground)
    registerPlayground(app, {
      ...(sessionRoutes ? { sessionPath: SESSION_ROUTE } : {}),
      ...(parts.demoAccount ? { demoAccount: parts.demoAccount } : {}),
    });

  await app.register(fastifyApollo(apollo), {
    path: '/graphql',
    context: async (request, reply): Promise<RequestContext> => {
      const context = createRequestContext({
        portal: portal,
        generator,
        loaders: parts.loaders,
        authorization: authorizationOf(request),
        callerKey: parts.callerKeys.of(request),
        showUpstreamCalls:
          config.nodeEnv === 'development' ||
          /^(1|true|yes)$/i.test(headerOf(request.headers[SHOW_UPSTREAM_CALLS_HEADER]) ?? ''),
        timeoutMs: config.limits.operationTimeoutMs,
        maxResultObjects: config.limits.maxResultObjects,
        clientGone: clientGoneSignal(reply.raw),
        log: request.log,
        onUpstreamCall: (call) => observeCall(call, request),
        onBatch: (loader, size) => metrics.observeBatch(loader, size),
        ...traceOf(request),
      });
      operationTypes.set(request, () => context.operationType);
      return context;
    },
  });

  /** The context's tracing, when this request is traced. */
  function traceOf(request: FastifyRequest): { trace?: { tracing: Tracing; span: Span } } {
    const span = requestTracing?.spanOf(request);
    return span && parts.tracing ? { trace: { tracing: parts.tracing, span } } : {};
  }

  // `app.close()` stops accepting, lets requests in flight finish, then stops Apollo.
  app.addHook('onClose', async () => {
    await apollo.stop();
  });
  return app;
}

/**
 * The listener of `/metrics` alone (`METRICS_PORT`), apart from the API as Apollo Router keeps its own: a scraper
 * is let in where the public is not. Its requests are logged by `log`, and have the API's deadline.
 */
export function createMetricsServer(
  metrics: ServerMetrics,
  options: { log: FastifyBaseLogger; requestTimeoutMs: number },
): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.log.child({ listener: 'metrics' }),
    bodyLimit: 1024,
    genReqId: requestIdOf,
    ...requestDeadline(options.requestTimeoutMs),
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
  });
  registerMetricsRoute(app, metrics);
  return app;
}

function registerMetricsRoute(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

/**
 * Fastify's options that give every request a deadline: one whose headers and body have not all arrived within
 * `timeoutMs` is answered 408 by `clientErrorAnswer` and its connection closed (an idle keep-alive connection is
 * `keepAliveTimeout`'s). Node looks for late requests only every `connectionsCheckingInterval`, 30 s unless told,
 * so it is told a quarter of the deadline, at most a second. Fastify sets `requestTimeout` on the server it makes
 * from `http`, and overwrites it with its own option: both are given.
 */
function requestDeadline(timeoutMs: number) {
  return {
    requestTimeout: timeoutMs,
    http: {
      requestTimeout: timeoutMs,
      headersTimeout: timeoutMs,
      connectionsCheckingInterval: Math.min(1000, Math.floor(timeoutMs / 4)),
    },
    clientErrorHandler: clientErrorAnswer,
  };
}

/** The request id: the client's `x-request-id` when it is a short token, else a new UUID (never log a client's garbage). */
function requestIdOf(request: IncomingMessage): string {
  const given = headerOf(request.headers[REQUEST_ID_HEADER]);
  return given !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}

/** Aborts when the client's connection closes before its response was sent: its reads are no longer wanted. */
function clientGoneSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished) controller.abort(new Error('The client closed the connection.'));
  });
  return controller.signal;
}

function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * `TRUST_PROXY` for Fastify. proxy-addr walks the addresses from this server outwards: the socket's peer is hop 0,
 * the rightmost `X-Forwarded-For` entry hop 1, and so on; the client is the first address not trusted, the one the
 * farthest trusted proxy saw. A hop count trusts that many hops. It is given as a function because Fastify takes a
 * bare number as trusting nothing (a count cannot tell a proxy from a client that connects directly).
 */
function trustProxyOf(setting: Config['trustProxy']): false | string[] | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
}

/** Whether a portal answer shows it accepted the credentials: anything but no answer, a 401, a 429 or a 5xx. */
function acceptedCredentials(status: number | undefined): boolean {
  return status !== undefined && status !== 401 && status !== 429 && status < 500;
}
