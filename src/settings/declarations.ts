/**
 * Every environment variable the server reads, declared once: how its text is read (a whole number in a range, one
 * of some words, a flag, a URL, or a form of its own), its default, what it means and whether it is a secret. The
 * types `loadConfig` returns, the checks and their messages, the README's configuration table and `.env.example` all
 * come from these declarations (`npm run settings:docs` writes the last two; `npm run lint` fails when they are
 * stale). How each kind of value is read is in `rules.ts`.
 */

import {
  commaSeparated,
  custom,
  flag,
  integer,
  oneOf,
  readRule,
  text,
  url,
  type Parsed,
  type SettingDeclaration,
} from './rules';
import { SEED_NAMES } from '../emulator/seed';

/** A bad value: names the variable, what it must be, and what it was (a secret's value is never echoed). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: SettingName,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** The longest delay or timeout tracing's settings take: ten minutes. */
const TRACING_MAX_MS = 600_000;
/**
 * The most spans that may wait (the README's Traces says what they weigh). A queue past what a receiver can take in a
 * few seconds only holds memory for spans that will be dropped anyway.
 */
const MAX_QUEUED_SPANS = 100_000;
/** The most proxies a hop count may say are in front of this server. */
const MAX_PROXY_HOPS = 20;

const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

const PORTAL_ORIGIN = url({
  schemes: ['http', 'https'],
  origin: true,
  list: false,
  example: 'https://customerportal.innovatrics.com',
  credentialsRefused: "they are sent in each request's Authorization header",
});
const BROWSER_ORIGINS = url({
  schemes: ['http', 'https'],
  origin: true,
  list: true,
  example: 'https://app.example.com',
});
const REDIS = url({ schemes: ['redis', 'rediss'], origin: false, list: false, example: 'redis://127.0.0.1:6379/0' });
const HTTP_URL = url({ schemes: ['http', 'https'], origin: false, list: false, example: 'http://collector:4318' });

/**
 * `TRUST_PROXY`: off, a hop count, or the proxies' addresses. `true` is refused, as express-rate-limit refuses it
 * (ERR_ERL_PERMISSIVE_TRUST_PROXY): it would take the leftmost address of `X-Forwarded-For`, which the client
 * writes itself, so that every request could name a new address and no limit per address would hold.
 */
const TRUSTED_PROXIES = custom(
  `\`false\`, a hop count from 1 to ${MAX_PROXY_HOPS}, or addresses and CIDR ranges, comma-separated`,
  (text, refuse): false | number | string[] => {
    if (/^(false|0|no|off)$/i.test(text)) return false;
    if (/^(true|yes|on)$/i.test(text)) {
      return refuse(
        `must not be ${JSON.stringify(text)}: that takes the leftmost X-Forwarded-For address, which the client writes itself. Give the number of proxies in front of this server (a hop count, e.g. TRUST_PROXY=1 behind one ingress) or their addresses or CIDR ranges (e.g. TRUST_PROXY=10.0.0.0/8), comma-separated.`,
      );
    }
    if (/^\d+$/.test(text)) {
      const hops = Number(text);
      if (hops === 0) return false;
      if (hops > MAX_PROXY_HOPS) {
        return refuse(
          `must be a hop count from 1 to ${MAX_PROXY_HOPS} (the proxies in front of this server), but is ${JSON.stringify(text)}.`,
        );
      }
      return hops;
    }
    const addresses = commaSeparated(text);
    const malformed = addresses.find((address) => !/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/.test(address));
    if (addresses.length === 0 || malformed !== undefined) {
      return refuse(
        `must be false, a hop count, or the proxies' addresses or CIDR ranges, comma-separated, but is ${JSON.stringify(text)}.`,
      );
    }
    return addresses;
  },
);

/** `key=value,key2=value2`, values percent-encoded, as OpenTelemetry's headers and resource attributes are written. */
const KEY_VALUE_PAIRS = custom(
  '`key=value` pairs, comma-separated, values URL-encoded',
  (text, refuse): Record<string, string> => {
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
      if (key === '' || value === undefined)
        return refuse(`must be key=value pairs separated by commas, but has ${JSON.stringify(item)}.`);
      pairs[key] = value;
    }
    return pairs;
  },
);

const RATIO = custom('a number from 0 to 1', (text, refuse): number => {
  const ratio = Number(text);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1)
    return refuse(`must be a number from 0 to 1, but is ${JSON.stringify(text)}.`);
  return ratio;
});

