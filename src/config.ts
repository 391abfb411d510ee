/**
 * The server's settings, read once from the environment. A bad value stops start-up with a message naming the
 * variable, what it must be, and what it was; nothing else in the server reads `process.env`.
 */
import type { PortalClientOptions } from './portal/portalClient';

/** The portal client's settings, and the portal to serve. */
interface PortalSettings extends Omit<PortalClientOptions, 'origin' | 'tracing'> {
  /** The portal's origin; undefined starts the embedded emulator and serves that. */
  url: string | undefined;
}

/** Limits on what one client can ask, each refused before any upstream call. */
export interface OperationLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  /** Most operations one document may hold. */
  maxOperationsPerDocument: number;
  /** Most objects and list items one answer may hold (`src/planner/resultSize.ts`). */
  maxResultObjects: number;
  /** Largest response body sent, in bytes: the last line behind `maxResultObjects`. */
  maxResponseBytes: number;
  /** Most operations executing at once; more wait in the queue. */
  maxConcurrentOperations: number;
  /** Most operations waiting; past it, requests are refused at once with 503. */
  maxQueuedOperations: number;
  /** Most operations of one caller (one `Authorization`) executing at once. */
  maxConcurrentOperationsPerCaller: number;
  /** The overall deadline of one operation. */
  operationTimeoutMs: number;
}

export interface Config {
  port: number;
  host: string;
  /** `/metrics` on a listener of its own, not on `port`; undefined: on `port`, beside the API. */
  metrics: { port: number; host: string } | undefined;
  /** `development` serves the aids (playground, introspection, upstream calls in every response, pretty logs). */
  nodeEnv: NodeEnv;
  logLevel: LogLevel;
  logFormat: 'json' | 'pretty';
  /** Origins allowed to call the API from a browser; empty: none. */
  corsOrigins: string[];
  /** How long an answer of the portal keeps `/readyz` ready without asking it again. */
  readyCacheMs: number;
  /** Largest request body accepted, in bytes. */
  bodyLimitBytes: number;
  /** How long a request's headers and body may take to arrive; past it, 408 and its connection is closed. */
  requestTimeoutMs: number;
  portal: PortalSettings;
  /** Most upstream calls one operation may make; an operation estimated above it is refused before any call. */
  upstreamCallBudget: number;
  limits: OperationLimits;
  /** Introspection and field suggestions (off by default in production). */
  introspection: boolean;
  /** How long SIGTERM waits for requests in flight before it closes their connections. */
  shutdownGraceMs: number;
  /** Whether the GraphiQL playground is served at `GET /` and `GET /graphql` from a browser (never under `enforce`). */
  playground: boolean;
  /** The manifest of trusted documents and what is done with the rest; undefined: every operation runs, unreported. */
  trustedDocuments: { path: string; mode: 'enforce' | 'report' } | undefined;
  /** Shared state of the replicas; undefined: in-memory stores. */
  redis: { url: string; callerHashSecret: string } | undefined;
  /** Browser sessions (`/auth/session` and its cookie); undefined: off (`SESSIONS=off`). */
  sessions: SessionSettings | undefined;
  /** How long list answers are cached per caller; 0: off. */
  portalCacheTtlMs: number;
  /** How long a claim on an idempotency key lasts. */
  idempotencyLeaseMs: number;
  clientLimits: ClientLimitSettings;
  /**
   * Whether the client's address is read from `X-Forwarded-For`: false (the socket's address), a hop count (the
   * proxies in front of this server), or the proxies' addresses and CIDR ranges. Never true: the leftmost address,
   * which the client writes itself.
   */
  trustProxy: false | number | string[];
  /** Traces exported over OTLP/HTTP; undefined: off (no OTLP endpoint set, or `OTEL_SDK_DISABLED=true`). */
  tracing: TracingSettings | undefined;
  /** The embedded emulator, used when `PORTAL_URL` is not set. */
  emulator: { seed: 'demo' | 'large'; latencyMs: number; port: number };
}

/** Limits per client (`src/http/clientLimits.ts`); a limit of 0 is off. */
export interface ClientLimitSettings {
  /** Failed logins per address and user name in the window. */
  authFailureLimit: number;
  /** Failed logins per address in the window, whatever the user names. */
  authFailureLimitPerAddress: number;
  /** Failed logins per user name in the window, from whatever addresses. */
  authFailureLimitPerUser: number;
  /** The failed logins' sliding window; also how long credentials the portal accepted are let through. */
  authFailureWindowMs: number;
  /** Requests per address per minute. */
  requestsPerMinute: number;
}

/** Browser sessions: how long one lasts, and what its credentials' keys are derived from. */
interface SessionSettings {
  /** A session ends after this long without a request. */
  idleTimeoutMs: number;
  /** A session ends at the latest this long after its sign-in. */
  maxAgeMs: number;
  /** `SESSION_SECRET`; undefined: a random key of this process's own (required with Redis). */
  secret: string | undefined;
}

