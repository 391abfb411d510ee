/**
 * The soak: many concurrent clients of two customers against the real server, in front of an emulated portal
 * that fails on purpose, for a bounded time and number of requests; then the books are checked.
 *
 * Clients (users `demo` and `acme-ops` of Acme, `globex` of Globex, in turn) mix nested reads, filtered and paged
 * licence lists, `license(id:)` of their own ids and of the other customer's, and `generateLicense` with an
 * idempotency key per intended licence, retried with the same key on OUTCOME_UNKNOWN and UPSTREAM_* answers. Every
 * other client is a browser app's: it signs in before the run (`POST /auth/session`) and sends the session's cookie
 * instead of an `Authorization` header, so that each user acts both ways at once, under the same idempotency keys.
 * Every answer is checked: HTTP 200, JSON, every error coded and expected for what was asked, and every record
 * shown belonging to the caller's customer (by the emulator's own records). Afterwards the ledger
 * (`ledger.ts`) compares the licences the portal holds with those the clients intended and were told of.
 *
 * @example
 *   const report = await runSoak({ clients: 6, durationMs: 4_000 });
 *   if (!report.ok) console.log(formatSummary(report));
 */
import { EventEmitter } from 'node:events';
import { Agent } from 'undici';
import { startEmulator, type Emulator, type FaultKind, type FaultRule } from '../../src/emulator';
import { checkLedger, noteOf, type CreatedLicence, type GenerateIntent, type LedgerReport } from './ledger';
import { startServerUnderTest, type ServerMode, type ServerUnderTest } from './serverUnderTest';
import { startRedisServer, type RedisServer } from './redisServer';
import { randomBytes } from 'node:crypto';

export interface SoakOptions {
  /** Concurrent clients; default 20. */
  clients?: number;
  /** How long clients start new work; default 30 s (at most one hour). */
  durationMs?: number;
  /** Most HTTP requests sent by all clients together; default 500,000. */
  maxRequests?: number;
  /** The server as a child process (default) or in this process. */
  server?: ServerMode;
  /** Multiplies every fault's probability (1: the plan below; 0: no faults). */
  faultScale?: number;
  /** The emulator's seed number (it seeds the fault rolls too). */
  seedNumber?: number;
  /** The emulator's seed: `demo` (default), or `xlarge` (400 assignments, 50,000 licences for the first customer). */
  seed?: 'demo' | 'xlarge';
  /** The server's PORTAL_HEADERS_TIMEOUT_MS and PORTAL_BODY_TIMEOUT_MS; default 500. */
  upstreamTimeoutMs?: number;
  /** After the run, retry with their own keys, faults off, the intents the clients gave up on; default true. */
  finalPass?: boolean;
  /** More server settings (environment variables). */
  serverEnv?: Record<string, string>;
  /**
   * Server processes (default 1). From 2, they share a real redis-server, each request goes to one of them at
   * random (so a retry may land on another replica), and Redis is stopped and started again once, mid-run.
   */
  replicas?: number;
  /** Progress lines (start, every few seconds, end); default none. */
  log?: (line: string) => void;
}

export interface SoakReport {
  settings: Required<Omit<SoakOptions, 'log' | 'serverEnv'>>;
  elapsedMs: number;
  /** HTTP requests the clients sent, and how many answered at all. */
  requests: number;
  answered: number;
  /** Answers with data and no error at all; and of those, how many to clients of each kind of credentials. */
  successes: number;
  successesBy: Record<Credentials, number>;
  /** Errors that the situation explains (a fault, the other customer's id), by code. */
  expectedErrors: Record<string, number>;
  /** Everything else, by kind, with a few examples. Must be empty. */
  unexpected: { count: number; byKind: Record<string, number>; examples: string[] };
  /** Records of the other customer shown to a caller. Must be 0 (they count among the unexpected too). */
  crossCustomerReads: number;
  /** Unasked exits of the server process, and crash events in-process. Must be none. */
  restarts: string[];
  crashEvents: string[];
  peakRss: { bytes: number | null; source: string };
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  /** Upstream requests the emulator served, and the faults that struck them, by kind. */
  upstream: { requests: number; faulted: Record<string, number>; logComplete: boolean };
  ledger: LedgerReport;
  /** Licences acknowledged to the clients of each kind of credentials (the final pass's to whichever retried them). */
  acknowledgedBy: Record<Credentials, number>;
  ok: boolean;
}

const USERS = ['demo', 'acme-ops', 'globex'] as const;
type Username = (typeof USERS)[number];
/** How a client's requests carry its user's credentials: its own header, or a browser session's cookie. */
type Credentials = 'authorization' | 'session';
/**
 * What a session's request is refused with while the sessions' store cannot be asked (Redis restarted mid-run, with
 * replicas): before any portal call, so a generate refused so is retried with its key like any other.
 */
