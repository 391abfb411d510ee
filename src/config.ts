/**
 * The server's settings, read once from the environment as `src/settings/declarations.ts` declares them, and put in the shape
 * the rest of the server reads. A bad value stops start-up with a message naming the variable, what it must be, and
 * what it was; nothing else in the server reads `process.env`.
 */
import type { PortalClientOptions } from './portal/portalClient';
import { ConfigError, readSetting, SETTINGS, settingText, type SettingName } from './settings/declarations';
import { printableUrl } from './settings/rules';

export { ConfigError } from './settings/declarations';

export type Config = ReturnType<typeof loadConfig>;
/** Limits on what one client can ask, each refused before any upstream call. */
export type OperationLimits = Config['limits'];
/** Limits per client (`src/http/clientLimits.ts`); a limit of 0 is off. */
export type ClientLimitSettings = Config['clientLimits'];
/** OpenTelemetry's tracing settings, read from its standard variables as its specification says. */
export type TracingSettings = NonNullable<Config['tracing']>;
export type TraceSamplerName = TracingSettings['sampler']['name'];

/** Safe by default: a deployment pointed at the real portal that forgets NODE_ENV runs as in production. */
function nodeEnvWhenUnset(portalUrlSet: boolean): 'development' | 'production' {
  return portalUrlSet ? 'production' : 'development';
}

/** Reads and checks every setting; throws a `ConfigError` naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env) {
  const setting = <N extends SettingName>(name: N) => readSetting(env, name);
  const trusted = trustedDocuments(setting('TRUSTED_DOCUMENTS_MODE'), setting('TRUSTED_DOCUMENTS_PATH'));
  const nodeEnv = setting('NODE_ENV') ?? nodeEnvWhenUnset(setting('PORTAL_URL') !== undefined);
  const metricsPort = setting('METRICS_PORT');
  const playgroundAsked = setting('PLAYGROUND');
  return {
    port: setting('PORT'),
    host: setting('HOST'),
    /** `/metrics` on a listener of its own, not on `port`; undefined: on `port`, beside the API. */
    metrics: metricsPort === undefined ? undefined : { port: metricsPort, host: setting('METRICS_HOST') },
    /** `development` serves the aids (playground, introspection, upstream calls in every response, pretty logs). */
    nodeEnv,
    /** Whether the GraphiQL playground is served (never under `enforce`). */
    playground: playground(playgroundAsked ?? nodeEnv === 'development', playgroundAsked !== undefined, trusted),
    /** The manifest of trusted documents and what is done with the rest; undefined: every operation runs. */
    trustedDocuments: trusted,
    logLevel: setting('LOG_LEVEL'),
    logFormat: setting('LOG_FORMAT') ?? (nodeEnv === 'development' ? 'pretty' : 'json'),
    /** Origins allowed to call the API from a browser; empty: none. */
    corsOrigins: setting('CORS_ORIGINS') ?? [],
    readyCacheMs: setting('READY_CACHE_MS'),
    bodyLimitBytes: setting('BODY_LIMIT_BYTES'),
    requestTimeoutMs: setting('HTTP_REQUEST_TIMEOUT_MS'),
    upstreamCallBudget: setting('UPSTREAM_CALL_BUDGET'),
    portal: {
      /** The portal's origin; undefined starts the embedded emulator and serves that. */
      url: setting('PORTAL_URL'),
      connections: setting('PORTAL_CONNECTIONS'),
      connectTimeoutMs: setting('PORTAL_CONNECT_TIMEOUT_MS'),
      headersTimeoutMs: setting('PORTAL_HEADERS_TIMEOUT_MS'),
      bodyTimeoutMs: setting('PORTAL_BODY_TIMEOUT_MS'),
      keepAliveTimeoutMs: setting('PORTAL_KEEP_ALIVE_TIMEOUT_MS'),
      maxRetries: setting('PORTAL_MAX_RETRIES'),
      retryBaseDelayMs: setting('PORTAL_RETRY_BASE_DELAY_MS'),
      breakerFailureThreshold: setting('BREAKER_FAILURE_THRESHOLD'),
      breakerCooldownMs: setting('BREAKER_COOLDOWN_MS'),
      maxResponseBytes: setting('PORTAL_MAX_RESPONSE_BYTES'),
      shareReads: setting('PORTAL_SHARE_READS'),
    } satisfies Omit<PortalClientOptions, 'origin' | 'tracing'> & { url: string | undefined },
    limits: {
      maxDepth: setting('MAX_DEPTH'),
      maxAliases: setting('MAX_ALIASES'),
      maxDirectives: setting('MAX_DIRECTIVES'),
      maxTokens: setting('MAX_TOKENS'),
      maxOperationsPerDocument: setting('MAX_OPERATIONS_PER_DOCUMENT'),
      maxResultObjects: setting('MAX_RESULT_OBJECTS'),
      maxResponseBytes: setting('MAX_RESPONSE_BYTES'),
      maxConcurrentOperations: setting('MAX_CONCURRENT_OPERATIONS'),
      maxQueuedOperations: setting('MAX_QUEUED_OPERATIONS'),
      maxConcurrentOperationsPerCaller: setting('MAX_CONCURRENT_OPERATIONS_PER_CALLER'),
      operationTimeoutMs: setting('OPERATION_TIMEOUT_MS'),
    },
    introspection: setting('INTROSPECTION') ?? nodeEnv === 'development',
    /** Whether the schema is served as a Federation 2 subgraph (`_service`, `_entities`, `@key`s). */
    federationSubgraph: setting('FEDERATION_SUBGRAPH'),
    shutdownGraceMs: setting('SHUTDOWN_GRACE_MS'),
    /** Shared state of the replicas; undefined: in-memory stores. */
    redis: redisSettings(setting('REDIS_URL'), setting('CALLER_HASH_SECRET')),
    /** Browser sessions (`/auth/session` and its cookie); undefined: off (`SESSIONS=off`). */
    sessions: setting('SESSIONS')
      ? {
          idleTimeoutMs: setting('SESSION_IDLE_TIMEOUT_MS'),
          maxAgeMs: setting('SESSION_MAX_AGE_MS'),
          /** Undefined: a random key of this process's own (refused with Redis). */
          secret: sessionSecret(setting('SESSION_SECRET'), setting('REDIS_URL') !== undefined),
        }
      : undefined,
    /** Traces exported over OTLP/HTTP; undefined: off. */
    tracing: tracingSettings(setting),
    portalCacheTtlMs: setting('PORTAL_CACHE_TTL_MS'),
    portalCacheMaxBytes: setting('PORTAL_CACHE_MAX_BYTES'),
    clientLimits: {
      authFailureLimit: setting('AUTH_FAILURE_LIMIT'),
      authFailureLimitPerAddress: setting('AUTH_FAILURE_LIMIT_PER_ADDRESS'),
      authFailureLimitPerUser: setting('AUTH_FAILURE_LIMIT_PER_USER'),
      /** The failed logins' sliding window; also how long credentials the portal accepted are let through. */
      authFailureWindowMs: setting('AUTH_FAILURE_WINDOW_MS'),
      requestsPerMinute: setting('RATE_LIMIT_PER_MINUTE'),
    },
    /**
     * Whether the client's address is read from `X-Forwarded-For`: false (the socket's), a hop count, or the
     * proxies' addresses and CIDR ranges. Never true: the leftmost address, which the client writes itself.
     */
    trustProxy: setting('TRUST_PROXY'),
    idempotencyLeaseMs: leaseMs(setting('IDEMPOTENCY_LEASE_MS'), [
      setting('PORTAL_CONNECT_TIMEOUT_MS') + setting('PORTAL_HEADERS_TIMEOUT_MS') + setting('PORTAL_BODY_TIMEOUT_MS'),
      setting('OPERATION_TIMEOUT_MS'),
    ]),
    /** The embedded emulator, used when `PORTAL_URL` is not set. */
    emulator: {
      seed: setting('EMULATOR_SEED'),
      latencyMs: setting('EMULATOR_LATENCY_MS'),
      port: setting('EMULATOR_PORT'),
    },
  };
}