/** OpenTelemetry's boolean: `true` in any case is true, anything else false, as its specification reads it. */
const OTEL_TRUE = custom('`true` or `false`', (text): boolean => /^true$/i.test(text));

/** Every variable the server reads. */
export const SETTINGS = {
  PORT: {
    rule: integer(0, 65535),
    default: '4000',
    meaning: 'TCP port of the GraphQL server (0: any free port).',
  },
  HOST: {
    rule: text('a host name or IP address'),
    default: '127.0.0.1',
    meaning: 'Interface to listen on (0.0.0.0 for every interface).',
  },
  METRICS_PORT: {
    rule: integer(0, 65535),
    default: '',
    meaning:
      'Serve `GET /metrics` on a listener of its own at this port (0: any free port); `PORT` then answers 404 for it. Unset: on `PORT`, beside the API.',
  },
  METRICS_HOST: {
    rule: text('a host name or IP address'),
    default: '127.0.0.1',
    meaning: 'Interface of the `METRICS_PORT` listener (0.0.0.0 for every interface, for a scraper on another host).',
  },
  PORTAL_URL: {
    rule: PORTAL_ORIGIN,
    default: '',
    meaning:
      'Origin of the Customer Portal, e.g. https://customerportal.innovatrics.com. Unset: start the embedded emulator.',
  },
  PORTAL_CONNECTIONS: {
    rule: integer(1, 1024),
    default: '32',
    meaning: 'Most sockets open to the portal at once (one keep-alive pool per origin).',
  },
  PORTAL_CONNECT_TIMEOUT_MS: {
    rule: integer(1, 600_000),
    default: '5000',
    meaning: 'Time to open a connection to the portal.',
  },
  PORTAL_HEADERS_TIMEOUT_MS: {
    rule: integer(1, 600_000),
    default: '10000',
    meaning: 'Time from sending a request to the portal to its response headers.',
  },
  PORTAL_BODY_TIMEOUT_MS: {
    rule: integer(1, 600_000),
    default: '10000',
    meaning: 'Most time between two chunks of a portal response body.',
  },
  PORTAL_KEEP_ALIVE_TIMEOUT_MS: {
    rule: integer(1, 600_000),
    default: '4000',
    meaning: 'How long an idle connection to the portal stays open.',
  },
  PORTAL_MAX_RESPONSE_BYTES: {
    rule: integer(1024, GIB),
    default: '16777216',
    meaning:
      "Largest portal answer read into memory (16 MiB; 16× the large seed's biggest list); a longer one is cut off as it passes the bound and is `UPSTREAM_INVALID_RESPONSE`. Also the most bytes of a licence file streamed to a client.",
  },
  UPSTREAM_CALL_BUDGET: {
    rule: integer(1, 100_000),
    default: '50',
    meaning: 'Most portal calls one operation may make; an operation estimated above it is refused before any call.',
  },
  PORTAL_MAX_RETRIES: {
    rule: integer(0, 10),
    default: '2',
    meaning: 'Most retries of a safe read (never of generate), on connection errors, 502, 503, 504 and 429.',
  },
  PORTAL_RETRY_BASE_DELAY_MS: {
    rule: integer(0, 60_000),
    default: '100',
    meaning: 'First retry backoff; doubled at each retry, with jitter; a Retry-After is honoured within the deadline.',
  },
  BREAKER_FAILURE_THRESHOLD: {
    rule: integer(1, 10_000),
    default: '5',
    meaning: 'Portal failures in a row that open the circuit breaker (calls then fail at once).',
  },
  BREAKER_COOLDOWN_MS: {
    rule: integer(1, HOUR_MS),
    default: '5000',
    meaning: 'How long an open breaker refuses calls before it lets one probe through.',
  },
  OPERATION_TIMEOUT_MS: {
    rule: integer(1, HOUR_MS),
    default: '30000',
    meaning: 'Overall deadline of one GraphQL operation; calls past it are UPSTREAM_TIMEOUT.',
  },
  MAX_CONCURRENT_OPERATIONS: {
    rule: integer(1, 100_000),
    default: '64',
    meaning: 'Most GraphQL operations executing at once; more wait in a queue.',
  },
  MAX_QUEUED_OPERATIONS: {
    rule: integer(0, 1_000_000),
    default: '500',
    meaning:
      'Most operations waiting; past it, the caller holding the most of the line is refused (503 `OVERLOADED`), its newest request first.',
  },
  MAX_CONCURRENT_OPERATIONS_PER_CALLER: {
    rule: integer(1, 100_000),
    default: '16',
    meaning:
      'Most operations of one caller (one `Authorization`; requests without one are one caller) executing at once; waiting operations are taken from the callers in turn.',
  },
  MAX_DEPTH: {
    rule: integer(1, 1000),
    default: '10',
    meaning: 'Most nested selection sets in an operation.',
  },
  MAX_ALIASES: {
    rule: integer(0, 100_000),
    default: '30',
    meaning: 'Most aliases in an operation.',
  },
  MAX_DIRECTIVES: {
    rule: integer(0, 100_000),
    default: '50',
    meaning: 'Most directives in an operation.',
  },
  MAX_TOKENS: {
    rule: integer(10, 1_000_000),
    default: '2000',
    meaning: 'Most tokens in an operation document.',
  },
  MAX_OPERATIONS_PER_DOCUMENT: {
    rule: integer(1, 10_000),
    default: '20',
    meaning:
      'Most operations one document may hold; a document with more is refused in validation (`GRAPHQL_VALIDATION_FAILED`) before any is compiled.',
  },
  MAX_RESULT_OBJECTS: {
    rule: integer(1, 100_000_000),
    default: '100000',
    meaning:
      'Most objects and list items one answer may hold; an operation over it is refused (`RESULT_TOO_LARGE`) before it is resolved.',
  },
  MAX_RESPONSE_BYTES: {
    rule: integer(1024, GIB),
    default: '33554432',
    meaning: 'Largest GraphQL response body sent (32 MiB); a larger one is replaced by a `RESPONSE_TOO_LARGE` error.',
  },
  INTROSPECTION: {
    rule: flag(),
    default: '',
    meaning:
      'true or false: schema introspection and the suggestions of names in error messages ("Did you mean …?"). Default: on in development only.',
  },
  FEDERATION_SUBGRAPH: {
    rule: flag(),
    default: 'false',
    meaning:
      'true: serve the schema as an Apollo Federation 2 subgraph, with `@key(fields: "id")` on `ProductAssignment`, `License` and `LicenseDetail`, `_service` and `_entities`, for a gateway to compose with other services (see [Running as a subgraph](#running-as-a-subgraph)). false: the standalone schema.',
  },
  SHUTDOWN_GRACE_MS: {
    rule: integer(0, HOUR_MS),
    default: '10000',
    meaning: 'On SIGTERM, how long requests in flight may finish before their connections are closed.',
  },
  BODY_LIMIT_BYTES: {
    rule: integer(1024, 100 * MIB),
    default: '102400',
    meaning: 'Largest GraphQL request body accepted, in bytes (larger: 413).',
  },
  HTTP_REQUEST_TIMEOUT_MS: {
    rule: integer(1000, 600_000),
    default: '30000',
    meaning:
      "How long a request's headers and body may take to arrive, in milliseconds; past it, 408 `REQUEST_TIMEOUT` and the connection is closed. Idle keep-alive connections are not affected. A body at `BODY_LIMIT_BYTES` must arrive within it (see [Reliability and security](#reliability-and-security)).",
  },
  PLAYGROUND: {
    rule: flag(),
    default: '',
    meaning:
      'true or false: serve the GraphiQL playground. Default: on in development only; never under `TRUSTED_DOCUMENTS_MODE=enforce` (true is then refused at start-up).',
  },
  TRUSTED_DOCUMENTS_MODE: {
    rule: oneOf(['enforce', 'report']),
    default: '',
    meaning:
      "`enforce`: run only the manifest's documents, refusing the rest before parsing (404 `PERSISTED_QUERY_NOT_IN_LIST`, 403 `QUERY_NOT_IN_PERSISTED_QUERY_LIST`), and no playground; `report`: run everything, logging each operation not in it once and counting it. Unset: every operation runs and the manifest is not read.",
  },
  TRUSTED_DOCUMENTS_PATH: {
    rule: text('a file path'),
    default: '',
    meaning:
      "The manifest of trusted documents: graphql-codegen's `persisted-documents.json` or an Apollo persisted query manifest. Required with `TRUSTED_DOCUMENTS_MODE`; read at start-up and on `SIGHUP`.",
  },
  LOG_FORMAT: {
    rule: oneOf(['json', 'pretty']),
    default: '',
    meaning: 'json or pretty. Default: pretty when NODE_ENV=development, else json.',
  },
  CORS_ORIGINS: {
    rule: BROWSER_ORIGINS,
    default: '',
    meaning:
      'Comma-separated origins allowed to call the API from a browser, e.g. https://app.example.com. Empty: no CORS.',
  },
  READY_CACHE_MS: {
    rule: integer(0, HOUR_MS),
    default: '5000',
    meaning: 'How long a portal answer keeps GET /readyz ready without asking the portal again.',
  },
  LOG_LEVEL: {
    rule: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    meaning: 'fatal, error, warn, info, debug, trace or silent.',
  },
  NODE_ENV: {
    rule: oneOf(['development', 'production', 'test']),
    default: '',
    meaning:
      'development, production or test. Unset: **production when `PORTAL_URL` is set**, development on the embedded emulator. Only development serves its aids by default: the playground, introspection, upstream calls in every response, pretty logs.',
  },
  PORTAL_SHARE_READS: {
    rule: flag(),
    default: 'true',
    meaning:
      "A caller's concurrent reads of one portal list share one call (never another caller's, never a call begun before that caller's last write ended). With `REDIS_URL`, only while `PORTAL_CACHE_TTL_MS` is on: replicas learn of each other's writes through the shared cache. false: each read makes its own.",
  },
  PORTAL_CACHE_TTL_MS: {
    rule: integer(0, HOUR_MS),
    default: '0',
    meaning:
      "How long the portal's list answers are cached per caller (0: off): kept parsed and indexed in each process (at most `PORTAL_CACHE_MAX_BYTES`) and, with `REDIS_URL`, as bodies in Redis for every replica. A licence made in the portal's own pages shows up after at most this long.",
  },
  PORTAL_CACHE_MAX_BYTES: {
    rule: integer(MIB, 16 * GIB),
    default: String(64 * MIB),
    meaning:
      "Most heap the read cache's parsed lists take in each process, in bytes (64 MiB: the xlarge seed's licence list, 50,000 licences, is estimated at about 19 MiB with its indexes, so the largest customers' three or four lists fit, beside a 512 MiB container's other needs); past it, the lists least recently used are dropped.",
  },
  REDIS_URL: {
    rule: REDIS,
    default: '',
    meaning:
      "Redis shared by the replicas, e.g. `redis://127.0.0.1:6379/0`: idempotency keys, browser sessions, the login limits' counters, persisted queries and the read cache (see [Running several replicas](#running-several-replicas)). Unset: in-memory stores (one process).",
  },
  CALLER_HASH_SECRET: {
    rule: text('at least 32 characters', 32),
    default: '',
    secret: true,
    untrimmed: true,
    meaning:
      'Secret of the HMAC that scopes idempotency keys to callers, the same on every replica. Required with `REDIS_URL`; never logged or stored.',
  },
  SESSIONS: {
    rule: flag(),
    default: 'on',
    meaning:
      '`on` or `off`: browser sessions, `POST`, `GET` and `DELETE /auth/session` and the `portal_session` cookie (see [Browser apps: sessions](#browser-apps-sessions)). `off`: the routes answer 404 and the cookie is ignored.',
  },
  SESSION_SECRET: {
    rule: text('at least 32 characters', 32),
    default: '',
    secret: true,
    untrimmed: true,
    meaning:
      "Secret the keys that encrypt sessions' credentials are derived from (HKDF), the same on every replica. Required with `REDIS_URL` unless `SESSIONS=off`; unset without Redis: a random key per process, so sessions end at a restart. Never logged or stored.",
  },
  SESSION_IDLE_TIMEOUT_MS: {
    rule: integer(1000, 7 * DAY_MS),
    default: '1800000',
    meaning: 'A session ends after this long without a request (30 minutes).',
  },
  SESSION_MAX_AGE_MS: {
    rule: integer(1000, 30 * DAY_MS),
    default: '43200000',
    meaning: 'A session ends at the latest this long after its sign-in, however busy (12 hours).',
  },
  IDEMPOTENCY_LEASE_MS: {
    rule: integer(1000, HOUR_MS),
    default: '60000',
    meaning:
      "How long a replica's claim on an idempotency key lasts before a retry may reconcile in its place; at least the portal's connect, headers and body timeouts together, and `OPERATION_TIMEOUT_MS`.",
  },
  AUTH_FAILURE_LIMIT: {
    rule: integer(0, 1_000_000),
    default: '10',
    meaning:
      "Failed logins (the portal's 401 to a request that carried credentials) per client address and user name in `AUTH_FAILURE_WINDOW_MS`; past it, that user name's credentials from that address are refused with 429 `RATE_LIMITED` (`AUTH_FAILURES`), unless the portal accepted them within the window. 0: no limit.",
  },
  AUTH_FAILURE_LIMIT_PER_ADDRESS: {
    rule: integer(0, 1_000_000),
    default: '100',
    meaning:
      'Failed logins per client address in the window, whatever the user names; past it, credentials from that address are refused (`AUTH_FAILURES_ADDRESS`) unless the portal accepted them within the window. 0: no limit.',
  },
  AUTH_FAILURE_LIMIT_PER_USER: {
    rule: integer(0, 1_000_000),
    default: '50',
    meaning:
      "Failed logins per user name in the window, from whatever addresses; past it, that user name's credentials are refused (`AUTH_FAILURES_USER`) unless the portal accepted them within the window. 0: no limit.",
  },
  AUTH_FAILURE_WINDOW_MS: {
    rule: integer(1000, 7 * DAY_MS),
    default: '300000',
    meaning:
      'The sliding window of the three failed-login limits: a failure older than this no longer counts, and credentials the portal accepted within it are never held back.',
  },
  RATE_LIMIT_PER_MINUTE: {
    rule: integer(0, 100_000_000),
    default: '6000',
    meaning:
      'Requests per client address per minute to `/graphql` and the file route; past it, 429 `RATE_LIMITED`. Announced in the `RateLimit-Policy` and `RateLimit` fields. 0: no limit.',
  },
  TRUST_PROXY: {
    rule: TRUSTED_PROXIES,
    default: 'false',
    meaning:
      "Where the client's address comes from: `false` (the socket's), a hop count (1 to 20: the proxies in front of this server), or the proxies' addresses or CIDR ranges, comma-separated; the address is then the one the nearest of them saw, read from the right of `X-Forwarded-For`. `true` stops start-up: it would take the leftmost address, which the client writes itself. See [Behind a proxy](#behind-a-proxy-or-an-ingress).",
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    rule: HTTP_URL,
    default: '',
    meaning:
      'OTLP/HTTP endpoint that receives traces, e.g. `http://collector:4318` (`v1/traces` is appended). Unset, and no `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: no tracing (see [Traces](#traces)).',
  },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
    rule: HTTP_URL,
    default: '',
    meaning:
      'The traces endpoint as a whole URL, e.g. `http://collector:4318/v1/traces`; wins over `OTEL_EXPORTER_OTLP_ENDPOINT`.',
  },
  OTEL_EXPORTER_OTLP_PROTOCOL: {
    rule: oneOf(['http/protobuf', 'http/json']),
    default: 'http/protobuf',
    meaning: '`http/protobuf` or `http/json` (gRPC is not offered).',
  },
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: {
    rule: oneOf(['http/protobuf', 'http/json']),
    default: '',
    meaning: 'The protocol for traces; wins over `OTEL_EXPORTER_OTLP_PROTOCOL`.',
  },
  OTEL_EXPORTER_OTLP_HEADERS: {
    rule: KEY_VALUE_PAIRS,
    default: '',
    secret: true,
    meaning:
      "Headers sent with every export, `key=value` pairs comma-separated, values URL-encoded (e.g. a vendor's API key).",
  },
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: {
    rule: KEY_VALUE_PAIRS,
    default: '',
    secret: true,
    meaning: 'Headers for trace exports, added to `OTEL_EXPORTER_OTLP_HEADERS` (winning where both name one).',
  },
  OTEL_SERVICE_NAME: {
    rule: text('text'),
    default: 'portal-graphql',
    meaning: 'The `service.name` of every span; wins over `OTEL_RESOURCE_ATTRIBUTES`.',
  },
  OTEL_RESOURCE_ATTRIBUTES: {
    rule: KEY_VALUE_PAIRS,
    default: '',
    meaning:
      'Resource attributes of every span, `key=value` pairs comma-separated, e.g. `deployment.environment.name=prod`.',
  },
  OTEL_TRACES_SAMPLER: {
    rule: oneOf(TRACE_SAMPLERS),
    default: 'parentbased_always_on',
    meaning:
      "`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off` or `parentbased_traceidratio`: which traces are recorded (`parentbased_…`: as the client's `traceparent` says when it sent one).",
  },
  OTEL_TRACES_SAMPLER_ARG: {
    rule: RATIO,
    default: '1',
    meaning: 'The ratio of traces the `traceidratio` samplers record.',
  },
  OTEL_TRACES_EXPORTER: {
    rule: oneOf(['otlp', 'none']),
    default: 'otlp',
    meaning: '`otlp`, or `none`: no tracing, as with `OTEL_SDK_DISABLED=true` (no other exporter is offered).',
  },
  OTEL_EXPORTER_OTLP_COMPRESSION: {
    rule: oneOf(['gzip', 'none']),
    default: 'none',
    meaning:
      "`gzip`, or `none`: whether exports are gzipped, for a collector far away: about a tenth of the bytes, compressed by the exporter on libuv's threads, not the one that answers requests.",
  },
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: {
    rule: oneOf(['gzip', 'none']),
    default: '',
    meaning: 'The same for trace exports; wins over `OTEL_EXPORTER_OTLP_COMPRESSION`.',
  },
  OTEL_EXPORTER_OTLP_TIMEOUT: {
    rule: integer(1, TRACING_MAX_MS),
    default: '10000',
    meaning:
      'How long the exporter may take over one export, its retries included, in milliseconds; past it, the batch is dropped and counted.',
  },
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: {
    rule: integer(1, TRACING_MAX_MS),
    default: '',
    meaning: 'The same for trace exports; wins over `OTEL_EXPORTER_OTLP_TIMEOUT`.',
  },
  OTEL_BSP_SCHEDULE_DELAY: {
    rule: integer(0, TRACING_MAX_MS),
    default: '5000',
    meaning: 'How long the first span of a batch waits for more before the batch is sent, in milliseconds.',
  },
  OTEL_BSP_MAX_QUEUE_SIZE: {
    rule: integer(1, MAX_QUEUED_SPANS),
    default: '2048',
    meaning:
      'Spans waiting to be sent, at most (about 1 KB each); past it, new spans are dropped and counted, not held.',
  },
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: {
    rule: integer(1, MAX_QUEUED_SPANS),
    default: '512',
    meaning: 'Spans of one export, at most; no more than `OTEL_BSP_MAX_QUEUE_SIZE`.',
  },
  OTEL_BSP_EXPORT_TIMEOUT: {
    rule: integer(0, TRACING_MAX_MS),
    default: '30000',
    meaning:
      'How long the batch processor waits for one export before it sends the next, in milliseconds (0: as long as the export takes).',
  },
  OTEL_SDK_DISABLED: {
    rule: OTEL_TRUE,
    default: 'false',
    meaning: '`true` turns tracing off whatever else is set.',
  },
  EMULATOR_SEED: {
    rule: oneOf(SEED_NAMES),
    default: 'demo',
    meaning:
      "Embedded emulator's data: demo (small, realistic), large (thousands of licences) or xlarge (400 assignments, 50,000 licences).",
  },
  EMULATOR_LATENCY_MS: {
    rule: integer(0, 60_000),
    default: '0',
    meaning: 'Latency the embedded emulator adds to every answer.',
  },
  EMULATOR_PORT: {
    rule: integer(0, 65535),
    default: '0',
    meaning: 'Port of the embedded emulator (0: any free port).',
  },
} as const satisfies Record<string, SettingDeclaration>;