/** OpenTelemetry's tracing settings, read from its standard variables as its specification says. */
export interface TracingSettings {
  /** Where spans are sent: the traces endpoint, or the OTLP endpoint with `v1/traces` appended. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  /** Headers sent with every export (`OTEL_EXPORTER_OTLP_HEADERS`), e.g. a vendor's API key. */
  headers: Record<string, string>;
  serviceName: string;
  /** `OTEL_RESOURCE_ATTRIBUTES`, besides `service.name`. */
  resourceAttributes: Record<string, string>;
  sampler: { name: TraceSamplerName; ratio: number };
  /** OpenTelemetry's batch span processor: how spans wait for their export, and how long an export may take. */
  batch: {
    /** How long the first span of a batch waits for more (`OTEL_BSP_SCHEDULE_DELAY`). */
    scheduleDelayMs: number;
    /** Spans waiting, at most; past it new ones are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`). */
    maxQueuedSpans: number;
    /** Spans of one export, at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`). */
    maxBatchSpans: number;
    /** How long the processor waits for one export before the next; 0: as long as it takes (`OTEL_BSP_EXPORT_TIMEOUT`). */
    exportTimeoutMs: number;
  };
  /** How long the exporter may take over one export, its retries included (`OTEL_EXPORTER_OTLP_TIMEOUT`). */
  timeoutMs: number;
  /** Whether exports are gzipped (`OTEL_EXPORTER_OTLP_COMPRESSION`). */
  compression: 'gzip' | 'none';
}

