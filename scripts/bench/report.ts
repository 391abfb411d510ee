/**
 * The benchmark's report: the machine, the operations, one table row per operation with both strategies and
 * their ratios, peak memory, the nested query's time waiting on the portal, and the targets as met /
 * not met lines. Markdown, so the same text reads in a terminal and in `bench-results.md`.
 */
import os from 'node:os';
import type { ColdSettings, LoadResult } from './measure';
import type { BenchQuery } from './queries';
import type { Strategy } from './processes';

/** What one strategy measured for one operation. */
export interface StrategyFigures {
  calls: number;
  /** Median cold latencies with the portal at 0 ms and 20 ms. */
  cold0Ms: number;
  cold20Ms: number;
  /** The fastest cold requests, at 0 ms and 20 ms. */
  cold0MinMs: number;
  cold20MinMs: number;
  load: LoadResult;
}

export interface QueryFigures {
  query: BenchQuery;
  planned: StrategyFigures;
  baseline: StrategyFigures;
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
  queries: QueryFigures[];
  /** The query the targets are about. */
  nested: QueryFigures;
  memory: Record<Strategy, PeakMemory>;
  /** The machine's 1-minute load average when the run started and ended. */
  loadAverage: { start: number; end: number };
}

/** The targets for the nested query on the large seed. */
const TARGETS = { maxCalls: 3, maxPortalWaitMs: 40, minColdSpeedup: 5, minThroughputRatio: 3 } as const;

interface TargetLine {
  met: boolean;
  text: string;
}

/** The whole report, as Markdown. */
export function renderReport(run: RunSummary): string {
  return [
    ...headerLines(run),
    ...queryLines(run.queries),
    ...tableLines(run),
    ...memoryLines(run.memory),
    ...portalWaitLines(run.nested),
    ...targetLines(run.nested),
    '',
  ].join('\n');
}