export type SettingName = keyof typeof SETTINGS;

/** What a setting reads as: undefined when it is unset and has no default. */
export type SettingValue<N extends SettingName> = (typeof SETTINGS)[N]['default'] extends ''
  ? Parsed<(typeof SETTINGS)[N]['rule']> | undefined
  : Parsed<(typeof SETTINGS)[N]['rule']>;

/** The text of `name` in `env`: its value trimmed (as given, if `untrimmed`), or its default when unset or blank. */
export function settingText(env: Record<string, string | undefined>, name: SettingName): string {
  const setting: SettingDeclaration = SETTINGS[name];
  const given = env[name];
  if (given === undefined || given.trim() === '') return setting.default;
  return setting.untrimmed ? given : given.trim();
}

/**
 * Reads and checks one setting; throws a `ConfigError` naming it when its value is not what its rule allows.
 *
 *     readSetting({ PORT: '8080' }, 'PORT'); // 8080
 *     readSetting({}, 'METRICS_PORT');       // undefined
 */
export function readSetting<N extends SettingName>(env: Record<string, string | undefined>, name: N): SettingValue<N> {
  const value = settingText(env, name);
  if (value === '') return undefined as SettingValue<N>;
  return readRule(SETTINGS[name].rule, value, (message) => {
    throw new ConfigError(name, message);
  }) as SettingValue<N>;
}

/** Every declaration, in the table's order. */
export function declarations(): [SettingName, SettingDeclaration][] {
  return Object.entries(SETTINGS) as [SettingName, SettingDeclaration][];
}