const SESSION_STORE_UNAVAILABLE = 'SESSION_STORE_UNAVAILABLE';

/** Codes a read may meet while the portal fails. */
const UPSTREAM_CODES = ['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_INVALID_RESPONSE'] as const;
/** Answers to generateLicense that the client retries with the same key. */
const RETRIED_CODES = new Set([
  SESSION_STORE_UNAVAILABLE,
  'OUTCOME_UNKNOWN',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_TIMEOUT',
  'UPSTREAM_INVALID_RESPONSE',
]);
const GENERATE_ATTEMPTS = 8;
/** Pause before retry n: 100 ms doubling, at most 2 s, so that the attempts outlast the breaker's cooldown (5 s). */
const retryPauseMs = (attempt: number) => Math.min(2_000, 100 * 2 ** attempt);
const CLIENT_TIMEOUT_MS = 30_000;
const MAX_EXAMPLES = 12;

/**
 * The fault plan: each rule strikes an upstream request with its probability (before `faultScale`); at most one
 * strikes a request. The headers and body timeouts are 500 ms, but undici checks them on a coarse clock (ticks of
 * about half a second), so a wait of 300 ms stays below them and one of 1,800 ms is surely beyond.
 */
function faultPlan(scale: number): FaultRule[] {
  const rules: FaultRule[] = [
    { kind: 'resetAfterEffect', route: 'license.generate', probability: 0.08 },
    { kind: 'status', status: 500, probability: 0.006 },
    { kind: 'status', status: 502, probability: 0.006 },
    { kind: 'status', status: 503, probability: 0.006, headers: { 'Retry-After': '0' } },
    { kind: 'status', status: 504, probability: 0.006 },
    { kind: 'reset', probability: 0.02 },
    { kind: 'slowHeaders', ms: 300, probability: 0.02 },
    { kind: 'slowHeaders', ms: 1_800, probability: 0.006 },
    { kind: 'slowBody', ms: 300, probability: 0.01 },
    { kind: 'slowBody', ms: 1_800, probability: 0.006 },
    { kind: 'malformedJson', probability: 0.012 },
    { kind: 'truncatedBody', probability: 0.012 },
  ];
  return rules
    .map((rule) => ({ ...rule, probability: Math.min(1, (rule.probability ?? 1) * scale) }))
    .filter((rule) => rule.probability > 0);
}

export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const settings: SoakReport['settings'] = {
    clients: bounded(options.clients ?? 20, 1, 1_000, 'clients'),
    durationMs: bounded(options.durationMs ?? 30_000, 100, 3_600_000, 'durationMs'),
    maxRequests: bounded(options.maxRequests ?? 500_000, 1, 100_000_000, 'maxRequests'),
    server: options.server ?? 'child',
    faultScale: bounded(options.faultScale ?? 1, 0, 100, 'faultScale'),
    seed: options.seed ?? 'demo',
    seedNumber: options.seedNumber ?? 1,
    upstreamTimeoutMs: bounded(options.upstreamTimeoutMs ?? 500, 1, 600_000, 'upstreamTimeoutMs'),
    finalPass: options.finalPass ?? true,
    replicas: bounded(options.replicas ?? 1, 1, 8, 'replicas'),
  };
  const log = options.log ?? (() => {});
  // The emulator waits out every slow fault on one shared AbortSignal (its lifetime): dozens at once are normal
  // here, so its listener limit is raised (it is read when the signal is made) rather than warned about.
  const defaultMaxListeners = EventEmitter.defaultMaxListeners;
  EventEmitter.defaultMaxListeners = Math.max(defaultMaxListeners, 1_000);
  const emulator = await startEmulator({ port: 0, seed: settings.seed, seedNumber: settings.seedNumber }).finally(
    () => {
      EventEmitter.defaultMaxListeners = defaultMaxListeners;
    },
  );
  const servers: ServerUnderTest[] = [];
  let redis: RedisServer | undefined;
  let agents: Agent[] = [];
  try {
    if (settings.replicas > 1) redis = await startRedisServer();
    const env = {
      PORTAL_URL: emulator.url,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      NODE_ENV: 'production',
      PORTAL_HEADERS_TIMEOUT_MS: String(settings.upstreamTimeoutMs),
      PORTAL_BODY_TIMEOUT_MS: String(settings.upstreamTimeoutMs),
      ...(redis
        ? {
            REDIS_URL: redis.url,
            CALLER_HASH_SECRET: randomBytes(32).toString('hex'),
            SESSION_SECRET: randomBytes(32).toString('hex'),
          }
        : {}),
      ...options.serverEnv,
    };
    for (let replica = 0; replica < settings.replicas; replica += 1)
      servers.push(await startServerUnderTest(settings.server, env));
    const server = replicaSet(servers);
    // An agent per client, each from its own loopback address (127.0.0.2, 127.0.0.3, …): every client is its own
    // machine, as the server's per-address limits see it. An agent, not a pool: a restarted server listens on
    // another port, and the agent reaches any origin.
    agents = Array.from(
      { length: settings.clients },
      (_, index) =>
        new Agent({
          localAddress: loopbackAddress(index),
          connections: 2,
          headersTimeout: CLIENT_TIMEOUT_MS,
          bodyTimeout: CLIENT_TIMEOUT_MS,
        }),
    );
    log(
      `soak: ${settings.clients} clients for ${settings.durationMs / 1000} s against ${settings.replicas} server(s) (${settings.server}${redis ? ', sharing Redis' : ''}), portal ${emulator.url}`,
    );
    // Mid-run, Redis goes away for a second and comes back: keyed generates are refused meanwhile (and retried by
    // the clients), reads go on, and every replica reconnects by itself.
    const restart = redis ? restartMidRun(redis, settings.durationMs / 2, log) : Promise.resolve();
    const report = await soak(settings, emulator, server, log, agents);
    await restart;
    return report;
  } finally {
    log('  stopping the servers and the emulator');
    emulator.faults.clear();
    await Promise.all(agents.map((agent) => agent.close().catch(() => {})));
    for (const server of servers) await server.stop();
    await redis?.dispose();
    await emulator.close();
  }
}

