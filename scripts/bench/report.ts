/**
 * The benchmark's report: the machine, the operations, one table per figure with a row per operation (planned,
 * baseline and floor, and planned's ratio to each), whether the floor made the planned server's calls, peak memory,
 * the nested query's time waiting on the portal, and the targets as met / not met lines. Markdown, so the
 * same text reads in a terminal and in `bench-results.md`.
 */
import os from 'node:os';
import { describeCalls, type CallsByEndpoint, type ColdSettings, type LoadResult } from './measure';
import type { BenchQuery, BenchQueryKey } from './queries';
import { serverNodeFlags, type Strategy } from './processes';
import { XLARGE_SERVERS, type XlargeFigures, type XlargeServer } from './xlarge';

/** What one strategy measured for one operation. */
export interface StrategyFigures {
  calls: number;
  byEndpoint: CallsByEndpoint;
  /** Median cold latencies with the portal at 0 ms and 20 ms. */
  cold0Ms: number;
  cold20Ms: number;
  /** The fastest cold requests, at 0 ms and 20 ms. */
  cold0MinMs: number;
  cold20MinMs: number;
  load: LoadResult;
}

/** One operation's figures, by strategy; `callsDiffer` says how the floor's calls differ from planned's, if they do. */
export type QueryFigures = Record<Strategy, StrategyFigures> & {
  query: BenchQuery;
  callsDiffer: string | undefined;
  /** The planned server without tracing and with it, under the same load, in alternating rounds. */
  tracing: TracingFigures;
};

/** The planned server's load without tracing and with it (every request sampled), measured in alternating rounds. */
export interface TracingFigures {
  untraced: LoadResult;
  traced: LoadResult;
}

/** Peak RSS of a strategy's two servers, in bytes: in front of the 20 ms portal (sequential requests only) and the 0 ms one (and load). */
export interface PeakMemory {
  at20Ms: number;
  at0Ms: number;
}

export interface RunSummary {
  mode: 'full' | 'quick';
  startedAt: Date;
  elapsedS: number;
  cold: ColdSettings;
  connections: number;
  loadDurationS: number;
  /** The large seed's part, when it ran. */
  large: LargeFigures | undefined;
  /** The xlarge seed's part, when it ran. */
  xlarge: XlargeFigures | undefined;
  /** The machine's 1-minute load average when the run started and ended. */
  loadAverage: { start: number; end: number };
}

/** The targets (issue 12), as ratios taken in one run. */
const TARGETS = {
  /** Operations 1 and 2: throughput at least this share of the floor's. */
  heavyMinThroughputOfFloor: 0.75,
  /** Operations 1 and 2: cold latency at 0 ms at most this multiple of the floor's. */
  heavyMaxCold0OfFloor: 1.3,
  /** Operation 3: throughput at least this multiple of the baseline's (and cold latency no more than its). */
  aliasedMinThroughputOfBaseline: 1.5,
  /** Operation 4: throughput at least this share of the floor's. */
  pagedMinThroughputOfFloor: 0.9,
  /** Peak memory of the server under load at most this multiple of the floor's. */
  maxMemoryOfFloor: 1.25,
  /** Operation 4 on the xlarge seed: throughput with the read cache at least this multiple of its own without. */
  cachedPagedMinThroughputOfUncached: 10,
} as const;

/**
 * Operation 5's planned figures before issue 12, from the README's table (Node 24, 2026-11-30): its target is "no
 * slower than today". Another run on another day, so a guide rather than a ratio of this run.
 */
const GENERATE_BEFORE = { requestsPerSecond: 1992, cold0Ms: 3.4, source: "the README's table of 2026-11-30, Node 24" };

const STRATEGIES: readonly Strategy[] = ['planned', 'baseline', 'floor'];

interface TargetLine {
  met: boolean;
  text: string;
}

/** The large seed's part: each operation's figures, and each strategy's peak memory. */
export interface LargeFigures {
  queries: QueryFigures[];
  memory: Record<Strategy, PeakMemory>;
}

/** The whole report, as Markdown. */
export function renderReport(run: RunSummary): string {
  const large = run.large;
  return [
    ...headerLines(run),
    ...(large
      ? [
          ...queryLines(large.queries),
          ...tableLines(large, run.loadDurationS),
          ...callLines(large.queries),
          ...memoryLines(large.memory),
          ...portalWaitLines(figuresOf(large, 'nested')),
          ...tracingLines(large.queries),
        ]
      : []),
    ...(run.xlarge ? xlargeLines(run.xlarge, run.loadDurationS) : []),
    ...targetLines(run),
    '',
  ].join('\n');
}