export type TraceSamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';
const TRACE_SAMPLERS: readonly TraceSamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
type NodeEnv = 'development' | 'production' | 'test';
const NODE_ENVS: readonly NodeEnv[] = ['development', 'production', 'test'];
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Every variable the server reads, with its default and meaning: the README's configuration table follows it. */
export const SETTINGS = {
  PORT: { default: '4000', meaning: 'TCP port of the GraphQL server (0: any free port).' },
  HOST: { default: '127.0.0.1', meaning: 'Interface to listen on (0.0.0.0 for every interface).' },
  METRICS_PORT: {
    default: '',
    meaning:
      'Serve GET /metrics on a listener of its own at this port (0: any free port); PORT then answers 404 for it. Unset: on PORT.',
  },
  METRICS_HOST: {
    default: '127.0.0.1',
    meaning: 'Interface of the METRICS_PORT listener (0.0.0.0 for every interface, for a scraper on another host).',
  },
  PORTAL_URL: {
    default: '',
    meaning:
      'Origin of the Customer Portal, e.g. https://customerportal.innovatrics.com. Unset: start the embedded emulator.',
  },
  PORTAL_CONNECTIONS: {
    default: '32',
    meaning: 'Most sockets open to the portal at once (one keep-alive pool per origin).',
  },
  PORTAL_CONNECT_TIMEOUT_MS: { default: '5000', meaning: 'Time to open a connection to the portal.' },
  PORTAL_HEADERS_TIMEOUT_MS: {
    default: '10000',
    meaning: 'Time from sending a request to the portal to its response headers.',
  },
  PORTAL_BODY_TIMEOUT_MS: { default: '10000', meaning: 'Most time between two chunks of a portal response body.' },
  PORTAL_KEEP_ALIVE_TIMEOUT_MS: { default: '4000', meaning: 'How long an idle connection to the portal stays open.' },
  PORTAL_MAX_RESPONSE_BYTES: {
    default: '16777216',
    meaning:
      "Largest portal answer read into memory (16 MiB; 16x the large seed's biggest list); a longer one is cut off and is UPSTREAM_INVALID_RESPONSE. Also the most bytes of a licence file streamed to a client.",
  },
  UPSTREAM_CALL_BUDGET: {
    default: '50',
    meaning: 'Most portal calls one operation may make; an operation estimated above it is refused before any call.',
  },
  PORTAL_MAX_RETRIES: {
    default: '2',
    meaning: 'Most retries of a safe read (never of generate), on connection errors, 502, 503, 504 and 429.',
  },
  PORTAL_RETRY_BASE_DELAY_MS: {
    default: '100',
    meaning: 'First retry backoff; doubled at each retry, with jitter; a Retry-After is honoured within the deadline.',
  },
  BREAKER_FAILURE_THRESHOLD: {
    default: '5',
    meaning: 'Portal failures in a row that open the circuit breaker (calls then fail at once).',
  },
  BREAKER_COOLDOWN_MS: {
    default: '5000',
    meaning: 'How long an open breaker refuses calls before it lets one probe through.',
  },
  OPERATION_TIMEOUT_MS: {
    default: '30000',
    meaning: 'Overall deadline of one GraphQL operation; calls past it are UPSTREAM_TIMEOUT.',
  },
  MAX_CONCURRENT_OPERATIONS: {
    default: '64',
    meaning: 'Most GraphQL operations executing at once; more wait in a queue.',
  },
  MAX_QUEUED_OPERATIONS: {
    default: '500',
    meaning:
      'Most operations waiting; past it, the caller holding the most of the line is refused (503 OVERLOADED), its newest first.',
  },
  MAX_CONCURRENT_OPERATIONS_PER_CALLER: {
    default: '16',
    meaning:
      'Most operations of one caller (one Authorization; requests without one are one caller) executing at once; waiting operations are taken from the callers in turn.',
  },
  MAX_DEPTH: { default: '10', meaning: 'Most nested selection sets in an operation.' },
  MAX_ALIASES: { default: '30', meaning: 'Most aliases in an operation.' },
  MAX_DIRECTIVES: { default: '50', meaning: 'Most directives in an operation.' },
  MAX_TOKENS: { default: '2000', meaning: 'Most tokens in an operation document.' },
  MAX_OPERATIONS_PER_DOCUMENT: {
    default: '20',
    meaning:
      'Most operations one document may hold; a document with more is refused in validation (GRAPHQL_VALIDATION_FAILED) before any is compiled.',
  },
  MAX_RESULT_OBJECTS: {
    default: '100000',
    meaning:
      'Most objects and list items one answer may hold; an operation over it is refused (RESULT_TOO_LARGE) before it is resolved.',
  },
  MAX_RESPONSE_BYTES: {
    default: '33554432',
    meaning:
      'Largest GraphQL response body sent, in bytes (32 MiB); a larger one is replaced by a RESPONSE_TOO_LARGE error.',
  },
  INTROSPECTION: {
    default: '',
    meaning:
      'true or false: schema introspection and the suggestions of names in error messages ("Did you mean …?"). Default: on in development only.',
  },
  SHUTDOWN_GRACE_MS: {
    default: '10000',
    meaning: 'On SIGTERM, how long requests in flight may finish before their connections are closed.',
  },
  BODY_LIMIT_BYTES: { default: '102400', meaning: 'Largest GraphQL request body accepted, in bytes (larger: 413).' },
  HTTP_REQUEST_TIMEOUT_MS: {
    default: '30000',
    meaning:
      "How long a request's headers and body may take to arrive, in milliseconds (1000 to 600000); past it, 408 and the connection is closed. Idle keep-alive connections are not affected.",
  },
  PLAYGROUND: {
    default: '',
    meaning: 'true or false: serve the GraphiQL playground. Default: on in development only.',
  },
  TRUSTED_DOCUMENTS_MODE: {
    default: '',
    meaning:
      "enforce: run only the manifest's documents, refusing the rest before parsing (404 PERSISTED_QUERY_NOT_IN_LIST, 403 QUERY_NOT_IN_PERSISTED_QUERY_LIST), and no playground; report: run everything, logging each operation not in it once and counting it. Unset: every operation runs and the manifest is not read.",
  },
  TRUSTED_DOCUMENTS_PATH: {
    default: '',
    meaning:
      "The manifest of trusted documents: graphql-codegen's persisted-documents.json or an Apollo persisted query manifest. Required with TRUSTED_DOCUMENTS_MODE; read at start-up and on SIGHUP.",
  },
  LOG_FORMAT: { default: '', meaning: 'json or pretty. Default: pretty when NODE_ENV=development, else json.' },
  CORS_ORIGINS: {
    default: '',
    meaning:
      'Comma-separated origins allowed to call the API from a browser, e.g. https://app.example.com. Empty: no CORS.',
  },
  READY_CACHE_MS: {
    default: '5000',
    meaning: 'How long a portal answer keeps GET /readyz ready without asking the portal again.',
  },
  LOG_LEVEL: { default: 'info', meaning: 'fatal, error, warn, info, debug, trace or silent.' },
  NODE_ENV: {
    default: '',
    meaning:
      'development, production or test. Unset: production when PORTAL_URL is set, development on the embedded emulator. Only development serves its aids by default: the playground, introspection, upstream calls in every response, pretty logs.',
  },
  PORTAL_CACHE_TTL_MS: {
    default: '0',
    meaning:
      "How long the portal's list answers are cached per caller (0: off). With REDIS_URL, in Redis for every replica; else in this process. A licence made in the portal's own pages shows up after at most this long.",
  },
  REDIS_URL: {
    default: '',
    meaning:
      "Redis shared by the replicas, e.g. redis://127.0.0.1:6379/0: idempotency keys, browser sessions, the login limits' counters, persisted queries and the read cache. Unset: in-memory stores (one process).",
  },
  CALLER_HASH_SECRET: {
    default: '',
    secret: true,
    meaning:
      'Secret of the HMAC that scopes idempotency keys to callers, the same on every replica (at least 32 characters). Required with REDIS_URL; never logged or stored.',
  },
  SESSIONS: {
    default: 'on',
    meaning:
      'on or off: browser sessions, POST, GET and DELETE /auth/session and the portal_session cookie they give (see the README\'s "Browser apps: sessions"). off: the routes answer 404 and the cookie is ignored.',
  },
  SESSION_SECRET: {
    default: '',
    secret: true,
    meaning:
      "Secret the keys that encrypt sessions' credentials are derived from (HKDF), the same on every replica (at least 32 characters). Required with REDIS_URL unless SESSIONS=off; unset without Redis: a random key per process (sessions end at a restart). Never logged or stored.",
  },
  SESSION_IDLE_TIMEOUT_MS: {
    default: '1800000',
    meaning: 'A session ends after this long without a request, in milliseconds (1000 to 604800000).',
  },
  SESSION_MAX_AGE_MS: {
    default: '43200000',
    meaning:
      'A session ends at the latest this long after its sign-in, however busy, in milliseconds (1000 to 2592000000).',
  },
  IDEMPOTENCY_LEASE_MS: {
    default: '60000',
    meaning:
      "How long a replica's claim on an idempotency key lasts before a retry may reconcile in its place; at least the portal's connect, headers and body timeouts together, and the operation deadline.",
  },
  AUTH_FAILURE_LIMIT: {
    default: '10',
    meaning:
      "Failed logins (the portal's 401 to a request with credentials) per client address and user name in AUTH_FAILURE_WINDOW_MS; past it, that user name's credentials from that address are refused (429 RATE_LIMITED, reason AUTH_FAILURES) unless the portal accepted them within the window. 0: no limit.",
  },
  AUTH_FAILURE_LIMIT_PER_ADDRESS: {
    default: '100',
    meaning:
      'Failed logins per client address in AUTH_FAILURE_WINDOW_MS, whatever the user names; past it, credentials from that address are refused (reason AUTH_FAILURES_ADDRESS) unless the portal accepted them within the window. 0: no limit.',
  },
  AUTH_FAILURE_LIMIT_PER_USER: {
    default: '50',
    meaning:
      "Failed logins per user name in AUTH_FAILURE_WINDOW_MS, from whatever addresses; past it, that user name's credentials are refused (reason AUTH_FAILURES_USER) unless the portal accepted them within the window. 0: no limit.",
  },
  AUTH_FAILURE_WINDOW_MS: {
    default: '300000',
    meaning:
      'The sliding window of the three AUTH_FAILURE_LIMIT settings: a failure older than this no longer counts, and credentials the portal accepted within it are never held back.',
  },
  RATE_LIMIT_PER_MINUTE: {
    default: '6000',
    meaning:
      'Requests per client address per minute to /graphql and the file route (429 RATE_LIMITED past it, with RateLimit fields). 0: no limit.',
  },
  TRUST_PROXY: {
    default: 'false',
    meaning:
      "Where the client's address comes from: false (the socket's), a hop count (1 to 20: the proxies in front of this server, e.g. 1 behind one ingress), or the proxies' addresses or CIDR ranges, comma-separated; the address is then the one the nearest of them saw, read from the right of X-Forwarded-For. true is refused: it takes the leftmost address, which the client writes itself.",
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    default: '',
    meaning:
      'OTLP/HTTP endpoint that receives traces, e.g. http://collector:4318 (v1/traces is appended). Unset (and no OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): no tracing.',
  },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
    default: '',
    meaning:
      'The traces endpoint as a whole URL, e.g. http://collector:4318/v1/traces; wins over OTEL_EXPORTER_OTLP_ENDPOINT.',
  },
  OTEL_EXPORTER_OTLP_PROTOCOL: {
    default: 'http/protobuf',
    meaning: 'http/protobuf or http/json (grpc is not offered).',
  },
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: {
    default: '',
    meaning: 'The protocol for traces; wins over OTEL_EXPORTER_OTLP_PROTOCOL.',
  },
  OTEL_EXPORTER_OTLP_HEADERS: {
    default: '',
    secret: true,
    meaning: 'Headers sent with every export, key=value pairs comma-separated, values URL-encoded (e.g. an API key).',
  },
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: {
    default: '',
    secret: true,
    meaning: 'Headers for trace exports; added to OTEL_EXPORTER_OTLP_HEADERS, winning where both name one.',
  },
  OTEL_SERVICE_NAME: {
    default: 'portal-graphql',
    meaning: 'The service.name of every span; wins over OTEL_RESOURCE_ATTRIBUTES.',
  },
  OTEL_RESOURCE_ATTRIBUTES: {
    default: '',
    meaning:
      'Resource attributes of every span, key=value pairs comma-separated, e.g. deployment.environment.name=prod.',
  },
  OTEL_TRACES_SAMPLER: {
    default: 'parentbased_always_on',
    meaning:
      "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio: which traces are recorded (parentbased: as the client's traceparent says, else by the rest of the name).",
  },
  OTEL_TRACES_SAMPLER_ARG: { default: '1', meaning: 'The ratio of traces the traceidratio samplers record, 0 to 1.' },
  OTEL_TRACES_EXPORTER: {
    default: 'otlp',
    meaning: 'otlp, or none: no tracing, as with OTEL_SDK_DISABLED=true (no other exporter is offered).',
  },
  OTEL_EXPORTER_OTLP_COMPRESSION: {
    default: 'none',
    meaning: 'gzip, or none: whether exports are gzipped (about a tenth of the bytes, for a collector far away).',
  },
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: {
    default: '',
    meaning: 'The same for trace exports; wins over OTEL_EXPORTER_OTLP_COMPRESSION.',
  },
  OTEL_EXPORTER_OTLP_TIMEOUT: {
    default: '10000',
    meaning: 'How long the exporter may take over one export, its retries included, in milliseconds (1 to 600000).',
  },
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: {
    default: '',
    meaning: 'The same for trace exports; wins over OTEL_EXPORTER_OTLP_TIMEOUT.',
  },
  OTEL_BSP_SCHEDULE_DELAY: {
    default: '5000',
    meaning:
      'How long the first span of a batch waits for more before the batch is sent, in milliseconds (0 to 600000).',
  },
  OTEL_BSP_MAX_QUEUE_SIZE: {
    default: '2048',
    meaning: 'Spans waiting to be sent, at most (1 to 100000); past it new spans are dropped and counted, not held.',
  },
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: {
    default: '512',
    meaning: 'Spans of one export, at most (1 to OTEL_BSP_MAX_QUEUE_SIZE).',
  },
  OTEL_BSP_EXPORT_TIMEOUT: {
    default: '30000',
    meaning:
      'How long the batch processor waits for one export before it sends the next, in milliseconds (0 to 600000; 0: as long as the export takes).',
  },
  OTEL_SDK_DISABLED: { default: 'false', meaning: 'true turns tracing off whatever else is set.' },
  EMULATOR_SEED: {
    default: 'demo',
    meaning: "Embedded emulator's data: demo (small, realistic) or large (thousands of licences).",
  },
  EMULATOR_LATENCY_MS: { default: '0', meaning: 'Latency the embedded emulator adds to every answer.' },
  EMULATOR_PORT: { default: '0', meaning: 'Port of the embedded emulator (0: any free port).' },
} as const;