async function restartMidRun(redis: RedisServer, afterMs: number, log: (line: string) => void): Promise<void> {
  await sleep(afterMs);
  log('  redis: stopped');
  await redis.stop();
  await sleep(1_000);
  await redis.start();
  log('  redis: started again');
}

/**
 * Several servers as one: each request goes to one at random, restarts and crash events are those of all, and the
 * peak memory is the largest of theirs.
 */
function replicaSet(servers: ServerUnderTest[]): ServerUnderTest {
  if (servers.length === 1) return servers[0]!;
  return {
    mode: servers[0]!.mode,
    origin: () => pick(servers).origin(),
    restarts: () => servers.flatMap((server) => server.restarts()),
    crashEvents: () => servers.flatMap((server) => server.crashEvents()),
    peakRss: () => {
      const peaks = servers.map((server) => server.peakRss());
      const bytes = peaks.every((peak) => peak.bytes !== null) ? Math.max(...peaks.map((peak) => peak.bytes!)) : null;
      return { bytes, source: `the largest of ${servers.length} replicas': ${peaks[0]!.source}` };
    },
    stop: async () => {
      for (const server of servers) await server.stop();
    },
  };
}

function bounded(value: number, min: number, max: number, name: string): number {
  if (!(Number.isFinite(value) && value >= min && value <= max))
    throw new RangeError(`runSoak: ${name} must be ${min} to ${max}, but got: ${value}`);
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------

/** What the clients found, added up as they go. */
class Tally {
  requests = 0;
  answered = 0;
  successes = 0;
  readonly successesBy: Record<Credentials, number> = { authorization: 0, session: 0 };
  crossCustomerReads = 0;
  readonly expected: Record<string, number> = {};
  readonly unexpectedByKind: Record<string, number> = {};
  readonly examples: string[] = [];
  readonly latencies: number[] = [];

  expectedError(code: string): void {
    this.expected[code] = (this.expected[code] ?? 0) + 1;
  }

  unexpected(kind: string, detail: string): void {
    this.unexpectedByKind[kind] = (this.unexpectedByKind[kind] ?? 0) + 1;
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(`${kind}: ${detail.slice(0, 500)}`);
  }

  unexpectedCount(): number {
    return Object.values(this.unexpectedByKind).reduce((sum, count) => sum + count, 0);
  }
}

/** The loopback address client `index` sends from: 127.0.0.2 onwards. */
function loopbackAddress(index: number): string {
  const host = index + 2;
  return `127.0.${Math.floor(host / 256)}.${host % 256}`;
}

interface Client {
  index: number;
  username: Username;
  credentials: Credentials;
  /** The header its requests carry: `authorization`, or, once it has signed in, the session's `cookie`. */
  credentialHeader: Record<string, string>;
  customer: string;
  otherUsername: Username;
  /** Assignments it generates from: room left, valid long enough. */
  generatable: Array<{ id: number; latestExpiration: string }>;
  nextIntent: number;
}

async function soak(
  settings: SoakReport['settings'],
  emulator: Emulator,
  server: ServerUnderTest,
  log: (line: string) => void,
  agents: Agent[],
): Promise<SoakReport> {
  const state = emulator.state;
  const today = state.today();
  const seedMaxLicenceId = Math.max(0, ...state.allLicenses().map((entry) => entry.license.id));
  const tally = new Tally();
  const intents: GenerateIntent[] = [];
  /** The credentials of the client that meant each intent. */
  const intendedWith = new Map<GenerateIntent, Credentials>();
  const runId = Date.now().toString(36);

  const clients = Array.from({ length: settings.clients }, (_, index): Client => {
    const username = USERS[index % USERS.length]!;
    const customer = state.customerOf(username);
    const credentials: Credentials = index % 2 === 1 ? 'session' : 'authorization';
    return {
      index,
      username,
      credentials,
      // A session's cookie is set once it has signed in, below.
      credentialHeader: credentials === 'session' ? {} : { authorization: emulator.account(username).authorization },
      customer,
      otherUsername: customer === state.customerOf('globex') ? 'demo' : 'globex',
      generatable: generatableAssignments(emulator, username, today),
      nextIntent: 0,
    };
  });
  for (const client of clients) {
    if (client.generatable.length === 0) throw new Error(`the seed has no assignment with room for ${client.username}`);
  }

  // Before the faults and the clock: a sign-in is setup, not part of what the run measures.
  for (const client of clients) {
    if (client.credentials !== 'session') continue;
    tally.requests += 1;
    const { username, password } = emulator.account(client.username);
    client.credentialHeader = { cookie: await signIn(agents[client.index]!, server.origin(), username, password) };
    tally.answered += 1;
  }

  for (const rule of faultPlan(settings.faultScale)) emulator.faults.add(rule);
  emulator.requestLog.clear();

  const started = performance.now();
  const deadline = started + settings.durationMs;
  const mayStart = () => performance.now() < deadline && tally.requests < settings.maxRequests;
  const progress = setInterval(() => {
    log(
      `  ${((performance.now() - started) / 1000).toFixed(0)} s: ${tally.requests} requests, ${tally.successes} successes, ` +
        `${tally.unexpectedCount()} unexpected, ${intents.filter((intent) => intent.acknowledgedId !== undefined).length} licences acknowledged`,
    );
  }, 5_000);
  progress.unref();

  /** One HTTP request to /graphql, as the client: its status, text and parsed body (status 0: no answer). */
  const post = async (client: Client, query: string, variables?: Record<string, unknown>): Promise<GraphQLAnswer> => {
    tally.requests += 1;
    const sent = performance.now();
    try {
      const response = await agents[client.index]!.request({
        origin: server.origin(),
        path: '/graphql',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...client.credentialHeader },
        body: JSON.stringify(variables ? { query, variables } : { query }),
      });
      const text = await response.body.text();
      tally.latencies.push(performance.now() - sent);
      tally.answered += 1;
      let body: GraphQLBody | undefined;
      try {
        body = JSON.parse(text) as GraphQLBody;
      } catch {
        body = undefined;
      }
      return { status: response.statusCode, text, body };
    } catch (error) {
      return {
        status: 0,
        text: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        body: undefined,
      };
    }
  };

  const actions = makeActions({ emulator, tally, today, post, sharedSessions: settings.replicas > 1 });

  const runClient = async (client: Client) => {
    for (let round = 0; round < settings.maxRequests && mayStart(); round += 1) {
      const roll = Math.random();
      if (roll < 0.3) await generateWithRetries(client, newIntent(client));
      else if (roll < 0.5) await actions.nested(client);
      else if (roll < 0.7) await actions.list(client);
      else if (roll < 0.85) await actions.ownById(client);
      else await actions.otherById(client);
    }
  };

  const newIntent = (client: Client): GenerateIntent => {
    const assignment = client.generatable[client.nextIntent % client.generatable.length]!;
    const key = `soak-${runId}-c${client.index}-${client.nextIntent}`;
    client.nextIntent += 1;
    const intent: GenerateIntent = {
      key,
      username: client.username,
      customer: client.customer,
      productAssignmentId: assignment.id,
      hwid: `SOAK${runId}C${client.index}N${client.nextIntent}`,
      expirationDate: randomDateBetween(addDays(today, 1), assignment.latestExpiration),
      note: noteOf(key),
      attempts: [],
    };
    intents.push(intent);
    intendedWith.set(intent, client.credentials);
    return intent;
  };

  /** Sends the intent, retrying with the same key while the answer leaves it open; bounded in attempts. */
  const generateWithRetries = async (
    client: Client,
    intent: GenerateIntent,
    attempts = GENERATE_ATTEMPTS,
    finalPass = false,
  ) => {
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      if (attempt > 0) await sleep(retryPauseMs(attempt - 1));
      const answer = await actions.generate(client, intent);
      intent.attempts.push(answer);
      if (answer === 'ok') {
        if (finalPass) intent.acknowledgedInFinalPass = true;
        return;
      }
      if (!RETRIED_CODES.has(answer) && answer !== 'no answer') return;
    }
  };

  await Promise.all(clients.map((client) => runClient(client)));
  clearInterval(progress);
  const elapsedMs = performance.now() - started;
  log(
    `  clients done after ${(elapsedMs / 1000).toFixed(1)} s (work started before the deadline finishes, retries included)`,
  );
  emulator.faults.clear();
  await withTimeout(emulator.requestLog.whenIdle(), 10_000);
  const upstream = upstreamFigures(emulator);

  const gaveUp = intents.filter((intent) => intent.acknowledgedId === undefined);
  if (settings.finalPass && gaveUp.length > 0) {
    log(`  final pass: retrying ${gaveUp.length} given-up intents with their own keys, faults off`);
    const byUser = new Map(clients.map((client) => [client.username, client]));
    for (const intent of gaveUp) await generateWithRetries(byUser.get(intent.username as Username)!, intent, 3, true);
  }
  await withTimeout(emulator.requestLog.whenIdle(), 10_000);

  const created: CreatedLicence[] = state
    .allLicenses()
    .filter((entry) => entry.license.id > seedMaxLicenceId)
    .map((entry) => ({
      id: entry.license.id,
      customer: entry.customer,
      productAssignmentId: entry.license.product_assignment_id,
      hwid: entry.license.hwid,
      expirationDate: entry.license.expiration_date,
      note: entry.license.note,
    }));
  const ledger = checkLedger(intents, created);
  const acknowledgedWith = (credentials: Credentials) =>
    intents.filter((intent) => intent.acknowledgedId !== undefined && intendedWith.get(intent) === credentials).length;
  const restarts = server.restarts();
  const crashEvents = server.crashEvents();
  const unexpectedCount = tally.unexpectedCount();
  return {
    settings,
    elapsedMs,
    requests: tally.requests,
    answered: tally.answered,
    successes: tally.successes,
    successesBy: { ...tally.successesBy },
    expectedErrors: sortedRecord(tally.expected),
    unexpected: { count: unexpectedCount, byKind: sortedRecord(tally.unexpectedByKind), examples: tally.examples },
    crossCustomerReads: tally.crossCustomerReads,
    restarts,
    crashEvents,
    peakRss: server.peakRss(),
    latencyMs: percentiles(tally.latencies),
    upstream,
    ledger,
    acknowledgedBy: { authorization: acknowledgedWith('authorization'), session: acknowledgedWith('session') },
    ok:
      unexpectedCount === 0 &&
      restarts.length === 0 &&
      crashEvents.length === 0 &&
      ledger.holds &&
      tally.crossCustomerReads === 0,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The clients' operations, and what each answer must be
// ---------------------------------------------------------------------------------------------------------

interface GraphQLError {
  message?: unknown;
  path?: unknown;
  extensions?: { code?: unknown };
}
interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: GraphQLError[];
}
interface GraphQLAnswer {
  /** 0: no answer (the text says why). */
  status: number;
  text: string;
  body: GraphQLBody | undefined;
}