function headerLines(run: RunSummary): string[] {
  const cpus = os.cpus();
  return [
    `# portal-graphql benchmark: planned vs baseline vs floor`,
    '',
    `- Date: ${run.startedAt.toISOString()} (${run.mode} run, took ${run.elapsedS.toFixed(0)} s)`,
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${os.type()} ${os.release()}`,
    `- Node ${process.version}; planned: this server, \`${['node', ...serverNodeFlags(), 'dist/main.js'].join(' ')}\` (NODE_ENV=production, PORTAL_CONNECTIONS default); ` +
      'baseline: the same server with one show call per parent (`scripts/bench/baselineServer.ts`, with the same flags); floor: a hand-written ' +
      'aggregator making the same calls as the plan, with no GraphQL engine (`scripts/bench/floorServer.ts`); emulator ' +
      '(`--seed large`: the demo user has 40 assignments, 5,000 licences); each in its own process',
    `- Cold latency: median of ${run.cold.samples} sequential requests (after a warm-up of up to ${run.cold.warmUpRequests} requests or ` +
      `${run.cold.warmUpMs / 1000} s), to two servers side by side (alternately),` +
      ' one in front of an emulator adding 0 ms per answer, one in front of an emulator adding 20 ms',
    `- Load: autocannon, ${run.connections} connections, emulator at 0 ms, ${run.loadDurationS} s per operation unless the row says otherwise`,
    `- Load average (1 min) at start and end: ${run.loadAverage.start.toFixed(2)} and ${run.loadAverage.end.toFixed(2)}; ` +
      `above ${os.cpus().length}, other processes were competing for the CPU and the figures are pessimistic`,
    "- The floor's answers were checked equal to the planned server's, byte for byte, before they were measured",
    '',
  ];
}

function queryLines(queries: readonly QueryFigures[]): string[] {
  const lines = ['## Operations', ''];
  for (const { query } of queries) {
    lines.push(`${query.name}:`, '', '```graphql', query.document, '```');
    if (query.variablesShown) lines.push('', `variables: \`${query.variablesShown}\``);
    lines.push('');
  }
  return lines;
}

/** One figure of the results: its heading, how a strategy's value reads, and the number its ratios are taken of. */
interface Figure {
  title: string;
  show: (figures: StrategyFigures) => string;
  value: (figures: StrategyFigures) => number;
}

function tableLines(large: LargeFigures, loadDurationS: number): string[] {
  const figures: Figure[] = [
    { title: 'Upstream calls per request', show: (f) => count(f.calls), value: (f) => f.calls },
    { title: 'Cold latency, portal at 0 ms (median)', show: (f) => ms(f.cold0Ms), value: (f) => f.cold0Ms },
    { title: 'Cold latency, portal at 20 ms (median)', show: (f) => ms(f.cold20Ms), value: (f) => f.cold20Ms },
    {
      title: 'Throughput under load (req/s)',
      show: (f) => rate(f.load) + bound(f.load, loadDurationS),
      value: (f) => f.load.requestsPerSecond,
    },
    { title: 'p99 latency under load', show: (f) => ms(f.load.p99Ms), value: (f) => f.load.p99Ms },
  ];
  const lines = [
    '## Results',
    '',
    'Every ratio is planned ÷ the other, in the same run: for calls and latencies below 1× is better, for req/s above 1×.',
    'A req/s figure marked with a number of requests was measured, for every strategy alike, with that fixed number of',
    "requests instead of a fixed duration: one request alone takes too long for a duration's count to be fair (those still",
    'in flight at its end are lost).',
    '',
  ];
  for (const figure of figures) {
    lines.push(
      `### ${figure.title}`,
      '',
      '| Operation | planned | baseline | floor | planned ÷ floor | planned ÷ baseline |',
      `|${' --- |'.repeat(6)}`,
      ...large.queries.map((row) => {
        const cells = [
          row.query.name,
          ...STRATEGIES.map((strategy) => figure.show(row[strategy])),
          ratio(figure.value(row.planned) / figure.value(row.floor)),
          ratio(figure.value(row.planned) / figure.value(row.baseline)),
        ];
        return `| ${cells.join(' | ')} |`;
      }),
      '',
    );
  }
  return lines;
}