type SettingReader = <N extends SettingName>(name: N) => ReturnType<typeof readSetting<N>>;

function trustedDocuments(
  mode: 'enforce' | 'report' | undefined,
  path: string | undefined,
): { path: string; mode: 'enforce' | 'report' } | undefined {
  if (mode === undefined) return undefined;
  if (path === undefined) {
    throw new ConfigError(
      'TRUSTED_DOCUMENTS_PATH',
      `must name the manifest of trusted documents when TRUSTED_DOCUMENTS_MODE is ${mode}.`,
    );
  }
  return { path, mode };
}

/** The playground runs whatever a person types: never where only trusted documents may run. */
function playground(wanted: boolean, asked: boolean, trusted: { mode: 'enforce' | 'report' } | undefined): boolean {
  if (trusted?.mode !== 'enforce') return wanted;
  if (asked && wanted) {
    throw new ConfigError(
      'PLAYGROUND',
      'cannot be true with TRUSTED_DOCUMENTS_MODE=enforce: the playground runs any operation.',
    );
  }
  return false;
}

function redisSettings(
  url: string | undefined,
  secret: string | undefined,
): { url: string; callerHashSecret: string } | undefined {
  if (url === undefined) return undefined;
  if (secret === undefined) {
    throw new ConfigError(
      'CALLER_HASH_SECRET',
      'must be set, to at least 32 characters, the same on every replica, when REDIS_URL is set.',
    );
  }
  return { url, callerHashSecret: secret };
}

/**
 * `SESSION_SECRET`: with Redis every replica must open the sessions the others sealed, so it is required; without,
 * unset is a random key of this process's own. Its length is checked by its rule, which never echoes it.
 */