interface ActionContext {
  emulator: Emulator;
  tally: Tally;
  today: string;
  post: (client: Client, query: string, variables?: Record<string, unknown>) => Promise<GraphQLAnswer>;
  /** Whether sessions live in the replicas' Redis, which the run restarts: their lookups may then be refused. */
  sharedSessions: boolean;
}

const NESTED = `{ productAssignments { id productName remainingLicenseCount
  licenses(first: 5, orderBy: { field: CREATED_AT, direction: DESC }) { totalCount
    nodes { id hwid expired productAssignment { id } detail { id customer fileName downloadUrl license { id } } } } } }`;

const LIST = `query List($filter: LicenseFilter, $order: LicenseOrder, $after: String) {
  licenses(filter: $filter, orderBy: $order, first: 10, after: $after) {
    totalCount edges { cursor node { id hwid expirationDate note productAssignment { id } } } pageInfo { hasNextPage endCursor } } }`;

const BY_ID = `query ById($id: ID!) {
  license(id: $id) { id hwid productAssignment { id } detail { customer license { id } } }
  licenseDetail(licenseId: $id) { customer license { id } } }`;

const OTHER = `query Other($license: ID!, $assignment: ID!) {
  license(id: $license) { id hwid } productAssignment(id: $assignment) { id productName } }`;