function callLines(queries: readonly QueryFigures[]): string[] {
  return [
    '## Calls of the planned server and the floor',
    '',
    '(after the warm-up, from `extensions.upstream.byEndpoint`; the floor is written to make the calls of the plan)',
    '',
    ...queries.map(({ query, planned, callsDiffer }) =>
      callsDiffer === undefined
        ? `- [same calls] ${query.name}: ${describeCalls(planned.byEndpoint)}`
        : `- [CALLS DIFFER] ${query.name}: ${callsDiffer}; that row's ratios to the floor compare different work`,
    ),
    '',
  ];
}

function memoryLines(memory: Record<Strategy, PeakMemory>): string[] {
  const row = (title: string, of: (peak: PeakMemory) => number) =>
    `| ${title} | ${STRATEGIES.map((strategy) => mib(of(memory[strategy]))).join(' | ')} | ` +
    `${ratio(of(memory.planned) / of(memory.floor))} | ${ratio(of(memory.planned) / of(memory.baseline))} |`;
  return [
    '## Peak server memory (VmHWM)',
    '',
    '| Server | planned | baseline | floor | planned ÷ floor | planned ÷ baseline |',
    `|${' --- |'.repeat(6)}`,
    row('in front of the 20 ms portal (sequential requests)', (peak) => peak.at20Ms),
    row('in front of the 0 ms portal (sequential requests and load)', (peak) => peak.at0Ms),
    '',
  ];
}

function portalWaitLines(nested: QueryFigures): string[] {
  const line = (strategy: Strategy) => {
    const figures = nested[strategy];
    return (
      `- ${strategy}: ${ms(figures.cold20Ms - figures.cold0Ms)} (${ms(figures.cold20Ms)} − ${ms(figures.cold0Ms)}); ` +
      `from the fastest requests: ${ms(figures.cold20MinMs - figures.cold0MinMs)} (${ms(figures.cold20MinMs)} − ${ms(figures.cold0MinMs)})`
    );
  };
  return [
    `## Time ${nested.query.name} waits on the portal`,
    '',
    '(median cold latency at 20 ms minus median cold latency at 0 ms; the same from the fastest requests, which other work on',
    'the machine disturbs least, as a check)',
    '',
    ...STRATEGIES.map(line),
    '',
  ];
}

function targetLines(run: RunSummary): string[] {
  const all = [...(run.large ? largeTargets(run.large) : []), ...(run.xlarge ? xlargeTargets(run.xlarge) : [])];
  const lines = all.map((target) => `- ${target.met ? '[met]' : '[NOT MET]'} ${target.text}`);
  const missed = all.filter((target) => !target.met).length;
  return [
    '## Targets (issue 12 on the large seed, issue 28 on the xlarge seed; ratios of this run)',
    '',
    ...lines,
    '',
    missed === 0 ? 'All targets met.' : `${missed} of ${lines.length} targets not met.`,
  ];
}

function largeTargets(run: LargeFigures): TargetLine[] {
  const lines: TargetLine[] = [];
  for (const key of ['nested', 'licenses'] as const) {
    const { query, planned, floor } = figuresOf(run, key);
    lines.push(
      atLeast(
        `${query.name}: req/s`,
        planned.load.requestsPerSecond,
        floor.load.requestsPerSecond,
        TARGETS.heavyMinThroughputOfFloor,
        'the floor',
        rate,
      ),
      atMost(
        `${query.name}: cold latency at 0 ms`,
        planned.cold0Ms,
        floor.cold0Ms,
        TARGETS.heavyMaxCold0OfFloor,
        'the floor',
        ms,
      ),
    );
  }
  const aliased = figuresOf(run, 'aliased');
  lines.push(
    atMost(
      `${aliased.query.name}: cold latency at 0 ms`,
      aliased.planned.cold0Ms,
      aliased.baseline.cold0Ms,
      1,
      'the baseline',
      ms,
    ),
    atMost(
      `${aliased.query.name}: cold latency at 20 ms`,
      aliased.planned.cold20Ms,
      aliased.baseline.cold20Ms,
      1,
      'the baseline',
      ms,
    ),
    atLeast(
      `${aliased.query.name}: req/s`,
      aliased.planned.load.requestsPerSecond,
      aliased.baseline.load.requestsPerSecond,
      TARGETS.aliasedMinThroughputOfBaseline,
      'the baseline',
      rate,
    ),
  );
  const paged = figuresOf(run, 'paged');
  lines.push(
    atLeast(
      `${paged.query.name}: req/s`,
      paged.planned.load.requestsPerSecond,
      paged.floor.load.requestsPerSecond,
      TARGETS.pagedMinThroughputOfFloor,
      'the floor',
      rate,
    ),
  );
  const generate = figuresOf(run, 'generate');
  lines.push({
    met:
      generate.planned.load.requestsPerSecond >= GENERATE_BEFORE.requestsPerSecond &&
      generate.planned.cold0Ms <= GENERATE_BEFORE.cold0Ms,
    text:
      `${generate.query.name}: no slower than before: ${rate(generate.planned.load.requestsPerSecond)} req/s and ` +
      `${ms(generate.planned.cold0Ms)} cold at 0 ms, against ${rate(GENERATE_BEFORE.requestsPerSecond)} req/s and ` +
      `${ms(GENERATE_BEFORE.cold0Ms)} in ${GENERATE_BEFORE.source} (another run: a guide only)`,
  });
  lines.push(
    atMost(
      'peak memory of the server under load (VmHWM, 0 ms portal)',
      run.memory.planned.at0Ms,
      run.memory.floor.at0Ms,
      TARGETS.maxMemoryOfFloor,
      'the floor',
      mib,
    ),
  );
  return lines;
}