export type SettingName = keyof typeof SETTINGS;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: SettingName,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** Reads and checks every setting; throws a `ConfigError` naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const read = (name: SettingName): string => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? SETTINGS[name].default : value.trim();
  };
  const integer = (name: SettingName, min: number, max: number): number => {
    const text = read(name);
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(name, `must be a whole number from ${min} to ${max}, but is ${JSON.stringify(text)}.`);
    }
    return value;
  };
  const oneOf = <T extends string>(name: SettingName, allowed: readonly T[]): T => {
    const text = read(name);
    if (!(allowed as readonly string[]).includes(text)) {
      throw new ConfigError(name, `must be one of ${allowed.join(', ')}, but is ${JSON.stringify(text)}.`);
    }
    return text as T;
  };
  const flag = (name: SettingName, fallback: boolean): boolean => {
    const text = read(name);
    if (text === '') return fallback;
    if (/^(true|1|yes|on)$/i.test(text)) return true;
    if (/^(false|0|no|off)$/i.test(text)) return false;
    throw new ConfigError(name, `must be true or false, but is ${JSON.stringify(text)}.`);
  };
  const trusted = trustedDocuments(
    read('TRUSTED_DOCUMENTS_MODE') === '' ? '' : oneOf('TRUSTED_DOCUMENTS_MODE', ['enforce', 'report'] as const),
    read('TRUSTED_DOCUMENTS_PATH'),
  );
  // Safe by default: a deployment pointed at the real portal that forgets NODE_ENV runs as in production.
  const nodeEnv =
    read('NODE_ENV') === '' ? (read('PORTAL_URL') === '' ? 'development' : 'production') : oneOf('NODE_ENV', NODE_ENVS);
  return {
    port: integer('PORT', 0, 65535),
    host: read('HOST'),
    metrics:
      read('METRICS_PORT') === '' ? undefined : { port: integer('METRICS_PORT', 0, 65535), host: read('METRICS_HOST') },
    nodeEnv,
    playground: playground(flag('PLAYGROUND', nodeEnv === 'development'), read('PLAYGROUND') !== '', trusted),
    trustedDocuments: trusted,
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS),
    logFormat:
      read('LOG_FORMAT') === ''
        ? nodeEnv === 'development'
          ? 'pretty'
          : 'json'
        : oneOf('LOG_FORMAT', ['json', 'pretty'] as const),
    corsOrigins: corsOrigins(read('CORS_ORIGINS')),
    readyCacheMs: integer('READY_CACHE_MS', 0, 3_600_000),
    bodyLimitBytes: integer('BODY_LIMIT_BYTES', 1024, 100 * 1024 * 1024),
    requestTimeoutMs: integer('HTTP_REQUEST_TIMEOUT_MS', 1000, 600_000),
    upstreamCallBudget: integer('UPSTREAM_CALL_BUDGET', 1, 100_000),
    portal: {
      url: portalUrl(read('PORTAL_URL')),
      connections: integer('PORTAL_CONNECTIONS', 1, 1024),
      connectTimeoutMs: integer('PORTAL_CONNECT_TIMEOUT_MS', 1, 600_000),
      headersTimeoutMs: integer('PORTAL_HEADERS_TIMEOUT_MS', 1, 600_000),
      bodyTimeoutMs: integer('PORTAL_BODY_TIMEOUT_MS', 1, 600_000),
      keepAliveTimeoutMs: integer('PORTAL_KEEP_ALIVE_TIMEOUT_MS', 1, 600_000),
      maxRetries: integer('PORTAL_MAX_RETRIES', 0, 10),
      retryBaseDelayMs: integer('PORTAL_RETRY_BASE_DELAY_MS', 0, 60_000),
      breakerFailureThreshold: integer('BREAKER_FAILURE_THRESHOLD', 1, 10_000),
      breakerCooldownMs: integer('BREAKER_COOLDOWN_MS', 1, 3_600_000),
      maxResponseBytes: integer('PORTAL_MAX_RESPONSE_BYTES', 1024, 1024 * 1024 * 1024),
    },
    limits: {
      maxDepth: integer('MAX_DEPTH', 1, 1000),
      maxAliases: integer('MAX_ALIASES', 0, 100_000),
      maxDirectives: integer('MAX_DIRECTIVES', 0, 100_000),
      maxTokens: integer('MAX_TOKENS', 10, 1_000_000),
      maxOperationsPerDocument: integer('MAX_OPERATIONS_PER_DOCUMENT', 1, 10_000),
      maxResultObjects: integer('MAX_RESULT_OBJECTS', 1, 100_000_000),
      maxResponseBytes: integer('MAX_RESPONSE_BYTES', 1024, 1024 * 1024 * 1024),
      maxConcurrentOperations: integer('MAX_CONCURRENT_OPERATIONS', 1, 100_000),
      maxQueuedOperations: integer('MAX_QUEUED_OPERATIONS', 0, 1_000_000),
      maxConcurrentOperationsPerCaller: integer('MAX_CONCURRENT_OPERATIONS_PER_CALLER', 1, 100_000),
      operationTimeoutMs: integer('OPERATION_TIMEOUT_MS', 1, 3_600_000),
    },
    introspection: flag('INTROSPECTION', nodeEnv === 'development'),
    shutdownGraceMs: integer('SHUTDOWN_GRACE_MS', 0, 3_600_000),
    redis: redisSettings(read('REDIS_URL'), env.CALLER_HASH_SECRET),
    sessions: flag('SESSIONS', true)
      ? {
          idleTimeoutMs: integer('SESSION_IDLE_TIMEOUT_MS', 1000, 7 * 24 * 3_600_000),
          maxAgeMs: integer('SESSION_MAX_AGE_MS', 1000, 30 * 24 * 3_600_000),
          secret: sessionSecret(env.SESSION_SECRET, read('REDIS_URL') !== ''),
        }
      : undefined,
    tracing: tracingSettings({ read, integer, oneOf }),
    portalCacheTtlMs: integer('PORTAL_CACHE_TTL_MS', 0, 3_600_000),
    clientLimits: {
      authFailureLimit: integer('AUTH_FAILURE_LIMIT', 0, 1_000_000),
      authFailureLimitPerAddress: integer('AUTH_FAILURE_LIMIT_PER_ADDRESS', 0, 1_000_000),
      authFailureLimitPerUser: integer('AUTH_FAILURE_LIMIT_PER_USER', 0, 1_000_000),
      authFailureWindowMs: integer('AUTH_FAILURE_WINDOW_MS', 1000, 7 * 24 * 3_600_000),
      requestsPerMinute: integer('RATE_LIMIT_PER_MINUTE', 0, 100_000_000),
    },
    trustProxy: trustProxy(read('TRUST_PROXY')),
    idempotencyLeaseMs: leaseMs(integer('IDEMPOTENCY_LEASE_MS', 1000, 3_600_000), [
      integer('PORTAL_CONNECT_TIMEOUT_MS', 1, 600_000) +
        integer('PORTAL_HEADERS_TIMEOUT_MS', 1, 600_000) +
        integer('PORTAL_BODY_TIMEOUT_MS', 1, 600_000),
      integer('OPERATION_TIMEOUT_MS', 1, 3_600_000),
    ]),
    emulator: {
      seed: oneOf('EMULATOR_SEED', ['demo', 'large'] as const),
      latencyMs: integer('EMULATOR_LATENCY_MS', 0, 60_000),
      port: integer('EMULATOR_PORT', 0, 65535),
    },
  };
}

