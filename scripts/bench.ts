/**
 * `npm run bench`: measures this server (`planned`) beside two others answering the same operations on the
 * emulator's large seed: the usual approach (`baseline`: the same server with one show-by-id call per parent, what
 * Apollo's RESTDataSource does; `scripts/bench/baselineServer.ts`) and a floor (`floor`: a hand-written aggregator
 * that makes the plan's calls and writes the same JSON with no GraphQL engine; `scripts/bench/floorServer.ts`).
 * Every figure is reported with planned's ratio to the floor's and to the baseline's, taken in the same run.
 *
 *   npm run bench              the full run (about 4 minutes on 2 cores)
 *   npm run bench -- --quick   a short smoke run: 3 samples, 2 s of load per operation (about 2 minutes)
 *
 * The npm script builds first; this script then runs the built server (`dist/main.js`, with `npm start`'s Node flags), the baseline and the
 * floor, and the portal emulator (`tsx src/emulator/cli.ts --seed large`) as child processes on free loopback
 * ports: for each strategy, one server in front of an emulator adding 0 ms per answer and one in front of an
 * emulator adding 20 ms, all side by side (a server that waits costs no CPU), so each operation is measured with
 * every strategy back to back. It stops them all when it ends, fails or is interrupted.
 *
 * The operations (see `scripts/bench/queries.ts`), as the demo user (40 assignments, 5,000 licences):
 *   1. { productAssignments { id productName licenses { totalCount nodes { id hwid detail { fileName }
 *        productAssignment { productName } } } } }
 *   2. { licenses { totalCount nodes { id productAssignment { productName } detail { hwids } } } }
 *   3. five aliased license(id:) with their assignment: ids 2647, 3321, 4022, 4352, 5971 (assignments 1, 12, 23,
 *      33, 48)
 *   4. licenses(filter: { universal: false, expiresAfter: <today> }, orderBy: { field: EXPIRATION_DATE,
 *      direction: ASC }, first: 20) { totalCount nodes { id hwid productAssignment { productName } }
 *      pageInfo { endCursor } }
 *   5. generateLicense on the unlimited assignment 1, a new hwid per request, expiring in 30 days, no
 *      idempotencyKey (run last, so the licences it adds change no read's figures)
 *
 * Before anything is measured, the floor's answers are checked to be the planned server's, byte for byte (a
 * difference stops the run with both answers around it): the reads at once, the mutation just before it is measured.
 * For each operation and strategy it then measures:
 *   - upstream calls per request, after the warm-up (`extensions.upstream.byEndpoint`, asked for with
 *     `x-upstream-calls: 1`); the floor's are compared with the planned server's, and a difference is reported;
 *   - cold latency: the median of 7 sequential requests to the 0 ms and the 20 ms server, alternately (so a change
 *     in the machine's load falls on both alike), after a warm-up of up to 5 requests or 3 s (a fresh server's
 *     first requests pay for JIT compilation and heap growth);
 *   - throughput and p99 latency under load (autocannon, 10 connections, emulator at 0 ms) for a fixed duration
 *     (8 s), or, for every strategy alike, a fixed number of requests (3 per connection) when one request alone
 *     takes more than a twentieth of the duration (the baseline's heavy queries 1 and 2);
 *   - each server's peak RSS (VmHWM), read from /proc just before it is stopped;
 *   - the cost of tracing: two more planned servers, each in front of a fresh emulator at 0 ms, one with tracing on
 *     (every request sampled, spans exported over OTLP/HTTP to a receiver in this process), under the same load in
 *     alternating rounds: the traced one's req/s against the untraced one's (`measureTracing`).
 * Every response is checked: one with `errors` stops the run. The report (Markdown) goes to stdout and to
 * `bench-results.md` at the repository's root, ending with issue 12's targets, met or not.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  measureCold,
  measureLoad,
  type ColdResult,
  type ColdSettings,
  type LoadResult,
  type LoadSettings,
} from './bench/measure';
import {
  REPO_ROOT,
  killAllChildrenNow,
  peakRssBytes,
  startEmulator,
  startServer,
  stopAllChildren,
  type RunningServer,
  type Strategy,
} from './bench/processes';
import { benchQueries, utcToday, type BenchQuery } from './bench/queries';
import { measureXlarge, type XlargeFigures } from './bench/xlarge';
import {
  renderReport,
  type LargeFigures,
  type PeakMemory,
  type QueryFigures,
  type StrategyFigures,
  type TracingFigures,
} from './bench/report';
import { callsDiffer, checkSameAnswer } from './bench/floorCheck';
import { startOtlpSink } from './bench/otlpSink';

interface RunSettings {
  mode: 'full' | 'quick';
  /** Which parts run: the large seed's (every strategy, five operations) and the xlarge seed's. */
  parts: ReadonlySet<Part>;
  /** Sequential requests per operation, strategy and latency, and the warm-up before them. */
  cold: ColdSettings;
  connections: number;
  /** Seconds of load per operation. */
  loadDurationS: number;
  /**
   * When one request alone takes longer than this share of the load duration, the load is a fixed number of
   * requests (`slowRequestsPerConnection` per connection) instead: a duration would see few or no answers.
   */
  slowRequestShare: number;
  slowRequestsPerConnection: number;
}

