/**
 * Entry point and composition root: builds every part of the server from the configuration (and the embedded portal
 * emulator when no `PORTAL_URL` is set), starts it, and closes it all cleanly on SIGTERM or SIGINT.
 */
import { ConfigError, describeConfig, loadConfig, type Config } from './config';
import { PortalClient } from './portal/portalClient';
import { createHttpServer, createMetricsServer } from './http/server';
import { ServerMetrics } from './http/metrics';
import { buildSchema } from 'graphql';
import { loadTypeDefs } from './graphql/apollo';
import { subgraphSchema } from './graphql/subgraph';
import { TrustedDocuments } from './http/trustedDocuments';
import { startEmulator, type Emulator } from './emulator';
import type { FastifyBaseLogger } from 'fastify';
import type { Server } from 'node:http';
import { MemoryKeyStore } from './idempotency/keyStore';
import { RedisKeyStore } from './idempotency/redisKeyStore';
import { randomBytes } from 'node:crypto';
import { SharedRedis } from './shared/redis';
import { MemoryListCache, RedisListCache } from './portal/listCache';
import { RedisKeyValueCache } from './shared/redisCache';
import { LicenseGenerator } from './idempotency/idempotentGenerate';
import { AdmissionQueue } from './graphql/admission';
import { ListSizeMemory } from './graphql/resultSize';
import type { LoadersFactory } from './loaders/loaders';
import { ClientLimits } from './http/clientLimits';
import { CallerKeys } from './http/callerKeys';
import { Tracing } from './tracing/tracing';
import type { OutageLog } from './shared/outageLog';
import { MemoryLimitCounters, RedisLimitCounters } from './http/limitCounters';
import { Sessions } from './sessions/sessions';
import { MemorySessionStore } from './sessions/sessionStore';
import { RedisSessionStore } from './sessions/redisSessionStore';