function trustedDocuments(mode: '' | 'enforce' | 'report', path: string): Config['trustedDocuments'] {
  if (mode === '') return undefined;
  if (path === '') {
    throw new ConfigError(
      'TRUSTED_DOCUMENTS_PATH',
      `must name the manifest of trusted documents when TRUSTED_DOCUMENTS_MODE is ${mode}.`,
    );
  }
  return { path, mode };
}

/** The playground runs whatever a person types: never where only trusted documents may run. */
function playground(wanted: boolean, asked: boolean, trusted: Config['trustedDocuments']): boolean {
  if (trusted?.mode !== 'enforce') return wanted;
  if (asked && wanted) {
    throw new ConfigError(
      'PLAYGROUND',
      'cannot be true with TRUSTED_DOCUMENTS_MODE=enforce: the playground runs any operation.',
    );
  }
  return false;
}

function redisSettings(url: string, secret: string | undefined): Config['redis'] {
  if (url === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0.');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0.');
  }
  // The secret is never echoed, not even in part: only its length is told.
  if (secret === undefined || secret.length < 32) {
    throw new ConfigError(
      'CALLER_HASH_SECRET',
      `must be set, to at least 32 characters, the same on every replica, when REDIS_URL is set (it has ${secret?.length ?? 0}).`,
    );
  }
  return { url, callerHashSecret: secret };
}