const GENERATE = `mutation Generate($input: GenerateLicenseInput!) {
  generateLicense(input: $input) { license { id hwid expirationDate note productAssignment { id } } productAssignment { id usedLicenseCount } } }`;

function makeActions(context: ActionContext) {
  const { emulator, tally, today, post, sharedSessions } = context;
  const state = emulator.state;

  /**
   * Checks an answer: HTTP 200, JSON, each error coded and among `allowed`, and every id in the data the caller's
   * (`owned` walks the data). Counts it; returns the error codes met (undefined when the answer was unusable).
   */
  const check = (
    client: Client,
    what: string,
    answer: GraphQLAnswer,
    allowed: readonly string[],
    owned: (data: Record<string, unknown>) => string[],
  ): string[] | undefined => {
    if (answer.status === 0) {
      tally.unexpected('no answer', `${what}: ${answer.text}`);
      return undefined;
    }
    if (answer.status === 503 && client.credentials === 'session' && sharedSessions) {
      const reason = (answer.body?.errors?.[0]?.extensions as { reason?: unknown } | undefined)?.reason;
      if (reason === SESSION_STORE_UNAVAILABLE) {
        tally.expectedError(SESSION_STORE_UNAVAILABLE);
        return [SESSION_STORE_UNAVAILABLE];
      }
    }
    if (answer.status !== 200) {
      tally.unexpected(
        `HTTP ${answer.status}`,
        `${what} as ${client.username} (${client.credentials}): ${answer.text}`,
      );
      return undefined;
    }
    if (!answer.body || typeof answer.body !== 'object') {
      tally.unexpected('malformed response', `${what}: ${answer.text}`);
      return undefined;
    }
    const codes: string[] = [];
    for (const error of answer.body.errors ?? []) {
      const code = error.extensions?.code;
      if (typeof code !== 'string') tally.unexpected('error without a code', `${what}: ${JSON.stringify(error)}`);
      else if (code === 'NOT_FOUND' && isDetailOfOwnLicence(client, answer.body.data, error.path)) {
        // The detail of a licence the caller owns exists: NOT_FOUND for it is a wrong answer. (Licence list and detail
        // list are two snapshots; the loaders read the list again rather than call new licences missing.)
        tally.unexpected(
          'NOT_FOUND for the detail of an existing own licence',
          `${what} as ${client.username}: ${JSON.stringify(error)}`,
        );
      } else if (!allowed.includes(code))
        tally.unexpected(code, `${what} as ${client.username}: ${JSON.stringify(error)}`);
      else tally.expectedError(code);
      if (typeof code === 'string') codes.push(code);
    }
    const foreign = answer.body.data ? owned(answer.body.data) : [];
    for (const record of foreign) {
      tally.crossCustomerReads += 1;
      tally.unexpected('cross-customer read', `${what} as ${client.username} (${client.customer}) was shown ${record}`);
    }
    if (codes.length === 0 && foreign.length === 0 && answer.body.data) {
      tally.successes += 1;
      tally.successesBy[client.credentials] += 1;
    }
    return codes;
  };

  /** Whether an error's path is the `detail` of a licence (in the data) that exists and is the caller's. */
  const isDetailOfOwnLicence = (client: Client, data: unknown, path: unknown): boolean => {
    if (!Array.isArray(path) || path.length < 2 || path[path.length - 1] !== 'detail') return false;
    let parent: unknown = data;
    for (const step of path.slice(0, -1))
      parent =
        parent !== null && typeof parent === 'object'
          ? (parent as Record<string | number, unknown>)[step as string | number]
          : undefined;
    const id = parent !== null && typeof parent === 'object' ? (parent as { id?: unknown }).id : undefined;
    return typeof id === 'string' && state.license(Number(id))?.customer === client.customer;
  };

  /** Ids in the data that are not of the caller's customer, named. */
  const foreignIn = (client: Client, data: unknown): string[] => {
    const found: string[] = [];
    const visit = (value: unknown, key: string | undefined): void => {
      if (Array.isArray(value)) return value.forEach((item) => visit(item, key));
      if (value === null || typeof value !== 'object') return;
      const record = value as Record<string, unknown>;
      if (typeof record.customer === 'string' && record.customer !== client.customer)
        found.push(`a detail of ${record.customer}`);
      if (typeof record.id === 'string' && key !== undefined) {
        const id = Number(record.id);
        const owner =
          key === 'productAssignment' || key === 'productAssignments'
            ? state.assignment(id)?.customer
            : key === 'license' || key === 'node' || key === 'nodes'
              ? state.license(id)?.customer
              : undefined;
        if (owner !== undefined && owner !== client.customer) found.push(`${key} ${id} of ${owner}`);
        if (
          owner === undefined &&
          (key === 'license' || key === 'node' || key === 'nodes' || key.startsWith('productAssignment'))
        ) {
          found.push(`${key} ${id}, which the portal does not hold`);
        }
      }
      for (const [childKey, child] of Object.entries(record)) visit(child, childKey);
    };
    visit(data, undefined);
    return found;
  };

  return {
    async nested(client: Client): Promise<void> {
      const answer = await post(client, NESTED);
      check(client, 'nested read', answer, UPSTREAM_CODES, (data) => foreignIn(client, data));
    },

    async list(client: Client): Promise<void> {
      const filters: Array<Record<string, unknown>> = [
        { universal: false, expiresAfter: today },
        { search: 'soak' },
        { universal: true },
        { productAssignmentId: String(client.generatable[0]!.id) },
        { expiresBefore: addDays(today, 60) },
      ];
      const filter = filters[Math.floor(Math.random() * filters.length)]!;
      const order = { field: pick(['ID', 'EXPIRATION_DATE', 'CREATED_AT']), direction: pick(['ASC', 'DESC']) };
      let after: string | undefined;
      for (let page = 0; page < 2; page += 1) {
        const answer = await post(client, LIST, { filter, order, ...(after ? { after } : {}) });
        const codes = check(client, `licence list ${JSON.stringify(filter)}`, answer, UPSTREAM_CODES, (data) => [
          ...foreignIn(client, data),
          ...filterViolations(data, filter),
        ]);
        const connection = answer.body?.data?.licenses as
          { pageInfo?: { hasNextPage?: boolean; endCursor?: string } } | null | undefined;
        if (!codes || codes.length > 0 || !connection?.pageInfo?.hasNextPage || !connection.pageInfo.endCursor) return;
        after = connection.pageInfo.endCursor;
      }
    },

    async ownById(client: Client): Promise<void> {
      const own = state.licensesOf(client.username);
      const id = own[Math.floor(Math.random() * own.length)]!.id;
      const answer = await post(client, BY_ID, { id: String(id) });
      check(client, `license(id: ${id}) (own)`, answer, UPSTREAM_CODES, (data) => {
        const problems = foreignIn(client, data);
        const license = data.license as { id?: string } | null | undefined;
        if (license && license.id !== String(id)) problems.push(`licence ${license.id} when ${id} was asked for`);
        return problems;
      });
    },

    async otherById(client: Client): Promise<void> {
      const licences = state.licensesOf(client.otherUsername);
      const assignments = state.assignmentsOf(client.otherUsername);
      const licenseId = licences[Math.floor(Math.random() * licences.length)]!.id;
      const assignmentId = assignments[Math.floor(Math.random() * assignments.length)]!.id;
      const answer = await post(client, OTHER, { license: String(licenseId), assignment: String(assignmentId) });
      const codes = check(
        client,
        `the other customer's licence ${licenseId} and assignment ${assignmentId}`,
        answer,
        [...UPSTREAM_CODES, 'FORBIDDEN'],
        (data) => [
          ...(data.license ? [`licence ${licenseId} of the other customer`] : []),
          ...(data.productAssignment ? [`assignment ${assignmentId} of the other customer`] : []),
        ],
      );
      if (codes && !codes.includes(SESSION_STORE_UNAVAILABLE) && codes.length < 2)
        tally.unexpected('other customer not refused', `as ${client.username}: ${answer.text.slice(0, 300)}`);
    },

    /** One attempt; answers `ok`, the error code of the generateLicense field, `http <status>` or `no answer`. */
    async generate(client: Client, intent: GenerateIntent): Promise<string> {
      const input = {
        productAssignmentId: String(intent.productAssignmentId),
        hwid: intent.hwid,
        expirationDate: intent.expirationDate,
        note: intent.note,
        idempotencyKey: intent.key,
      };
      const answer = await post(client, GENERATE, { input });
      const codes = check(
        client,
        `generateLicense ${intent.key}`,
        answer,
        [...UPSTREAM_CODES, 'OUTCOME_UNKNOWN'],
        (data) => foreignIn(client, data),
      );
      if (answer.status === 0) return 'no answer';
      if (!codes) return `http ${answer.status}`;
      if (codes.includes(SESSION_STORE_UNAVAILABLE)) return SESSION_STORE_UNAVAILABLE;
      const payload = answer.body?.data?.generateLicense as
        { license?: { id?: string; hwid?: string; note?: string } } | null | undefined;
      if (payload?.license?.id) {
        const id = Number(payload.license.id);
        if (payload.license.hwid !== intent.hwid || payload.license.note !== intent.note) {
          tally.unexpected('wrong licence acknowledged', `${intent.key} got ${JSON.stringify(payload.license)}`);
        }
        if (intent.acknowledgedId !== undefined && intent.acknowledgedId !== id) {
          tally.unexpected('key acknowledged twice', `${intent.key}: ${intent.acknowledgedId}, then ${id}`);
        }
        intent.acknowledgedId = id;
        return 'ok';
      }
      const own = (answer.body?.errors ?? []).find(
        (error) => Array.isArray(error.path) && error.path.length === 1 && error.path[0] === 'generateLicense',
      );
      const code = own?.extensions?.code;
      if (typeof code === 'string') return code;
      tally.unexpected('generateLicense without licence or error', `${intent.key}: ${answer.text.slice(0, 300)}`);
      return 'no licence and no error';
    },
  };
}