function headerLines(run: RunSummary): string[] {
  const cpus = os.cpus();
  return [
    `# portal-graphql benchmark: planned vs baseline upstream calls`,
    '',
    `- Date: ${run.startedAt.toISOString()} (${run.mode} run, took ${run.elapsedS.toFixed(0)} s)`,
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${os.type()} ${os.release()}`,
    `- Node ${process.version}; server \`node dist/main.js\` (NODE_ENV=production, PORTAL_CONNECTIONS default) and emulator ` +
      '(`--seed large`: the demo user has 40 assignments, 5,000 licences) each in its own process',
    `- Cold latency: median of ${run.cold.samples} sequential requests (after a warm-up of up to ${run.cold.warmUpRequests} requests or ` +
      `${run.cold.warmUpMs / 1000} s), to two servers side by side (alternately),` +
      ' one in front of an emulator adding 0 ms per answer, one in front of an emulator adding 20 ms',
    `- Load: autocannon, ${run.connections} connections, emulator at 0 ms, ${run.loadDurationS} s per operation unless the row says otherwise`,
    `- Load average (1 min) at start and end: ${run.loadAverage.start.toFixed(2)} and ${run.loadAverage.end.toFixed(2)}; ` +
      `above ${os.cpus().length}, other processes were competing for the CPU and the figures are pessimistic`,
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

function tableLines(run: RunSummary): string[] {
  const header =
    '| Operation | Calls planned | Calls baseline | Calls × | Cold 0 ms planned | Cold 0 ms baseline | Cold 20 ms planned | Cold 20 ms baseline | Cold 20 ms × ' +
    '| req/s planned | req/s baseline | req/s × | p99 planned | p99 baseline | p99 × |';
  const rows = run.queries.map(({ query, planned, baseline }) =>
    [
      query.name,
      count(planned.calls),
      count(baseline.calls),
      ratio(baseline.calls / planned.calls),
      ms(planned.cold0Ms),
      ms(baseline.cold0Ms),
      ms(planned.cold20Ms),
      ms(baseline.cold20Ms),
      ratio(baseline.cold20Ms / planned.cold20Ms),
      rate(planned.load) + bound(planned.load, run.loadDurationS),
      rate(baseline.load) + bound(baseline.load, run.loadDurationS),
      ratio(planned.load.requestsPerSecond / baseline.load.requestsPerSecond),
      ms(planned.load.p99Ms),
      ms(baseline.load.p99Ms),
      ratio(baseline.load.p99Ms / planned.load.p99Ms),
    ].join(' | '),
  );
  return [
    '## Results',
    '',
    header,
    `|${' --- |'.repeat(15)}`,
    ...rows.map((row) => `| ${row} |`),
    '',
    '× is how many times better planned is: baseline ÷ planned for calls, cold latency and p99; planned ÷ baseline for req/s.',
    'Calls are upstream (portal) calls per request, from `extensions.upstream.calls`. A req/s figure marked with a number of',
    'requests was measured, for both strategies alike, with that fixed number of requests instead of a fixed duration: one',
    "request alone takes too long for a duration's count to be fair (those still in flight at its end are lost).",
    '',
  ];
}

function memoryLines(memory: Record<Strategy, PeakMemory>): string[] {
  return [
    '## Peak server memory (VmHWM)',
    '',
    '| Strategy | Server in front of the 20 ms portal (sequential requests) | Server in front of the 0 ms portal (sequential requests and load) |',
    '| --- | --- | --- |',
    `| planned | ${mib(memory.planned.at20Ms)} | ${mib(memory.planned.at0Ms)} |`,
    `| baseline | ${mib(memory.baseline.at20Ms)} | ${mib(memory.baseline.at0Ms)} |`,
    '',
  ];
}

function portalWaitLines(nested: QueryFigures): string[] {
  const line = (strategy: Strategy) => {
    const figures = nested[strategy];
    return (
      `- ${strategy}: ${ms(portalWait(figures))} (${ms(figures.cold20Ms)} − ${ms(figures.cold0Ms)}); ` +
      `from the fastest requests: ${ms(figures.cold20MinMs - figures.cold0MinMs)} (${ms(figures.cold20MinMs)} − ${ms(figures.cold0MinMs)})`
    );
  };
  return [
    '## Time the nested query waits on the portal',
    '',
    '(median cold latency at 20 ms minus median cold latency at 0 ms; the same from the fastest requests, which other work on',
    'the machine disturbs least, as a check)',
    '',
    line('planned'),
    line('baseline'),
    '',
  ];
}

function targetLines(nested: QueryFigures): string[] {
  const lines = targets(nested).map((target) => `- ${target.met ? '[met]' : '[NOT MET]'} ${target.text}`);
  const missed = lines.filter((line) => line.includes('[NOT MET]')).length;
  return [
    '## Targets (nested query, large seed)',
    '',
    ...lines,
    '',
    missed === 0 ? 'All targets met.' : `${missed} of ${lines.length} targets not met.`,
  ];
}

function targets({ planned, baseline }: QueryFigures): TargetLine[] {
  const wait = portalWait(planned);
  const speedup = baseline.cold20Ms / planned.cold20Ms;
  const throughput = planned.load.requestsPerSecond / baseline.load.requestsPerSecond;
  return [
    target(
      planned.calls <= TARGETS.maxCalls,
      `at most ${TARGETS.maxCalls} upstream calls: planned ${count(planned.calls)}, baseline ${count(baseline.calls)}`,
      `${count(planned.calls - TARGETS.maxCalls)} calls too many`,
    ),
    target(
      wait < TARGETS.maxPortalWaitMs,
      `waiting on the portal under ${TARGETS.maxPortalWaitMs} ms: ${ms(wait)}`,
      `${ms(wait - TARGETS.maxPortalWaitMs)} over`,
    ),
    target(
      speedup >= TARGETS.minColdSpeedup,
      `cold latency at 20 ms at least ${TARGETS.minColdSpeedup}× below the baseline's: ${ratio(speedup)} (${ms(planned.cold20Ms)} vs ${ms(baseline.cold20Ms)})`,
      percentShort(speedup, TARGETS.minColdSpeedup),
    ),
    target(
      throughput >= TARGETS.minThroughputRatio,
      `throughput at least ${TARGETS.minThroughputRatio}× the baseline's: ${ratio(throughput)} (${rate(planned.load)} vs ${rate(baseline.load)} req/s)`,
      percentShort(throughput, TARGETS.minThroughputRatio),
    ),
  ];
}

function target(met: boolean, text: string, shortfall: string): TargetLine {
  return { met, text: met ? text : `${text} (missed: ${shortfall})` };
}

function portalWait(figures: StrategyFigures): number {
  return figures.cold20Ms - figures.cold0Ms;
}

/** How far a ratio falls short of its target, e.g. `2.8× is 6.7% below 3×`. */
function percentShort(actual: number, target: number): string {
  return `${ratio(actual)} is ${(100 * (1 - actual / target)).toFixed(1)}% below ${target}×`;
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

function rate(load: LoadResult): string {
  const value = load.requestsPerSecond;
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(value >= 10 ? 1 : 2);
}

function ratio(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 100) return `${Math.round(value).toLocaleString('en-US')}×`;
  return `${value.toFixed(value >= 10 ? 1 : 2)}×`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}