/**
 * `SESSION_SECRET`: with Redis every replica must open the sessions the others sealed, so it is required; without,
 * unset is a random key of this process's own. Never echoed, not even in part: only its length is told.
 */
function sessionSecret(secret: string | undefined, shared: boolean): string | undefined {
  if (secret === undefined || secret === '') {
    if (!shared) return undefined;
    throw new ConfigError(
      'SESSION_SECRET',
      'must be set, to at least 32 characters, the same on every replica, when REDIS_URL is set (or set SESSIONS=off).',
    );
  }
  if (secret.length < 32)
    throw new ConfigError('SESSION_SECRET', `must have at least 32 characters (it has ${secret.length}).`);
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

function corsOrigins(text: string): string[] {
  const origins = text
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.origin !== origin) {
      throw new ConfigError(
        'CORS_ORIGINS',
        `must list origins like https://app.example.com (scheme, host, port; no path), but has ${JSON.stringify(origin)}.`,
      );
    }
  }
  return origins;
}

/** The text of `.env.example`: every setting, commented, with its default. */
export function envExample(): string {
  const lines = [
    '# Every setting of portal-graphql, with its default. Copy to .env (or export) and change what you need.',
    '',
  ];
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    lines.push(
      `# ${SETTINGS[name].meaning}`,
      `${SETTINGS[name].default === '' ? '# ' : ''}${name}=${SETTINGS[name].default}`,
      '',
    );
  }
  return lines.join('\n');
}

