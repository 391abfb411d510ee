/**
 * What tracing costs the server per request, weighed in one process: servers of this checkout, alike but for
 * tracing, in front of an emulator each, take the same load in turn. One is untraced; one has tracing on with a
 * sampler that leaves every request out (`always_off`: what tracing costs when it records nothing, as for the
 * requests a ratio sampler skips); one samples every request and exports it over OTLP/HTTP to a receiver in this
 * process, as `npm run bench` weighs tracing. With `--ratio` below 1, a fourth samples that share of the requests by
 * trace id, as `OTEL_TRACES_SAMPLER=traceidratio` does, and the report adds what a request the ratio records costs,
 * worked out from the medians of the sampled-out and the ratio-sampled servers.
 *
 *   npm run bench:tracing -- [--query generate|aliased|nested|licenses|paged[,…]] [--ratio 1] [--requests 1000]
 *                            [--rounds 30] [--profile]
 *
 * Sharing a process, the servers share its compiled code: `bench:cpu`'s servers each have a process of their own,
 * and the same build's CPU per request moves by up to a tenth from one process to the next, which is the size of
 * what is weighed here. Each round loads every server once with `--requests` requests (the order alternating), many
 * short rounds rather than a few long ones, since this machine's own speed drifts by a tenth within seconds. Each
 * load starts on a collected heap and pays for collecting what it left (see `weigh`), so the garbage one server
 * leaves is not collected in another's load. The process's CPU per request answered is the server's figure for that
 * round; the medians of the rounds' figures and of their ratios to the untraced server's are printed, with the
 * ratios' middle half. Several operations (`--query nested,generate`) are weighed one after the other, on the same
 * servers.
 *
 * With `--profile`, each load is also profiled (`cpuShares.ts`), and the share of the CPU spent in tracing's own code
 * is printed: a figure the machine's drift does not move, but a floor, since it misses the work tracing causes
 * elsewhere (promises of the GraphQL server's hooks, the collector's helper threads).
 */
import { parseArgs } from 'node:util';
import type { CpuShares } from './cpuShares';
import { measureLoad, median } from './measure';
import { startOtlpSink } from './otlpSink';
import { runScript, startEmulator, startServersInOneProcess, stopAllChildren } from './processes';
import { benchQueryNamed, utcToday, type BenchQuery } from './queries';

const WARM_UP_SECONDS = 4;
const CONNECTIONS = 10;

interface Round {
  cpuUsPerRequest: number;
  requestsPerSecond: number;
  /** With `--profile`: what the load's CPU profile says of tracing's share. */
  shares: CpuShares | undefined;
}

type ServersHost = Awaited<ReturnType<typeof startServersInOneProcess>>;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      query: { type: 'string', default: 'generate' },
      ratio: { type: 'string', default: '1' },
      requests: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '30' },
      profile: { type: 'boolean', default: false },
    },
  });
  const runId = `tracing${Date.now().toString(36)}`;
  const queries = values.query.split(',').map((key) => benchQueryNamed(key.trim(), utcToday(), runId));
  const ratio = Number(values.ratio);
  if (!(ratio > 0 && ratio <= 1))
    throw new Error(`--ratio must be a number above 0 and at most 1, but is ${values.ratio}`);
  const sink = await startOtlpSink();
  const variants = [
    { name: 'untraced', env: {} },
    { name: 'sampled out', env: { ...sink.tracedEnv, OTEL_TRACES_SAMPLER: 'always_off' } },
    { name: 'traced', env: sink.tracedEnv },
  ];
  if (ratio < 1) {
    variants.push({
      name: `traced at ${ratio}`,
      env: { ...sink.tracedEnv, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: String(ratio) },
    });
  }
  const servers = [];
  for (const variant of variants) servers.push({ portalUrl: (await startEmulator(0)).url, env: variant.env });
  const host = await startServersInOneProcess(servers);
  for (const query of queries) {
    const figures = await weighEach(host, query, variants, values);
    report(query, variants, figures, ratio, values.profile);
  }
  await stopAllChildren();
  await sink.close();
}

interface Variant {
  name: string;
  env: Record<string, string>;
}

interface Options {
  requests: string;
  rounds: string;
  profile: boolean;
}

/** Each server's rounds of `query`, after a warm-up: the order alternates from one round to the next. */
async function weighEach(
  host: ServersHost,
  query: BenchQuery,
  variants: readonly Variant[],
  options: Options,
): Promise<Round[][]> {
  for (const url of host.graphqlUrls) {
    await measureLoad(url, query, { connections: CONNECTIONS, durationS: WARM_UP_SECONDS });
  }
  const rounds: Round[][] = variants.map(() => []);
  for (let round = 0; round < Number(options.rounds); round += 1) {
    const order = variants.map((_variant, index) => index);
    for (const index of round % 2 === 0 ? order : order.reverse()) {
      const weighed = await weigh(host, host.graphqlUrls[index]!, query, Number(options.requests), options.profile);
      rounds[index]!.push(weighed);
      process.stdout.write(
        `${query.name}, ${variants[index]!.name}: ${weighed.cpuUsPerRequest.toFixed(0)} µs of CPU per request ` +
          `(${weighed.requestsPerSecond.toFixed(0)} req/s)` +
          (weighed.shares
            ? `, ${percent(weighed.shares.tracingUs, weighed.shares.busyUs)} of it in tracing's code`
            : '') +
          '\n',
      );
    }
  }
  return rounds;
}