export interface RunningServer {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql`. */
  graphqlUrl: string;
  /** Where Prometheus scrapes: on the `METRICS_PORT` listener when set, else beside the API. */
  metricsUrl: string;
  /** Reads the trusted documents' manifest again (SIGHUP); false when there is none or the new one is bad. */
  reloadTrustedDocuments(): boolean;
  /** The embedded emulator, when no `PORTAL_URL` was given. */
  emulator: Emulator | undefined;
  close(): Promise<void>;
}

/** What a server is made with beside its configuration; the production server is made with nothing else. */
export interface ServerParts {
  /** How each request's loaders are made; the planned loaders unless given (the benchmark's baseline gives its own). */
  loaders?: LoadersFactory;
  /** Where spans go; as configured (`OTEL_*`) unless given (tests hand in a sink that keeps them in memory). */
  tracing?: Tracing;
  /**
   * The clock (epoch ms) of the idempotency keys' leases, the per-client limits' windows, the sessions' timeouts and
   * the portal's circuit breaker; `Date.now` unless given (tests move their own instead of waiting). Redis's own
   * expiry of shared entries keeps real time.
   */
  now?: () => number;
  /** How the portal client waits before a retry; a real timer unless given (tests move their clock on instead). */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
}

/** Starts everything the configuration asks for; the returned `close` stops it all. */
export async function startServer(config: Config, parts: ServerParts = {}): Promise<RunningServer> {
  // Read first: a manifest that cannot be used stops start-up before anything listens.
  const trustedDocuments = config.trustedDocuments
    ? new TrustedDocuments({
        ...config.trustedDocuments,
        // The schema served: a subgraph's operations (`_entities`) validate against the subgraph's.
        schema: config.federationSubgraph ? subgraphSchema(loadTypeDefs(), {}) : buildSchema(loadTypeDefs()),
        log: { warn: (details, message) => log.warn(details, message) },
        observe: (result, document) => metrics.observeTrustedDocument(result, document),
      })
    : undefined;
  const emulator =
    config.portal.url === undefined
      ? await startEmulator({
          port: config.emulator.port,
          seed: config.emulator.seed,
          latencyMs: config.emulator.latencyMs,
        })
      : undefined;
  // Shared state when replicas run (REDIS_URL), in-memory otherwise. Start-up does not wait for Redis.
  // Redis and the trace export may report before the HTTP layer (and its logger) exists: such a line goes to stderr.
  const logs: { to?: FastifyBaseLogger } = {};
  const log: OutageLog = {
    warn: (details, message) => (logs.to ? logs.to.warn(details, message) : process.stderr.write(`${message}\n`)),
    info: (details, message) => logs.to?.info(details, message),
  };
  const redis = config.redis ? new SharedRedis({ url: config.redis.url, log }) : undefined;
  // The caller HMAC's secret: shared by the replicas when they share state, this process's own otherwise.
  const callerSecret = config.redis ? Buffer.from(config.redis.callerHashSecret, 'utf8') : randomBytes(32);
  const listCache =
    config.portalCacheTtlMs === 0
      ? undefined
      : redis
        ? new RedisListCache(config.portalCacheTtlMs, redis, log, config.portalCacheMaxBytes)
        : new MemoryListCache(config.portalCacheTtlMs, config.portalCacheMaxBytes);
  const tracing = parts.tracing ?? (config.tracing ? Tracing.start(config.tracing, log) : undefined);
  const { url, ...clientSettings } = config.portal;
  const now = parts.now ?? Date.now;
  const portal = new PortalClient({
    origin: url ?? emulator!.url,
    ...clientSettings,
    ...(listCache ? { listCache } : {}),
    // Replicas learn of each other's writes through the shared cache's generations: with Redis and no cache, a read
    // here could join a call begun before a write through another replica, so reads are not shared.
    shareReads: clientSettings.shareReads && (!redis || listCache?.shared === true),
    ...(tracing ? { tracing } : {}),
    now,
    sleep: parts.sleep,
  });
  const keyStore = redis ? new RedisKeyStore(redis, undefined, now) : new MemoryKeyStore({ now });
  const generator = new LicenseGenerator(portal, keyStore, { leaseMs: config.idempotencyLeaseMs, now });
  const callerKeys = new CallerKeys(callerSecret);
  const clientLimits = new ClientLimits({
    ...config.clientLimits,
    counters: redis ? new RedisLimitCounters(redis, now) : new MemoryLimitCounters(now),
    secret: callerSecret,
    callerKeys,
    now,
  });
  // Browser sessions: in Redis for every replica, sealed under the shared SESSION_SECRET; else in this process.
  const sessions = config.sessions
    ? new Sessions({
        store: redis
          ? new RedisSessionStore(redis, config.sessions.idleTimeoutMs, now)
          : new MemorySessionStore({ idleTimeoutMs: config.sessions.idleTimeoutMs, now }),
        secret: config.sessions.secret === undefined ? randomBytes(32) : Buffer.from(config.sessions.secret, 'utf8'),
        idleTimeoutMs: config.sessions.idleTimeoutMs,
        maxAgeMs: config.sessions.maxAgeMs,
        now,
      })
    : undefined;
  const admission = new AdmissionQueue(
    {
      maxActive: config.limits.maxConcurrentOperations,
      maxQueued: config.limits.maxQueuedOperations,
      perCaller: config.limits.maxConcurrentOperationsPerCaller,
    },
    now,
  );
  const sharedState = redis ? () => ({ up: redis.isUp(), ...redis.counts }) : undefined;
  const metrics = new ServerMetrics({
    keyStoreSize: () => keyStore.size(),
    admission: () => admission.load(),
    breaker: () => portal.breaker.current(),
    cacheLookups: () => portal.cacheLookups,
    readsShared: () => portal.readsShared,
    keptReads: () => listCache?.keptReads ?? { served: 0, distrusted: 0 },
    clientLimits: () => clientLimits.counts,
    ...(sharedState ? { sharedState } : {}),
    ...(tracing?.exported ? { traceSpans: () => tracing.exported! } : {}),
  });
  const app = await createHttpServer({
    config,
    portal,
    metrics,
    generator,
    admission,
    listSizes: new ListSizeMemory(),
    clientLimits,
    callerKeys,
    ...(sessions ? { sessions } : {}),
    ...(parts.loaders ? { loaders: parts.loaders } : {}),
    ...(tracing ? { tracing } : {}),
    ...(redis ? { persistedQueries: new RedisKeyValueCache(redis, 'apq') } : {}),
    ...(sharedState ? { sharedState } : {}),
    ...(emulator
      ? { demoAccount: { username: emulator.accounts[0]!.username, password: emulator.accounts[0]!.password } }
      : {}),
    ...(trustedDocuments ? { trustedDocuments } : {}),
  });
  logs.to = app.log;
  const metricsAt = config.metrics;
  const metricsApp = metricsAt
    ? createMetricsServer(metrics, { log: app.log, requestTimeoutMs: config.requestTimeoutMs })
    : undefined;
  if (metricsAt && metricsApp) await metricsApp.listen(metricsAt);
  await app.listen({ port: config.port, host: config.host });
  const origin = originOf(app.server, config.host);
  return {
    graphqlUrl: `${origin}/graphql`,
    metricsUrl: `${metricsAt && metricsApp ? originOf(metricsApp.server, metricsAt.host) : origin}/metrics`,
    emulator,
    reloadTrustedDocuments: () => trustedDocuments?.reload() ?? false,
    /**
     * Stops accepting connections, lets the requests in flight finish (for at most the grace period, after which
     * their connections are closed), then closes the metrics listener, the upstream pool and the embedded emulator.
     */
    async close() {
      const force = setTimeout(() => app.server.closeAllConnections(), config.shutdownGraceMs);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
      await metricsApp?.close();
      await portal.close();
      await redis?.close();
      await emulator?.close();
      // The spans of the last requests are sent before the process exits.
      await tracing?.shutdown();
    },
  };
}

/** The origin a client on this host reaches a listener at: every interface (0.0.0.0) is reached at 127.0.0.1. */
function originOf(server: Server, configuredHost: string): string {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const host = configuredHost === '0.0.0.0' ? '127.0.0.1' : configuredHost;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function banner(server: RunningServer, config: Config): string {
  const lines = [`GraphQL server ready at ${server.graphqlUrl}`];
  if (config.metrics) lines.push(`Metrics (Prometheus) at ${server.metricsUrl}, on their own port`);
  if (config.playground) lines.push(`Playground (GraphiQL): open ${new URL('/', server.graphqlUrl).href} in a browser`);
  if (config.federationSubgraph)
    lines.push('Serving an Apollo Federation 2 subgraph (_service, _entities): npm run subgraph:sdl prints its SDL');
  if (!server.emulator) {
    lines.push(
      `Serving the Customer Portal at ${config.portal.url}; send your own portal credentials as Authorization: Basic …`,
    );
    return lines.join('\n');
  }
  const account = server.emulator.accounts[0]!;
  lines.push(
    `No PORTAL_URL set: serving the embedded portal emulator at ${server.emulator.url} (seed: ${config.emulator.seed}).`,
    'Demo accounts (user / password, customer):',
    ...server.emulator.accounts.map((demo) => `  ${demo.username} / ${demo.password}  (${demo.customer})`),
    '',
    'Try a nested query:',
    `  curl -s ${server.graphqlUrl} -u ${account.username}:${account.password} -H 'content-type: application/json' \\`,
    `    -d '{"query":"{ productAssignments { productName remainingLicenseCount licenses(first: 3) { totalCount nodes { hwid expirationDate expired detail { fileName products } } } } }"}'`,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const server = await startServer(config);
  // The signals are handled before anything is printed: a supervisor that stops the server as soon as it reads the
  // banner must not find Node's default (ending at once, without draining) still in place.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: closing\n`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Error while closing: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  // SIGHUP reads the trusted documents again; without them it keeps its default (the process ends).
  if (config.trustedDocuments)
    process.on('SIGHUP', () => {
      if (server.reloadTrustedDocuments()) process.stdout.write('SIGHUP: the trusted documents were reloaded\n');
    });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // What a person needs first: the settings changed from their defaults (all of them when debugging), then the URL.
  const verbose = config.logLevel === 'debug' || config.logLevel === 'trace';
  const settings = describeConfig(process.env, verbose ? 'all' : 'changed');
  process.stdout.write(
    `${verbose ? 'Configuration' : 'Settings changed from their defaults (LOG_LEVEL=debug prints all)'}:\n${
      settings.length > 0 ? settings.map((line) => `  ${line}`).join('\n') : '  (none)'
    }\n\n`,
  );
  process.stdout.write(`${banner(server, config)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`Start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