/**
 * The effective settings, as `NAME=value` lines: what start-up prints, all of them or only those set to something
 * other than their default. A secret (`secret: true` in `SETTINGS`) is printed as `(set)`, a Redis URL without its
 * password.
 */
export function describeConfig(
  env: Record<string, string | undefined> = process.env,
  which: 'all' | 'changed' = 'all',
): string[] {
  const names = (Object.keys(SETTINGS) as SettingName[]).filter(
    (name) => which === 'all' || (env[name]?.trim() || SETTINGS[name].default) !== SETTINGS[name].default,
  );
  return names.map((name) => {
    const setting: { default: string; secret?: boolean } = SETTINGS[name];
    const value = env[name]?.trim() || setting.default;
    if (name === 'NODE_ENV' && value === '')
      return `NODE_ENV=(unset: ${env.PORTAL_URL?.trim() ? 'production' : 'development'})`;
    if (setting.secret) return `${name}=${value === '' ? '(unset)' : '(set)'}`;
    if (name === 'REDIS_URL' && value !== '') return `REDIS_URL=${withoutPassword(value)}`;
    return `${name}=${value === '' ? '(unset)' : value}`;
  });
}

/** A Redis URL without its password (`redis://:secret@host` carries one). */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

function portalUrl(text: string): string | undefined {
  if (text === '') return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError('PORTAL_URL', `must be an http or https URL, but is ${JSON.stringify(text)}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('PORTAL_URL', `must be an http or https URL, but is ${JSON.stringify(text)}.`);
  }
  if (url.username || url.password) {
    throw new ConfigError('PORTAL_URL', 'must not carry credentials: every caller sends its own Authorization header.');
  }
  if (url.pathname !== '/' || url.search || url.hash) {
    throw new ConfigError(
      'PORTAL_URL',
      `must be an origin only (scheme, host and port), but is ${JSON.stringify(text)}.`,
    );
  }
  return url.origin;
}

/** The most proxies a hop count may say are in front of this server. */
const MAX_PROXY_HOPS = 20;

/**
 * `TRUST_PROXY`: off, a hop count, or the proxies' addresses. `true` is refused, as express-rate-limit refuses it
 * (ERR_ERL_PERMISSIVE_TRUST_PROXY): it would take the leftmost address of `X-Forwarded-For`, which the client
 * writes itself, so that every request could name a new address and no limit per address would hold.
 */
function trustProxy(text: string): false | number | string[] {
  if (/^(false|0|no|off)$/i.test(text)) return false;
  if (/^(true|yes|on)$/i.test(text)) {
    throw new ConfigError(
      'TRUST_PROXY',
      `must not be ${JSON.stringify(text)}: that takes the leftmost X-Forwarded-For address, which the client writes itself. Give the number of proxies in front of this server (a hop count, e.g. TRUST_PROXY=1 behind one ingress) or their addresses or CIDR ranges (e.g. TRUST_PROXY=10.0.0.0/8), comma-separated.`,
    );
  }
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops === 0) return false;
    if (hops > MAX_PROXY_HOPS) {
      throw new ConfigError(
        'TRUST_PROXY',
        `must be a hop count from 1 to ${MAX_PROXY_HOPS} (the proxies in front of this server), but is ${JSON.stringify(text)}.`,
      );
    }
    return hops;
  }
  const addresses = text
    .split(',')
    .map((address) => address.trim())
    .filter((address) => address !== '');
  const malformed = addresses.find((address) => !/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/.test(address));
  if (addresses.length === 0 || malformed !== undefined) {
    throw new ConfigError(
      'TRUST_PROXY',
      `must be false, a hop count, or the proxies' addresses or CIDR ranges, comma-separated, but is ${JSON.stringify(text)}.`,
    );
  }
  return addresses;
}