type Part = 'large' | 'xlarge';
const PARTS: readonly Part[] = ['large', 'xlarge'];

const FULL: Omit<RunSettings, 'parts'> = {
  mode: 'full',
  cold: { samples: 7, warmUpRequests: 5, warmUpMs: 3000 },
  connections: 10,
  loadDurationS: 8,
  slowRequestShare: 1 / 20,
  slowRequestsPerConnection: 3,
};
const QUICK: Omit<RunSettings, 'parts'> = {
  mode: 'quick',
  cold: { samples: 3, warmUpRequests: 2, warmUpMs: 1000 },
  connections: 10,
  loadDurationS: 2,
  slowRequestShare: 1 / 10,
  slowRequestsPerConnection: 1,
};

/** Emulator latencies, in milliseconds, for the cold measurements. */
const SLOW_PORTAL_MS = 20;
const FAST_PORTAL_MS = 0;

const RESULTS_FILE = path.join(REPO_ROOT, 'bench-results.md');

const USAGE = `Usage: npm run bench [-- --quick] [-- --part large|xlarge]

Measures this server beside the baseline and the floor on the emulator's large seed, then beside the floor on its
xlarge seed, with and without the read cache; writes bench-results.md.
  --quick   a short smoke run (3 samples, 2 s of load per operation)
  --part    only the large seed's part, or only the xlarge seed's
  --help    show this help
`;

/** One strategy's two servers: in front of the fast portal (0 ms) and the slow one (20 ms). */
interface ServerPair {
  fast: RunningServer;
  slow: RunningServer;
}

/**
 * The servers of each strategy, and for the cost of tracing a pair of planned servers alike but for tracing, each in
 * front of its own fresh emulator: the strategies' emulators hold every earlier operation's effects (thousands of
 * licences generated), which the untraced side alone would carry.
 */
type Stacks = Record<Strategy, ServerPair> & { tracing: { untraced: RunningServer; traced: RunningServer } };

const STRATEGIES: readonly Strategy[] = ['planned', 'baseline', 'floor'];

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  if (settings === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const startedAt = new Date();
  const started = performance.now();
  const loadAtStart = os.loadavg()[0]!;
  const today = utcToday();
  const queries = benchQueries(today, startedAt.getTime().toString(36));

  let large: LargeFigures | undefined;
  if (settings.parts.has('large')) {
    const figures: QueryFigures[] = [];
    const memory = await withStacks(today, async (stacks) => {
      // The reads are compared first, so that a floor that answers otherwise stops the run at once; the mutation just
      // before it is measured, when the two fast emulators have served only reads and hold the same data, so that the
      // same request (the same hwid) generates the same licence id on both and the answers compare byte for byte.
      for (const query of queries) if (query.key !== 'generate') await checkFloor(stacks, query);
      for (const query of queries) {
        if (query.key === 'generate') await checkFloor(stacks, query);
        figures.push(await measureQuery(stacks, query, settings));
      }
    });
    large = { queries: figures, memory };
  }
  let xlarge: XlargeFigures | undefined;
  if (settings.parts.has('xlarge')) {
    try {
      xlarge = await measureXlarge(today, startedAt.getTime().toString(36), settings, progress);
    } finally {
      await stopAllChildren();
    }
  }

  const report = renderReport({
    mode: settings.mode,
    startedAt,
    elapsedS: (performance.now() - started) / 1000,
    cold: settings.cold,
    connections: settings.connections,
    loadDurationS: settings.loadDurationS,
    large,
    xlarge,
    loadAverage: { start: loadAtStart, end: os.loadavg()[0]! },
  });
  process.stdout.write(report);
  writeFileSync(RESULTS_FILE, report);
  progress(`written to ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}`);
}

function parseSettings(argv: string[]): RunSettings | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: { quick: { type: 'boolean' }, part: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) return 'help';
  const part = values.part;
  if (part !== undefined && !PARTS.includes(part as Part))
    throw new Error(`--part must be one of ${PARTS.join(', ')}; not ${part}`);
  return { ...(values.quick ? QUICK : FULL), parts: new Set(part === undefined ? PARTS : [part as Part]) };
}

