/**
 * What tracing costs the server per request, weighed in one process: three servers of this checkout, alike but for
 * tracing, in front of an emulator each, take the same load in turn. One is untraced; one has tracing on with a
 * sampler that leaves every request out (`always_off`: what tracing costs when it records nothing, as for the
 * requests a ratio sampler skips); one samples every request (or, with `--ratio`, that share of them by trace id,
 * as `OTEL_TRACES_SAMPLER=traceidratio` does) and exports it over OTLP/HTTP to a receiver in this process, as
 * `npm run bench` weighs tracing.
 *
 *   npm run bench:tracing -- [--query generate|aliased|nested|licenses|paged] [--ratio 1] [--seconds 2] [--rounds 10]
 *
 * Sharing a process, the servers share its compiled code: `bench:cpu`'s servers each have a process of their own,
 * and the same build's CPU per request moves by up to a tenth from one process to the next, which is the size of
 * what is weighed here. Each round loads every server once (the order alternating); the CPU the process spent
 * during a server's load, per request it answered, is that server's figure, and the medians of the rounds' figures
 * and of their ratios to the untraced server's are printed. Linux only (it reads /proc).
 */
import { parseArgs } from 'node:util';
import { measureLoad, measureLoadCpu, median } from './measure';
import { startOtlpSink } from './otlpSink';
import { runScript, startEmulator, startServersInOneProcess, stopAllChildren } from './processes';
import { benchQueryNamed, utcToday } from './queries';

const WARM_UP_SECONDS = 4;
const CONNECTIONS = 10;

interface Round {
  cpuUsPerRequest: number;
  requestsPerSecond: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      query: { type: 'string', default: 'generate' },
      ratio: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '10' },
    },
  });
  const query = benchQueryNamed(values.query, utcToday(), `tracing${Date.now().toString(36)}`);
  const ratio = Number(values.ratio);
  if (!(ratio > 0 && ratio <= 1))
    throw new Error(`--ratio must be a number above 0 and at most 1, but is ${values.ratio}`);
  const sink = await startOtlpSink();
  const variants = [
    { name: 'untraced', env: {} },
    { name: 'sampled out', env: { ...sink.tracedEnv, OTEL_TRACES_SAMPLER: 'always_off' } },
    ratio === 1
      ? { name: 'traced', env: sink.tracedEnv }
      : {
          name: `traced at ${ratio}`,
          env: { ...sink.tracedEnv, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: String(ratio) },
        },
  ];
  const servers = [];
  for (const variant of variants) servers.push({ portalUrl: (await startEmulator(0)).url, env: variant.env });
  const host = await startServersInOneProcess(servers);
  for (const url of host.graphqlUrls) {
    await measureLoad(url, query, { connections: CONNECTIONS, durationS: WARM_UP_SECONDS });
  }
  const rounds: Round[][] = variants.map(() => []);
  for (let round = 0; round < Number(values.rounds); round += 1) {
    const order = variants.map((_variant, index) => index);
    for (const index of round % 2 === 0 ? order : order.reverse()) {
      const load = await measureLoadCpu(host.child, host.graphqlUrls[index]!, query, {
        connections: CONNECTIONS,
        durationS: Number(values.seconds),
      });
      rounds[index]!.push({ cpuUsPerRequest: load.cpuUsPerRequest, requestsPerSecond: load.requestsPerSecond });
      process.stdout.write(
        `${query.name}, ${variants[index]!.name}: ${load.cpuUsPerRequest.toFixed(0)} µs of CPU per request ` +
          `(${load.requests} requests, ${load.requestsPerSecond.toFixed(0)} req/s)\n`,
      );
    }
  }
  await stopAllChildren();
  await sink.close();
  const untraced = rounds[0]!;
  variants.forEach((variant, index) => {
    const mine = rounds[index]!;
    const ratio = (key: keyof Round) => median(mine.map((round, at) => round[key] / untraced[at]![key]));
    process.stdout.write(
      `median, ${variant.name}: ${median(mine.map((round) => round.cpuUsPerRequest)).toFixed(0)} µs of CPU per ` +
        `request, ${ratio('cpuUsPerRequest').toFixed(3)}x the untraced server's, at ` +
        `${ratio('requestsPerSecond').toFixed(3)}x its req/s (medians of the rounds' ratios)\n`,
    );
  });
}

runScript(main);