/** The xlarge part: each operation's calls, cold latency and load, by server, and their peak memory. */
function xlargeLines(xlarge: XlargeFigures, loadDurationS: number): string[] {
  const header = (first: string) => [
    `| ${first} | planned | planned, cached | floor | planned ÷ floor | cached ÷ planned |`,
    `|${' --- |'.repeat(6)}`,
  ];
  const row = (name: string, show: (server: XlargeServer) => string, value: (server: XlargeServer) => number) =>
    `| ${name} | ${XLARGE_SERVERS.map(show).join(' | ')} | ${ratio(value('planned') / value('floor'))} | ` +
    `${ratio(value('cached') / value('planned'))} |`;
  return [
    '## The xlarge seed (issue 28)',
    '',
    'The demo user of `--seed xlarge`: 400 assignments and 50,000 licences, ten times the large seed. Operations 1 and 2',
    'ask for `licenses(first: 50)` (the whole list is still read); operation 4 is as above. Three servers, each in front',
    'of its own emulator at 0 ms: planned without the read cache, planned with it (`PORTAL_CACHE_TTL_MS`, warmed by the',
    "sequential requests), and the floor. Their answers were checked equal, byte for byte. The cached server's calls",
    'are its portal calls on a hit: none.',
    '',
    '### Throughput under load (req/s)',
    '',
    ...header('Operation'),
    ...xlarge.queries.map((each) =>
      row(
        each.query.name,
        (server) => rate(each.load[server]) + bound(each.load[server], loadDurationS),
        (server) => each.load[server].requestsPerSecond,
      ),
    ),
    '',
    '### Sequential latency (median)',
    '',
    ...header('Operation'),
    ...xlarge.queries.map((each) =>
      row(
        each.query.name,
        (server) => ms(each.coldMs[server]),
        (server) => each.coldMs[server],
      ),
    ),
    '',
    '### Peak memory (VmHWM)',
    '',
    ...header('Server'),
    row(
      'after the xlarge part',
      (server) => mib(xlarge.memory[server]),
      (server) => xlarge.memory[server],
    ),
    '',
    '### Calls',
    '',
    ...xlarge.queries.map(({ query, calls, callsDiffer }) =>
      callsDiffer === undefined
        ? `- [same calls] ${query.name}: ${describeCalls(calls.planned)}; cached: ${describeCalls(calls.cached)}`
        : `- [CALLS DIFFER] ${query.name}: ${callsDiffer}; cached: ${describeCalls(calls.cached)}`,
    ),
    '',
  ];
}

/** Issue 28's targets on the xlarge seed. */
function xlargeTargets(xlarge: XlargeFigures): TargetLine[] {
  const of = (key: BenchQueryKey) => {
    const figures = xlarge.queries.find((each) => each.query.key === key);
    if (!figures) throw new Error(`the xlarge part has no figures of operation ${key}`);
    return figures;
  };
  const lines: TargetLine[] = [];
  for (const key of ['nested', 'licenses'] as const) {
    const { query, load } = of(key);
    lines.push(
      atLeast(
        `xlarge, ${query.name}: req/s`,
        load.planned.requestsPerSecond,
        load.floor.requestsPerSecond,
        TARGETS.heavyMinThroughputOfFloor,
        'the floor',
        rate,
      ),
    );
  }
  const paged = of('paged');
  lines.push(
    atLeast(
      `xlarge, ${paged.query.name}: req/s without the cache`,
      paged.load.planned.requestsPerSecond,
      paged.load.floor.requestsPerSecond,
      TARGETS.pagedMinThroughputOfFloor,
      'the floor',
      rate,
    ),
    atLeast(
      `xlarge, ${paged.query.name}: req/s with the cache`,
      paged.load.cached.requestsPerSecond,
      paged.load.planned.requestsPerSecond,
      TARGETS.cachedPagedMinThroughputOfUncached,
      'its own without the cache',
      rate,
    ),
    atMost(
      'xlarge: peak memory of the server without the cache (VmHWM)',
      xlarge.memory.planned,
      xlarge.memory.floor,
      TARGETS.maxMemoryOfFloor,
      'the floor',
      mib,
    ),
  );
  return lines;
}