/** Fails unless the floor answers `query` as the planned server does, byte for byte (see `floorCheck.ts`). */
async function checkFloor(stacks: Stacks, query: BenchQuery): Promise<void> {
  await checkSameAnswer(stacks.planned.fast.graphqlUrl, stacks.floor.fast.graphqlUrl, query);
  progress(`${query.name}: the floor's answer is the planned server's, byte for byte`);
}

/**
 * Measures one operation with every strategy: cold latencies first (each strategy's two servers alternately),
 * then the load on each strategy's fast server, bounded alike for all so that their figures compare.
 */
async function measureQuery(stacks: Stacks, query: BenchQuery, settings: RunSettings): Promise<QueryFigures> {
  const cold: Partial<Record<Strategy, ColdResult>> = {};
  for (const strategy of STRATEGIES)
    cold[strategy] = await measureCold(
      stacks[strategy].fast.graphqlUrl,
      stacks[strategy].slow.graphqlUrl,
      query,
      settings.cold,
    );
  const bound = loadSettingsFor(Math.max(...STRATEGIES.map((strategy) => cold[strategy]!.fastMs)), settings);
  const figures: Partial<Record<Strategy, StrategyFigures>> = {};
  for (const strategy of STRATEGIES) {
    const load = await measureLoad(stacks[strategy].fast.graphqlUrl, query, bound);
    const { calls, byEndpoint, fastMs, slowMs, fastMinMs, slowMinMs } = cold[strategy]!;
    progress(
      `${query.name}, ${strategy}: ${calls} calls; cold ${fastMs.toFixed(1)} ms at ${FAST_PORTAL_MS} ms, ${slowMs.toFixed(1)} ms at ` +
        `${SLOW_PORTAL_MS} ms; ${load.requestsPerSecond.toFixed(2)} req/s, p99 ${load.p99Ms} ms (${load.requests} requests in ${load.seconds} s)`,
    );
    figures[strategy] = {
      calls,
      byEndpoint,
      cold0Ms: fastMs,
      cold20Ms: slowMs,
      cold0MinMs: fastMinMs,
      cold20MinMs: slowMinMs,
      load,
    };
  }
  const tracing = await measureTracing(stacks, query, bound, settings);
  const planned = figures.planned!;
  const floor = figures.floor!;
  const differ = callsDiffer(planned.byEndpoint, floor.byEndpoint);
  if (differ !== undefined) progress(`${query.name}: the floor's calls are not the plan's: ${differ}`);
  return { query, planned, baseline: figures.baseline!, floor, tracing, callsDiffer: differ };
}

/** Rounds of the tracing comparison: each round loads the untraced and the traced server in turn. */
const TRACING_ROUNDS = 4;

/**
 * The planned server without tracing and with it (every request sampled), two servers alike but for that, under
 * the same load, in alternating rounds (untraced then traced, then traced then untraced, …) of a quarter of the
 * load's duration each: a change in the machine's speed while it runs (a shared machine's moves by a tenth or more
 * from one minute to the next) then falls on both alike, where two loads one after the other would each catch a
 * different one. Both are warmed up alike first: a few sequential requests, and one round of load not kept.
 */
async function measureTracing(
  stacks: Stacks,
  query: BenchQuery,
  bound: LoadSettings,
  settings: RunSettings,
): Promise<TracingFigures> {
  const servers = { untraced: stacks.tracing.untraced.graphqlUrl, traced: stacks.tracing.traced.graphqlUrl };
  await measureCold(servers.untraced, servers.traced, query, { ...settings.cold, samples: 1 });
  const round: LoadSettings =
    bound.amount === undefined
      ? { connections: bound.connections, durationS: Math.max(1, Math.round(bound.durationS / TRACING_ROUNDS)) }
      : { ...bound, amount: Math.max(bound.connections, Math.round(bound.amount / TRACING_ROUNDS)) };
  for (const url of [servers.untraced, servers.traced]) await measureLoad(url, query, round);
  const rounds: Record<keyof typeof servers, LoadResult[]> = { untraced: [], traced: [] };
  for (let index = 0; index < TRACING_ROUNDS; index += 1) {
    const order = index % 2 === 0 ? (['untraced', 'traced'] as const) : (['traced', 'untraced'] as const);
    for (const which of order) rounds[which].push(await measureLoad(servers[which], query, round));
  }
  const figures = { untraced: combineRounds(rounds.untraced), traced: combineRounds(rounds.traced) };
  progress(
    `${query.name}, planned without and with tracing, alternating ${figures.traced.bound}: ` +
      `${figures.untraced.requestsPerSecond.toFixed(2)} and ${figures.traced.requestsPerSecond.toFixed(2)} req/s ` +
      `(rounds: ${rounds.untraced.map((each) => each.requestsPerSecond.toFixed(0)).join(', ')} and ` +
      `${rounds.traced.map((each) => each.requestsPerSecond.toFixed(0)).join(', ')})`,
  );
  return figures;
}

