/**
 * `npm run bench`: compares this server's planned upstream calls with the usual approach (the `baseline`
 * strategy: one show-by-id call per parent, what Apollo's RESTDataSource does), on the emulator's large seed.
 *
 *   npm run bench              the full run (about 4 minutes on 2 cores)
 *   npm run bench -- --quick   a short smoke run: 3 samples, 2 s of load per operation (about 2 minutes)
 *
 * The npm script builds first; this script then runs the built server (`node dist/main.js`) and the portal
 * emulator (`tsx src/emulator/cli.ts --seed large`) as child processes on free loopback ports: for each strategy,
 * one server in front of an emulator adding 0 ms per answer and one in front of an emulator adding 20 ms, all
 * side by side (a server that waits costs no CPU), so each operation is measured with both strategies back to
 * back. It stops them all when it ends, fails or is interrupted.
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
 * For each operation and strategy it measures:
 *   - upstream calls per request (`extensions.upstream.calls`, asked for with `x-upstream-calls: 1`);
 *   - cold latency: the median of 7 sequential requests to the 0 ms and the 20 ms server, alternately (so a change
 *     in the machine's load falls on both alike), after a warm-up of up to 5 requests or 3 s (a fresh server's
 *     first requests pay for JIT compilation and heap growth);
 *   - throughput and p99 latency under load (autocannon, 10 connections, emulator at 0 ms) for a fixed duration
 *     (8 s), or, for both strategies alike, a fixed number of requests (3 per connection) when one request alone
 *     takes more than a twentieth of the duration (the heavy queries 1 and 2);
 *   - each server's peak RSS (VmHWM), read from /proc just before it is stopped.
 * Every response is checked: one with `errors` stops the run. The report (Markdown) goes to stdout and to
 * `bench-results.md` at the repository's root, ending with the targets for the nested query, met or not.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { measureCold, measureLoad, type ColdSettings, type LoadSettings } from './bench/measure';
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
import { NESTED_QUERY_NAME, benchQueries, utcToday, type BenchQuery } from './bench/queries';
import { renderReport, type PeakMemory, type QueryFigures, type StrategyFigures } from './bench/report';

interface RunSettings {
  mode: 'full' | 'quick';
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

const FULL: RunSettings = {
  mode: 'full',
  cold: { samples: 7, warmUpRequests: 5, warmUpMs: 3000 },
  connections: 10,
  loadDurationS: 8,
  slowRequestShare: 1 / 20,
  slowRequestsPerConnection: 3,
};
const QUICK: RunSettings = {
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

const USAGE = `Usage: npm run bench [-- --quick]

Compares the planned and baseline loader strategies on the emulator's large seed and writes bench-results.md.
  --quick   a short smoke run (3 samples, 2 s of load per operation)
  --help    show this help
`;

/** One strategy's two servers: in front of the fast portal (0 ms) and the slow one (20 ms). */
interface ServerPair {
  fast: RunningServer;
  slow: RunningServer;
}

type Stacks = Record<Strategy, ServerPair>;

const STRATEGIES: readonly Strategy[] = ['planned', 'baseline'];

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  if (settings === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const startedAt = new Date();
  const started = performance.now();
  const loadAtStart = os.loadavg()[0]!;
  const queries = benchQueries(utcToday(), startedAt.getTime().toString(36));

  const figures: QueryFigures[] = [];
  const memory = await withStacks(async (stacks) => {
    for (const query of queries) figures.push(await measureQuery(stacks, query, settings));
  });

  const report = renderReport({
    mode: settings.mode,
    startedAt,
    elapsedS: (performance.now() - started) / 1000,
    cold: settings.cold,
    connections: settings.connections,
    loadDurationS: settings.loadDurationS,
    queries: figures,
    nested: figures.find((row) => row.query.name === NESTED_QUERY_NAME)!,
    memory,
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
    options: { quick: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) return 'help';
  return values.quick ? QUICK : FULL;
}

/**
 * Measures one operation with both strategies: cold latencies first (each strategy's two servers alternately),
 * then the load on each strategy's fast server, bounded alike for both so that their figures compare.
 */
async function measureQuery(stacks: Stacks, query: BenchQuery, settings: RunSettings): Promise<QueryFigures> {
  const cold = {
    planned: await measureCold(stacks.planned.fast.graphqlUrl, stacks.planned.slow.graphqlUrl, query, settings.cold),
    baseline: await measureCold(stacks.baseline.fast.graphqlUrl, stacks.baseline.slow.graphqlUrl, query, settings.cold),
  };
  const bound = loadSettingsFor(Math.max(cold.planned.fastMs, cold.baseline.fastMs), settings);
  const underLoad = async (strategy: Strategy): Promise<StrategyFigures> => {
    const load = await measureLoad(stacks[strategy].fast.graphqlUrl, query, bound);
    const { calls, fastMs, slowMs, fastMinMs, slowMinMs } = cold[strategy];
    progress(
      `${query.name}, ${strategy}: ${calls} calls; cold ${fastMs.toFixed(1)} ms at ${FAST_PORTAL_MS} ms, ${slowMs.toFixed(1)} ms at ` +
        `${SLOW_PORTAL_MS} ms; ${load.requestsPerSecond.toFixed(2)} req/s, p99 ${load.p99Ms} ms (${load.requests} requests in ${load.seconds} s)`,
    );
    return { calls, cold0Ms: fastMs, cold20Ms: slowMs, cold0MinMs: fastMinMs, cold20MinMs: slowMinMs, load };
  };
  const planned = await underLoad('planned');
  const baseline = await underLoad('baseline');
  return { query, planned, baseline };
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
 * share nothing, so the licences one generates do not reach the other); runs `work`; reads each server's peak
 * RSS; and stops them all, also when `work` fails. A stack that waits costs no CPU.
 */
async function withStacks(work: (stacks: Stacks) => Promise<void>): Promise<Record<Strategy, PeakMemory>> {
  try {
    const [planned, baseline] = await Promise.all(STRATEGIES.map((strategy) => startPair(strategy)));
    const stacks: Stacks = { planned: planned!, baseline: baseline! };
    await work(stacks);
    const peak = (pair: ServerPair): PeakMemory => ({
      at0Ms: peakRssBytes(pair.fast.child),
      at20Ms: peakRssBytes(pair.slow.child),
    });
    return { planned: peak(stacks.planned), baseline: peak(stacks.baseline) };
  } finally {
    await stopAllChildren();
  }
}

async function startPair(strategy: Strategy): Promise<ServerPair> {
  const [fastPortal, slowPortal] = await Promise.all([startEmulator(FAST_PORTAL_MS), startEmulator(SLOW_PORTAL_MS)]);
  const [fast, slow] = await Promise.all([
    startServer(strategy, fastPortal.url),
    startServer(strategy, slowPortal.url),
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