/**
 * Signs a user in and answers the `Cookie` header of the session. Throws when the server does not start one: the
 * run cannot begin without it.
 */
async function signIn(agent: Agent, origin: string, username: string, password: string): Promise<string> {
  const response = await agent.request({
    origin,
    path: '/auth/session',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const text = await response.body.text();
  const setCookie = response.headers['set-cookie'];
  const id = (Array.isArray(setCookie) ? setCookie : [setCookie ?? ''])
    .map((line) => /^portal_session=([^;]+)/.exec(line)?.[1])
    .find((value) => value !== undefined);
  if (response.statusCode !== 200 || id === undefined)
    throw new Error(`the sign-in of ${username} was answered HTTP ${response.statusCode}: ${text.slice(0, 300)}`);
  return `portal_session=${id}`;
}

/** Licences in a list that its filter should have left out. */
interface SoakFilter {
  universal?: boolean;
  expiresAfter?: string;
  expiresBefore?: string;
  search?: string;
  productAssignmentId?: string;
}

function filterViolations(data: Record<string, unknown>, filter: SoakFilter): string[] {
  const connection = data.licenses as {
    edges?: Array<{
      node: {
        id: string;
        hwid: string | null;
        expirationDate: string;
        note: string | null;
        productAssignment: { id: string } | null;
      };
    }>;
  } | null;
  const problems: string[] = [];
  for (const { node } of connection?.edges ?? []) {
    const fits =
      (filter.universal === undefined || (node.hwid === null) === filter.universal) &&
      (filter.expiresAfter === undefined || node.expirationDate > filter.expiresAfter) &&
      (filter.expiresBefore === undefined || node.expirationDate < filter.expiresBefore) &&
      (filter.search === undefined || `${node.hwid ?? ''}\n${node.note ?? ''}`.toLowerCase().includes(filter.search)) &&
      (filter.productAssignmentId === undefined ||
        node.productAssignment === null ||
        node.productAssignment.id === filter.productAssignmentId);
    if (!fits) problems.push(`licence ${node.id} does not fit the filter ${JSON.stringify(filter)}`);
  }
  return problems;
}

/** The caller's assignments with room for many licences (unlimited, or 100+ left) and valid for 30 more days. */
function generatableAssignments(emulator: Emulator, username: string, today: string): Client['generatable'] {
  const horizon = addDays(today, 365);
  return emulator.state
    .assignmentsOf(username)
    .filter(
      (assignment) =>
        assignment.total_license_count === null ||
        assignment.total_license_count - assignment.used_license_count >= 100,
    )
    .filter((assignment) => assignment.valid_until === null || assignment.valid_until >= addDays(today, 30))
    .map((assignment) => ({
      id: assignment.id,
      latestExpiration:
        assignment.valid_until === null || assignment.valid_until > horizon ? horizon : assignment.valid_until,
    }));
}

function upstreamFigures(emulator: Emulator): SoakReport['upstream'] {
  const entries = emulator.requestLog.entries();
  const faulted: Partial<Record<FaultKind, number>> = {};
  for (const entry of entries) if (entry.fault) faulted[entry.fault] = (faulted[entry.fault] ?? 0) + 1;
  return {
    requests: entries.length,
    faulted: sortedRecord(faulted),
    logComplete: entries.length === 0 || entries[0]!.seq === 1,
  };
}

function percentiles(values: number[]): SoakReport['latencyMs'] {
  if (values.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (share: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: Math.round(sorted[sorted.length - 1]!) };
}

function sortedRecord(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

function addDays(date: string, days: number): string {
  const at = new Date(`${date}T00:00:00Z`);
  at.setUTCDate(at.getUTCDate() + days);
  return at.toISOString().slice(0, 10);
}

function randomDateBetween(first: string, last: string): string {
  const span = Math.max(0, Math.round((Date.parse(last) - Date.parse(first)) / 86_400_000));
  return addDays(first, Math.floor(Math.random() * (span + 1)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