/** Rounds of load as one: their requests over their seconds, and the worst p99. */
function combineRounds(rounds: readonly LoadResult[]): LoadResult {
  const requests = rounds.reduce((sum, each) => sum + each.requests, 0);
  const seconds = rounds.reduce((sum, each) => sum + each.seconds, 0);
  return {
    requestsPerSecond: requests / seconds,
    p99Ms: Math.max(...rounds.map((each) => each.p99Ms)),
    requests,
    seconds: Math.round(seconds * 100) / 100,
    bound: `${rounds.length} rounds of ${rounds[0]!.bound}`,
  };
}

/**
 * A fixed duration of load, or a fixed number of requests when one request alone is too slow for the duration:
 * requests that take seconds under load would leave a duration's count to chance (those in flight at its end).
 */
function loadSettingsFor(coldMs: number, settings: RunSettings): LoadSettings {
  const load: LoadSettings = { connections: settings.connections, durationS: settings.loadDurationS };
  if (coldMs > settings.loadDurationS * 1000 * settings.slowRequestShare)
    load.amount = settings.connections * settings.slowRequestsPerConnection;
  return load;
}

/**
 * Starts, for each strategy, a fast and a slow emulator and a server in front of each (the strategies' stacks
 * share nothing, so the licences one generates do not reach another); runs `work`; reads each server's peak
 * RSS; and stops them all, also when `work` fails. A stack that waits costs no CPU.
 */
async function withStacks(
  today: string,
  work: (stacks: Stacks) => Promise<void>,
): Promise<Record<Strategy, PeakMemory>> {
  const sink = await startOtlpSink();
  try {
    const [planned, baseline, floor] = await Promise.all(STRATEGIES.map((strategy) => startPair(strategy, today)));
    const [untracedPortal, tracedPortal] = await Promise.all([
      startEmulator(FAST_PORTAL_MS),
      startEmulator(FAST_PORTAL_MS),
    ]);
    const [untraced, traced] = await Promise.all([
      startServer('planned', untracedPortal.url, today),
      startServer('planned', tracedPortal.url, today, sink.tracedEnv),
    ]);
    progress(`planned without and with tracing: servers up, the traced one exporting to ${sink.url}`);
    const stacks: Stacks = { planned: planned!, baseline: baseline!, floor: floor!, tracing: { untraced, traced } };
    await work(stacks);
    const { exports, bytes } = sink.received();
    progress(`planned with tracing: ${exports} exports of spans received (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
    const peak = (pair: ServerPair): PeakMemory => ({
      at0Ms: peakRssBytes(pair.fast.child),
      at20Ms: peakRssBytes(pair.slow.child),
    });
    return { planned: peak(stacks.planned), baseline: peak(stacks.baseline), floor: peak(stacks.floor) };
  } finally {
    await stopAllChildren();
    await sink.close();
  }
}

async function startPair(strategy: Strategy, today: string): Promise<ServerPair> {
  const [fastPortal, slowPortal] = await Promise.all([startEmulator(FAST_PORTAL_MS), startEmulator(SLOW_PORTAL_MS)]);
  const [fast, slow] = await Promise.all([
    startServer(strategy, fastPortal.url, today),
    startServer(strategy, slowPortal.url, today),
  ]);
  progress(
    `${strategy}: servers up, in front of emulators at ${FAST_PORTAL_MS} ms (${fastPortal.url}) and ${SLOW_PORTAL_MS} ms (${slowPortal.url})`,
  );
  return { fast, slow };
}

function progress(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** Set once Ctrl-C or SIGTERM arrived: what fails after it is the interruption's doing, not worth reporting. */
let interrupted = false;

/** Stops every child on Ctrl-C or SIGTERM, and kills any left at exit, whatever the reason. */
function installCleanup(): void {
  process.on('exit', killAllChildrenNow);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      interrupted = true;
      progress(`${signal}: stopping the emulators and the servers`);
      void stopAllChildren().finally(() => process.exit(code));
    });
  }
}

installCleanup();
main().catch(async (error: unknown) => {
  if (interrupted) return; // The signal handler stops the children and exits.
  process.stderr.write(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await stopAllChildren();
  process.exit(1);
});
