/**
 * The server's CPU time per request under load, for weighing one change against another: the user and system time
 * of the server's process (from /proc, so its garbage collector's threads count too) over a fixed load, divided by
 * the requests answered. On a machine whose cores the server shares with the emulator and the load generator, req/s
 * moves with their load as much as with the server's code; the server's CPU per request moves far less.
 *
 *   npm run bench:cpu -- [--query nested|licenses|aliased|paged|generate] [--seconds 3] [--rounds 10]
 *                        [--against <another checkout, built>] [--traced]
 *
 * `--against` names another checkout with its own `dist/` and `node_modules/` (for instance a `git worktree` of the
 * commit before a change, after `npm ci && npm run build` in it): the two servers, each in front of its own
 * emulator and warmed up, are measured in turn, round by round, the order alternating; the medians of each and of
 * the rounds' ratios are printed. Short rounds, many of them, weigh a change of a few percent best: the machine's
 * speed moves between rounds, and a ratio taken within a round sees little of it. Linux only (it reads /proc).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { measureLoad, measureLoadCpu, median } from './measure';
import { startOtlpSink } from './otlpSink';
import { REPO_ROOT, runScript, startEmulator, startServer, stopAllChildren, type RunningServer } from './processes';
import { benchQueryNamed, utcToday } from './queries';

const WARM_UP_SECONDS = 4;
const CONNECTIONS = 10;

interface Round {
  build: string;
  cpuMsPerRequest: number;
  requestsPerSecond: number;
  requests: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      query: { type: 'string', default: 'nested' },
      seconds: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '10' },
      against: { type: 'string' },
      traced: { type: 'boolean', default: false },
    },
  });
  const today = utcToday();
  const query = benchQueryNamed(values.query, today, `cpu${Date.now().toString(36)}`);
  const seconds = Number(values.seconds);
  const sink = values.traced ? await startOtlpSink() : undefined;
  const tracedEnv = sink?.tracedEnv ?? {};
  const builds: Array<{ name: string; root: string; env: Record<string, string> }> = [
    { name: sink ? 'this checkout, traced' : 'this checkout', root: REPO_ROOT, env: tracedEnv },
  ];
  if (values.against) {
    builds.push({ name: path.resolve(values.against), root: path.resolve(values.against), env: tracedEnv });
  } else if (sink) {
    builds.push({ name: 'this checkout, untraced', root: REPO_ROOT, env: {} });
  }
  // Each build runs once, in front of its own emulator, and is warmed up; then the builds take turns, round by
  // round (the order alternating), so that a change in the machine's speed falls on all alike.
  const running: Array<{ name: string; server: RunningServer }> = [];
  for (const build of builds) {
    const emulator = await startEmulator(0);
    const server = await startServer('planned', emulator.url, today, build.env, build.root);
    running.push({ name: build.name, server });
  }
  for (const { server } of running) {
    await measureLoad(server.graphqlUrl, query, { connections: CONNECTIONS, durationS: WARM_UP_SECONDS });
  }
  const rounds: Round[] = [];
  for (let round = 0; round < Number(values.rounds); round += 1) {
    for (const { name, server } of round % 2 === 0 ? running : [...running].reverse()) {
      const load = await measureLoadCpu(server.child, server.graphqlUrl, query, {
        connections: CONNECTIONS,
        durationS: seconds,
      });
      const cpuMsPerRequest = load.cpuUsPerRequest / 1000;
      rounds.push({
        build: name,
        cpuMsPerRequest,
        requestsPerSecond: load.requestsPerSecond,
        requests: load.requests,
      });
      process.stdout.write(
        `${query.name}, ${name}: ${cpuMsPerRequest.toFixed(3)} ms of server CPU per request ` +
          `(${load.requests} requests, ${load.requestsPerSecond.toFixed(1)} req/s)\n`,
      );
    }
  }
  await stopAllChildren();
  await sink?.close();
  const of = (name: string) => rounds.filter((round) => round.build === name);
  const medians = builds.map((build) => median(of(build.name).map((round) => round.cpuMsPerRequest)));
  process.stdout.write(`median, ${builds[0]!.name}: ${medians[0]!.toFixed(3)} ms per request\n`);
  if (builds.length > 1) {
    const [first, second] = [of(builds[0]!.name), of(builds[1]!.name)];
    const ratio = (key: 'cpuMsPerRequest' | 'requestsPerSecond') =>
      median(first.map((round, index) => round[key] / second[index]![key]));
    process.stdout.write(
      `median, ${builds[1]!.name}: ${medians[1]!.toFixed(3)} ms per request; ${builds[0]!.name} takes ` +
        `${ratio('cpuMsPerRequest').toFixed(3)}x its CPU per request and serves ${ratio('requestsPerSecond').toFixed(3)}x ` +
        `its req/s (medians of the rounds' ratios)\n`,
    );
  }
}

runScript(main);