function sessionSecret(secret: string | undefined, shared: boolean): string | undefined {
  if (secret === undefined) {
    if (!shared) return undefined;
    throw new ConfigError(
      'SESSION_SECRET',
      'must be set, to at least 32 characters, the same on every replica, when REDIS_URL is set (or set SESSIONS=off).',
    );
  }
  return secret;
}

/** A lease shorter than a generate call may take would let a retry reconcile while the call still runs. */
function leaseMs(lease: number, atLeast: number[]): number {
  const longest = Math.max(...atLeast);
  if (lease < longest) {
    throw new ConfigError(
      'IDEMPOTENCY_LEASE_MS',
      `must be at least ${longest} (the portal's connect, headers and body timeouts together, and OPERATION_TIMEOUT_MS), but is ${lease}.`,
    );
  }
  return lease;
}

/**
 * OpenTelemetry's variables as its specification reads them: tracing is on with an OTLP endpoint and without
 * `OTEL_SDK_DISABLED=true`; a signal's own endpoint, protocol and headers win over the general ones. They are read
 * only when tracing is on, so a bad one does not stop a server that does not trace.
 */
function tracingSettings(setting: SettingReader) {
  if (setting('OTEL_SDK_DISABLED') || setting('OTEL_TRACES_EXPORTER') === 'none') return undefined;
  const tracesEndpoint = setting('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = setting('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (tracesEndpoint === undefined && endpoint === undefined) return undefined;
  const maxQueuedSpans = setting('OTEL_BSP_MAX_QUEUE_SIZE');
  const maxBatchSpans = setting('OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
  // A batch holds no more spans than may wait, as the specification says.
  if (maxBatchSpans > maxQueuedSpans) {
    throw new ConfigError(
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      `must be a whole number from 1 to OTEL_BSP_MAX_QUEUE_SIZE (${maxQueuedSpans}), but is ${maxBatchSpans}.`,
    );
  }
  return {
    /** Where spans are sent: the traces endpoint, or the OTLP endpoint with `v1/traces` appended. */
    url: tracesEndpoint ?? `${endpoint!.replace(/\/*$/, '')}/v1/traces`,
    protocol: setting('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? setting('OTEL_EXPORTER_OTLP_PROTOCOL'),
    /** Headers sent with every export, e.g. a vendor's API key; the traces' own win. */
    headers: { ...setting('OTEL_EXPORTER_OTLP_HEADERS'), ...setting('OTEL_EXPORTER_OTLP_TRACES_HEADERS') },
    serviceName: setting('OTEL_SERVICE_NAME'),
    /** `OTEL_RESOURCE_ATTRIBUTES`, besides `service.name`. */
    resourceAttributes: setting('OTEL_RESOURCE_ATTRIBUTES') ?? {},
    sampler: { name: setting('OTEL_TRACES_SAMPLER'), ratio: setting('OTEL_TRACES_SAMPLER_ARG') },
    /** OpenTelemetry's batch span processor: how spans wait for their export, and how long an export may take. */
    batch: {
      scheduleDelayMs: setting('OTEL_BSP_SCHEDULE_DELAY'),
      maxQueuedSpans,
      maxBatchSpans,
      /** 0: as long as the export takes. */
      exportTimeoutMs: setting('OTEL_BSP_EXPORT_TIMEOUT'),
    },
    /** How long the exporter may take over one export, its retries included. */
    timeoutMs: setting('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') ?? setting('OTEL_EXPORTER_OTLP_TIMEOUT'),
    compression: setting('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION') ?? setting('OTEL_EXPORTER_OTLP_COMPRESSION'),
  };
}

/**
 * The effective settings, as `NAME=value` lines: what start-up prints, all of them or only those set to something
 * other than their default. A secret (`secret: true` in `SETTINGS`) is printed as `(set)`, a URL without its
 * password.
 */
export function describeConfig(
  env: Record<string, string | undefined> = process.env,
  which: 'all' | 'changed' = 'all',
): string[] {
  const names = (Object.keys(SETTINGS) as SettingName[]).filter(
    (name) => which === 'all' || settingText(env, name) !== SETTINGS[name].default,
  );
  return names.map((name) => {
    const setting: { default: string; secret?: boolean; rule: { type: string } } = SETTINGS[name];
    const value = settingText(env, name);
    if (name === 'NODE_ENV' && value === '')
      return `NODE_ENV=(unset: ${nodeEnvWhenUnset(settingText(env, 'PORTAL_URL') !== '')})`;
    if (setting.secret) return `${name}=${value === '' ? '(unset)' : '(set)'}`;
    if (value === '') return `${name}=(unset)`;
    if (setting.rule.type === 'url') return `${name}=${printableUrls(value)}`;
    return `${name}=${value}`;
  });
}

/** URLs, comma-separated, each without its password (`redis://:secret@host` carries one). */
function printableUrls(value: string): string {
  return value
    .split(',')
    .map((item) => printableUrl(item.trim()))
    .join(',');
}