/**
 * The medians of each server's rounds against the untraced server's. With a ratio below 1, also what a request
 * that ratio records costs, from the medians: of the ratio-sampled server's extra CPU per request, what the dropped
 * share pays is the sampled-out server's, and the rest falls on the recorded share. Beside it, what a recorded
 * request costs when every request is recorded, for comparison.
 */
function report(
  query: BenchQuery,
  variants: readonly Variant[],
  rounds: readonly Round[][],
  ratio: number,
  profile: boolean,
): void {
  const untraced = rounds[0]!;
  const untracedGarbage = profile ? share(untraced, 'garbageUs') : 0;
  const medians = variants.map((variant, index) => {
    const mine = rounds[index]!;
    const cpu = mine.map((round, at) => round.cpuUsPerRequest / untraced[at]!.cpuUsPerRequest).sort((a, b) => a - b);
    const quarter = Math.floor(cpu.length / 4);
    process.stdout.write(
      `median, ${query.name}, ${variant.name}: ${median(mine.map((round) => round.cpuUsPerRequest)).toFixed(0)} µs ` +
        `of CPU per request, ${median(cpu).toFixed(3)}x the untraced server's (the middle half of the rounds' ` +
        `ratios ${cpu[quarter]!.toFixed(3)}x to ${cpu[cpu.length - 1 - quarter]!.toFixed(3)}x), at ` +
        `${median(mine.map((round, at) => round.requestsPerSecond / untraced[at]!.requestsPerSecond)).toFixed(3)}x ` +
        `its req/s (medians of the rounds' ratios)\n`,
    );
    if (profile) {
      const tracing = share(mine, 'tracingUs');
      const garbage = share(mine, 'garbageUs');
      process.stdout.write(
        `  profiled: ${percent(tracing, 1)} of its CPU in tracing's code, ${percent(garbage, 1)} collecting garbage ` +
          `on the main thread (untraced: ${percent(untracedGarbage, 1)}): ` +
          `${((1 - untracedGarbage) / (1 - tracing - garbage)).toFixed(3)}x the untraced server's CPU per request, ` +
          'counting only these\n',
      );
    }
    return median(cpu);
  });
  if (ratio === 1) return;
  const [, sampledOut, everyRequest, atRatio] = medians as [number, number, number, number];
  const recorded = (atRatio - (1 - ratio) * sampledOut) / ratio;
  process.stdout.write(
    `a request recorded at ${ratio}: ${recorded.toFixed(2)}x an untraced one, from the medians ` +
      `((${atRatio.toFixed(3)} - ${(1 - ratio).toFixed(2)} × ${sampledOut.toFixed(3)}) / ${ratio}); ` +
      `${everyRequest.toFixed(2)}x when every request is recorded\n`,
  );
}

/**
 * One server's load of `requests`: started on a collected heap, and profiled when `profile` is set. Its CPU per
 * request pays for collecting all the garbage it left, less what collecting costs with nothing left (a second
 * collection straight after), so that what one server leaves is not collected in another's load, nor one load's
 * figure moved by whether one of the collector's larger rounds fell within it.
 */
async function weigh(
  host: ServersHost,
  url: string,
  query: BenchQuery,
  requests: number,
  profile: boolean,
): Promise<Round> {
  const before = await host.ask<number>('collect');
  if (profile) await host.ask('profile');
  const load = await measureLoad(url, query, { connections: CONNECTIONS, durationS: 0, amount: requests });
  if (profile) await host.ask('stop');
  const after = await host.ask<number>('collect');
  const nothingLeft = (await host.ask<number>('collect')) - after;
  return {
    cpuUsPerRequest: (after - before - nothingLeft) / load.requests,
    requestsPerSecond: load.requestsPerSecond,
    shares: profile ? await host.ask<CpuShares>('shares') : undefined,
  };
}

/** The share of the busy time of `rounds`' profiles that `key` took, all rounds together. */
function share(rounds: readonly Round[], key: 'tracingUs' | 'garbageUs'): number {
  let part = 0;
  let busy = 0;
  for (const round of rounds) {
    part += round.shares?.[key] ?? 0;
    busy += round.shares?.busyUs ?? 0;
  }
  return part / busy;
}

function percent(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(1)}%`;
}

runScript(main);