/** The cost of tracing, per operation: req/s of the planned server with tracing on against without. */
function tracingLines(queries: readonly QueryFigures[]): string[] {
  return [
    '## The cost of tracing (issue 14)',
    '',
    'Two more planned servers, alike but for tracing, each in front of a fresh emulator at 0 ms: one samples every',
    'request (`OTEL_TRACES_SAMPLER=always_on`) and exports its spans in batches over OTLP/HTTP protobuf to a receiver on',
    'the same host. The same load as above, the two loaded in turn, four alternating rounds each, so that a change in',
    "the machine's speed falls on both alike.",
    '',
    '| Operation | req/s without tracing | req/s with tracing | with ÷ without |',
    '| --- | --- | --- | --- |',
    ...queries.map(
      ({ query, tracing }) =>
        `| ${query.name} | ${rate(tracing.untraced.requestsPerSecond)} | ${rate(tracing.traced.requestsPerSecond)} | ` +
        `${ratio(tracing.traced.requestsPerSecond / tracing.untraced.requestsPerSecond)} |`,
    ),
    '',
    ...queries.map(({ query, tracing }) => {
      const line = atLeast(
        `${query.name}: req/s with tracing`,
        tracing.traced.requestsPerSecond,
        tracing.untraced.requestsPerSecond,
        TRACING_MIN_THROUGHPUT,
        'the untraced server',
        rate,
      );
      return `- ${line.met ? '[met]' : '[NOT MET]'} ${line.text}`;
    }),
    '',
  ];
}

/** Issue 14: req/s with tracing on at least this share of the same server's without. */
const TRACING_MIN_THROUGHPUT = 0.9;

/** `planned ≥ share × other`, e.g. "req/s at least 0.75× the floor's: 0.62× (12.3 vs 19.8)". */
function atLeast(
  what: string,
  planned: number,
  other: number,
  share: number,
  otherName: string,
  show: (value: number) => string,
): TargetLine {
  const actual = planned / other;
  return {
    met: actual >= share,
    text: `${what} at least ${share}× ${otherName}'s: ${ratio(actual)} (${show(planned)} vs ${show(other)})`,
  };
}

/** `planned ≤ multiple × other`, e.g. "cold latency at 0 ms at most 1.3× the floor's: 1.45× (60 ms vs 41 ms)". */
function atMost(
  what: string,
  planned: number,
  other: number,
  multiple: number,
  otherName: string,
  show: (value: number) => string,
): TargetLine {
  const actual = planned / other;
  const bound = multiple === 1 ? `no more than ${otherName}'s` : `at most ${multiple}× ${otherName}'s`;
  return { met: actual <= multiple, text: `${what} ${bound}: ${ratio(actual)} (${show(planned)} vs ${show(other)})` };
}

function figuresOf(run: LargeFigures, key: BenchQueryKey): QueryFigures {
  const figures = run.queries.find((row) => row.query.key === key);
  if (!figures) throw new Error(`the run has no figures of operation ${key}`);
  return figures;
}

function bound(load: LoadResult, durationS: number): string {
  return load.bound === `${durationS} s` ? '' : ` (${load.bound})`;
}

function count(value: number): string {
  return Number.isFinite(value) ? value.toLocaleString('en-US') : 'n/a';
}

function ms(value: number): string {
  if (Math.abs(value) >= 100) return `${Math.round(value).toLocaleString('en-US')} ms`;
  return `${value.toFixed(1)} ms`;
}

function rate(value: LoadResult | number): string {
  const perSecond = typeof value === 'number' ? value : value.requestsPerSecond;
  return perSecond >= 100 ? Math.round(perSecond).toLocaleString('en-US') : perSecond.toFixed(perSecond >= 10 ? 1 : 2);
}

function ratio(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 100) return `${Math.round(value).toLocaleString('en-US')}×`;
  if (value < 0.1) return `${value.toPrecision(2)}×`; // 0.00039×, not 0.00×
  return `${value.toFixed(value >= 10 ? 1 : 2)}×`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}