/**
 * OpenTelemetry's variables as its specification reads them: tracing is on with an OTLP endpoint and without
 * `OTEL_SDK_DISABLED=true`; a signal's own endpoint, protocol and headers win over the general ones.
 */
function tracingSettings({ read, integer, oneOf }: SettingReaders): TracingSettings | undefined {
  if (/^true$/i.test(read('OTEL_SDK_DISABLED'))) return undefined;
  if (oneOf('OTEL_TRACES_EXPORTER', ['otlp', 'none']) === 'none') return undefined;
  const tracesEndpoint = read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = read('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (tracesEndpoint === '' && endpoint === '') return undefined;
  const url =
    tracesEndpoint !== ''
      ? httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint)
      : `${httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', endpoint).replace(/\/*$/, '')}/v1/traces`;
  // The traces' own form of a setting wins over the general one when it is set.
  const tracesOr = (general: SettingName, traces: SettingName): SettingName => (read(traces) === '' ? general : traces);
  const ratioText = read('OTEL_TRACES_SAMPLER_ARG');
  const ratio = Number(ratioText);
  if (ratioText === '' || !Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new ConfigError(
      'OTEL_TRACES_SAMPLER_ARG',
      `must be a number from 0 to 1, but is ${JSON.stringify(ratioText)}.`,
    );
  }
  return {
    url,
    protocol: oneOf(tracesOr('OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'), [
      'http/protobuf',
      'http/json',
    ]),
    headers: {
      ...keyValuePairs('OTEL_EXPORTER_OTLP_HEADERS', read('OTEL_EXPORTER_OTLP_HEADERS')),
      ...keyValuePairs('OTEL_EXPORTER_OTLP_TRACES_HEADERS', read('OTEL_EXPORTER_OTLP_TRACES_HEADERS')),
    },
    serviceName: read('OTEL_SERVICE_NAME'),
    resourceAttributes: keyValuePairs('OTEL_RESOURCE_ATTRIBUTES', read('OTEL_RESOURCE_ATTRIBUTES')),
    sampler: { name: oneOf('OTEL_TRACES_SAMPLER', TRACE_SAMPLERS), ratio },
    batch: batchSettings(integer),
    timeoutMs: integer(tracesOr('OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'), 1, MAX_TRACING_MS),
    compression: oneOf(tracesOr('OTEL_EXPORTER_OTLP_COMPRESSION', 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION'), [
      'gzip',
      'none',
    ]),
  };
}

/** How `loadConfig` reads a setting: as text, as a whole number in a range, as one of some words. */
interface SettingReaders {
  read: (name: SettingName) => string;
  integer: (name: SettingName, min: number, max: number) => number;
  oneOf: <T extends string>(name: SettingName, allowed: readonly T[]) => T;
}

/** The longest delay or timeout tracing's settings take: ten minutes. */
const MAX_TRACING_MS = 600_000;
/**
 * The most spans that may wait: about 100 MB of the SDK's span objects (about 1 KB each, a portal call's span with
 * its attributes, measured). A queue past what a receiver can take in a few seconds only holds memory for spans that
 * will be dropped anyway.
 */
const MAX_QUEUED_SPANS = 100_000;

/** The batch span processor's variables; a batch holds no more spans than may wait, as the specification says. */
function batchSettings(integer: SettingReaders['integer']): TracingSettings['batch'] {
  const maxQueuedSpans = integer('OTEL_BSP_MAX_QUEUE_SIZE', 1, MAX_QUEUED_SPANS);
  return {
    scheduleDelayMs: integer('OTEL_BSP_SCHEDULE_DELAY', 0, MAX_TRACING_MS),
    maxQueuedSpans,
    maxBatchSpans: integer('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1, maxQueuedSpans),
    exportTimeoutMs: integer('OTEL_BSP_EXPORT_TIMEOUT', 0, MAX_TRACING_MS),
  };
}

function httpUrl(name: SettingName, text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(name, `must be an http or https URL, but is ${JSON.stringify(text)}.`);
  }
  return text;
}

/** `key=value,key2=value2`, values percent-encoded, as OpenTelemetry's headers and resource attributes are written. */
function keyValuePairs(name: SettingName, text: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const equals = item.indexOf('=');
    const key = equals < 0 ? '' : item.slice(0, equals).trim();
    let value: string | undefined;
    try {
      value = equals < 0 ? undefined : decodeURIComponent(item.slice(equals + 1).trim());
    } catch {
      value = undefined;
    }
    if (key === '' || value === undefined) {
      throw new ConfigError(name, `must be key=value pairs separated by commas, but has ${JSON.stringify(item)}.`);
    }
    pairs[key] = value;
  }
  return pairs;
}
