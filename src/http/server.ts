/**
 * The HTTP face of the server: GraphQL at `/graphql` and the routes beside it (health, licence files).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import fastifyCors from '@fastify/cors';
import pinoPretty from 'pino-pretty';
import fastifyApollo from '@as-integrations/fastify';
import type { PortalClient } from '../portal/portalClient';
import { createApolloServer } from '../graphql/apollo';
import { createRequestContext, type RequestContext } from '../graphql/context';
import type { LogLevel, OperationLimits } from '../config';
import { AdmissionQueue } from '../graphql/admission';
import { registerLicenseFileRoute } from './licenseFileRoute';
import { clientErrorAnswer, registerErrorAnswers } from './errorAnswers';
import { registerPlayground } from './playground';
import { ServerMetrics } from './metrics';
import { Readiness, registerHealthRoutes } from './health';
import { LicenseGenerator } from '../idempotency/idempotentGenerate';
import type { KeyStore } from '../idempotency/keyStore';
import type { LoaderStrategy } from '../loaders/loaders';
import { ListSizeMemory } from '../graphql/resultSize';
import { ErrorCode } from '../graphql/errors';

export interface HttpServerOptions {
  portal: PortalClient;
  /** Where idempotency keys of generateLicense are kept. */
  keyStore: KeyStore;
  logLevel: LogLevel;
  /** `pretty` for people (development), `json` for machines. */
  logFormat: 'json' | 'pretty';
  /** Origins allowed to call the API from a browser (CORS); empty: none. */
  corsOrigins: string[];
  /** How long an answer of the portal keeps `/readyz` ready without asking it again. */
  readyCacheMs: number;
  bodyLimitBytes: number;
  introspection: boolean;
  upstreamCallBudget: number;
  loaderStrategy: LoaderStrategy;
  /** Every response carries its upstream calls (development); otherwise only when asked by `x-upstream-calls: 1`. */
  alwaysShowUpstreamCalls: boolean;
  limits: OperationLimits;
  /** Most bytes of a portal answer: also the bound of a licence file passed on. */
  portalMaxResponseBytes: number;
  /** The GraphiQL playground; `demoAuthorization` pre-fills the demo account's header (embedded emulator only). */
  playground: { enabled: boolean; demoAuthorization?: string };
}

/** The request header that carries a request id; taken when well-formed, made otherwise, and always answered. */
const REQUEST_ID_HEADER = 'x-request-id';

/** The request header that asks for the upstream calls in the response's `extensions.upstream`. */
const SHOW_UPSTREAM_CALLS_HEADER = 'x-upstream-calls';

/** Builds the Fastify app with Apollo mounted; `listen` is the caller's. */
export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: options.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], remove: true },
      ...(options.logFormat === 'pretty'
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
    bodyLimit: options.bodyLimitBytes,
    genReqId: requestIdOf,
    clientErrorHandler: clientErrorAnswer,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
  });
  const admission = new AdmissionQueue(options.limits.maxConcurrentOperations, options.limits.maxQueuedOperations);
  const metrics = new ServerMetrics({
    keyStoreSize: () => options.keyStore.size(),
    admission: () => admission.load(),
    breaker: () => options.portal.breaker.current(),
  });
  // Once closing, `/readyz` says so, and every response asks its client to close the connection: a keep-alive
  // socket whose request was in flight at SIGTERM then closes with that response, instead of holding shutdown
  // until the grace period ends.
  let closing = false;
  const readiness = new Readiness({ portal: options.portal, cacheMs: options.readyCacheMs, closing: () => closing });
  const apollo = createApolloServer({
    logger: { error: (details, message) => app.log.error(details, message) },
    observeOperation: (name, outcome, seconds) => metrics.observeOperation(name, outcome, seconds),
    introspection: options.introspection,
    upstreamCallBudget: options.loaderStrategy === 'baseline' ? Number.MAX_SAFE_INTEGER : options.upstreamCallBudget,
    prefetch: options.loaderStrategy === 'planned',
    limits: options.limits,
    admission,
    listSizes: new ListSizeMemory(),
  });
  await apollo.start();
  const generator = new LicenseGenerator(options.portal, options.keyStore);

  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (closing) reply.header('connection', 'close');
  });
  // The last line behind MAX_RESULT_OBJECTS: an answer over MAX_RESPONSE_BYTES is not sent. A mutation's answer is
  // always sent, whatever its size: it may carry the only word of a licence just generated.
  const operationTypes = new WeakMap<object, () => string | undefined>();
  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload !== 'string' || payload.length * 3 <= options.limits.maxResponseBytes) return payload;
    const bytes = Buffer.byteLength(payload);
    if (bytes <= options.limits.maxResponseBytes || operationTypes.get(request)?.() === 'mutation') return payload;
    request.log.warn(
      { responseBytes: bytes, maxResponseBytes: options.limits.maxResponseBytes },
      'response too large: not sent',
    );
    reply.code(400);
    return JSON.stringify({
      errors: [
        {
          message: `This operation's answer is ${bytes} bytes; at most ${options.limits.maxResponseBytes} are sent. Ask for less: give lists \`first\`, or select fewer fields (a licence file's text and base64 are large).`,
          extensions: {
            code: ErrorCode.BAD_USER_INPUT,
            reason: 'RESPONSE_TOO_LARGE',
            responseBytes: bytes,
            maxResponseBytes: options.limits.maxResponseBytes,
          },
        },
      ],
    });
  });
  if (options.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: options.corsOrigins,
      methods: ['GET', 'POST'],
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

  registerErrorAnswers(app, { bodyLimitBytes: options.bodyLimitBytes, graphqlPath: '/graphql' });
  registerHealthRoutes(app, readiness);
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  registerLicenseFileRoute(app, options.portal, {
    onCall: (call) => {
      metrics.observeUpstreamCall(call);
      if (call.status !== undefined) readiness.portalAnswered();
    },
    maxBytes: options.portalMaxResponseBytes,
    timeoutMs: options.limits.operationTimeoutMs,
  });
  // The playground takes GET /graphql from browsers away from Apollo by a route constraint (see playground.ts).
  if (options.playground.enabled) registerPlayground(app, { demoAuthorization: options.playground.demoAuthorization });

  await app.register(fastifyApollo(apollo), {
    path: '/graphql',
    context: async (request, reply): Promise<RequestContext> => {
      const context = createRequestContext({
        portal: options.portal,
        generator,
        strategy: options.loaderStrategy,
        authorization: headerOf(request.headers.authorization),
        showUpstreamCalls:
          options.alwaysShowUpstreamCalls ||
          /^(1|true|yes)$/i.test(headerOf(request.headers[SHOW_UPSTREAM_CALLS_HEADER]) ?? ''),
        timeoutMs: options.limits.operationTimeoutMs,
        maxResultObjects: options.limits.maxResultObjects,
        clientGone: clientGoneSignal(reply.raw),
        log: request.log,
        onUpstreamCall: (call) => {
          metrics.observeUpstreamCall(call);
          if (call.status !== undefined) readiness.portalAnswered();
        },
        onBatch: (loader, size) => metrics.observeBatch(loader, size),
      });
      operationTypes.set(request, () => context.operationType);
      return context;
    },
  });

  // `app.close()` stops accepting, lets requests in flight finish, then stops Apollo.
  app.addHook('onClose', async () => {
    await apollo.stop();
  });
  return app;
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
