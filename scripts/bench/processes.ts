/**
 * The benchmark's child processes: the portal emulator and the servers compared (this server, the baseline, the
 * floor), each in its own process (so they do not share a CPU thread with each other or with the load generator),
 * and their clean-up.
 *
 * Each child is started in its own process group (`detached`), and stopped by signalling that group: `tsx` runs
 * the emulator in a grandchild process, and the group reaches it too. Every child still running is killed when
 * this process exits, whatever the reason (an error, Ctrl-C).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { SETTINGS } from '../../src/settings/declarations';
import type { HostRequest } from './serversHost';

/** The repository's root, where `dist/` and `node_modules/` are. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** How long a child may take to be ready before the benchmark gives up. */
const START_TIMEOUT_MS = 60_000;
/** How long a child may take to exit after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 5_000;
/** How much of a child's output is kept, to explain a failure. */
const OUTPUT_TAIL_CHARS = 4_000;

/** A child process the benchmark started. */
export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** The end of what it wrote to stdout and stderr. */
  output(): string;
}

export interface RunningEmulator {
  child: Child;
  /** The portal's origin, e.g. `http://127.0.0.1:41871`. */
  url: string;
}

export interface RunningServer {
  child: Child;
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:40123/graphql`. */
  graphqlUrl: string;
}

/**
 * What answers the benchmark's operations: `planned`, this server as built and started (`npm start`'s flags,
 * `dist/main.js`); `baseline`, the
 * same server with one show call per parent (`baselineServer.ts`); `floor`, the hand-written aggregator
 * (`floorServer.ts`). The latter two run from their TypeScript through tsx's require hook, in the one process whose
 * memory is read (about 4 MiB more than the same code compiled).
 */
export type Strategy = 'planned' | 'baseline' | 'floor';

/**
 * The Node flags of `npm start` in `root`'s package.json (`exec node <flags> dist/main.js`): the planned and the
 * baseline server run with them, as the server is shipped.
 */
export function serverNodeFlags(root: string = REPO_ROOT): string[] {
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts?: { start?: string };
  };
  const match = /\bnode\s+(.*?)\s*dist\/main\.js/.exec(manifest.scripts?.start ?? '');
  return match?.[1] ? match[1].split(/\s+/) : [];
}

const running = new Set<Child>();

/** Starts the emulator (`src/emulator/cli.ts`) on a free port with `seed` and the given added latency. */
export async function startEmulator(latencyMs: number, seed: 'large' | 'xlarge' = 'large'): Promise<RunningEmulator> {
  const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  const child = startChild(
    `emulator (${seed}, ${latencyMs} ms)`,
    tsx,
    ['src/emulator/cli.ts', '--seed', seed, '--latency', String(latencyMs), '--port', '0'],
    childEnv({}),
  );
  const url = await waitForOutput(child, /listening on (http:\/\/\S+)/);
  return { child, url };
}

/**
 * Starts a `strategy`'s server in front of `portalUrl`. The planned and the baseline server read the same
 * settings; the floor is told `today`, which operation 4's document names. The planned server is `root`'s build
 * (`dist/main.js`): this checkout's, or another's to compare with.
 */
export async function startServer(
  strategy: Strategy,
  portalUrl: string,
  today: string,
  extraEnv: Record<string, string> = {},
  root: string = REPO_ROOT,
): Promise<RunningServer> {
  const port = await freePort();
  const env = childEnv({
    ...serverSettings(portalUrl, port, extraEnv),
    // tsx's transforms run in a child process, not in a worker thread whose memory would count as the server's.
    ESBUILD_WORKER_THREADS: '0',
  });
  const fromSource = (script: string) => ['--require', 'tsx/cjs', path.join('scripts', 'bench', script)];
  const args: Record<Strategy, string[]> = {
    planned: [...serverNodeFlags(root), path.join(root, 'dist', 'main.js')],
    baseline: [...serverNodeFlags(), ...fromSource('baselineServer.ts')],
    floor: [...fromSource('floorServer.ts'), '--portal', portalUrl, '--port', String(port), '--today', today],
  };
  const name = extraEnv.OTEL_EXPORTER_OTLP_ENDPOINT ? `${strategy}, traced` : strategy;
  const child = startChild(`server (${name})`, process.execPath, args[strategy], env);
  await waitForHealth(child, `http://127.0.0.1:${port}/healthz`);
  return { child, graphqlUrl: `http://127.0.0.1:${port}/graphql` };
}

/** The settings of a benchmarked server: in front of `portalUrl`, on `port`, plus `extraEnv`. */
function serverSettings(portalUrl: string, port: number, extraEnv: Record<string, string>): Record<string, string> {
  return {
    ...extraEnv,
    PORTAL_URL: portalUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    UPSTREAM_CALL_BUDGET: '100000',
    // The load comes from one address: the per-address limit is checked on every request, as in production, but
    // set out of its reach.
    RATE_LIMIT_PER_MINUTE: '100000000',
  };
}

/**
 * Several planned servers of this checkout in one process (`serversHost.ts`, from the TypeScript through tsx), with
 * `npm start`'s Node flags, each in front of its own portal and with settings of its own. Sharing a process, they
 * share its compiled code: what differs between them is their settings, not how each process's JIT happened to
 * compile the same code (which moves one build's CPU per request by up to a tenth from one process to the next).
 * `ask` sends the process one of the requests `serversHost.ts` answers, and resolves to its answer.
 */
export async function startServersInOneProcess(
  servers: ReadonlyArray<{ portalUrl: string; env: Record<string, string> }>,
): Promise<{ child: Child; graphqlUrls: string[]; ask: <T>(request: HostRequest) => Promise<T> }> {
  const ports: number[] = [];
  for (let index = 0; index < servers.length; index += 1) ports.push(await freePort());
  const settings = servers.map((server, index) => serverSettings(server.portalUrl, ports[index]!, server.env));
  const child = startChild(
    `${servers.length} servers in one process`,
    process.execPath,
    [...serverNodeFlags(), '--expose-gc', '--require', 'tsx/cjs', path.join('scripts', 'bench', 'serversHost.ts')],
    childEnv({ NODE_ENV: 'production', ESBUILD_WORKER_THREADS: '0', BENCH_SERVERS: JSON.stringify(settings) }),
    true,
  );
  for (const port of ports) await waitForHealth(child, `http://127.0.0.1:${port}/healthz`);
  const ask = async <T>(request: HostRequest): Promise<T> => {
    const answered = once(child.process, 'message') as Promise<[{ value: T } | { error: string }]>;
    child.process.send(request);
    const [answer] = await answered;
    if ('error' in answer) throw new Error(`${child.name}, asked to ${request}: ${answer.error}`);
    return answer.value;
  };
  return { child, graphqlUrls: ports.map((port) => `http://127.0.0.1:${port}/graphql`), ask };
}

/** A process's user and system time so far, in seconds (from /proc, so its garbage collector's threads count too). */
export function cpuSeconds(child: Child): number {
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th
  // and 13th of them (the 14th and 15th of the line), in clock ticks.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Clock ticks per second of /proc's times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * The most memory the process has held so far (VmHWM of `/proc/<pid>/status`), in bytes. Read it before
 * stopping the process: the file goes with it.
 */
export function peakRssBytes(child: Child): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`${child.name}: no VmHWM line in /proc/${child.pid}/status`);
  return Number(match[1]) * 1024;
}

/** Stops a child and its process group: SIGTERM, then SIGKILL if it has not exited in time. */
async function stopChild(child: Child): Promise<void> {
  running.delete(child);
  if (hasExited(child)) return;
  const exited = once(child.process, 'exit');
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
  signalGroup(child, 'SIGKILL'); // A grandchild (tsx's) that outlived its parent.
}

/**
 * Runs a benchmark script's `main` and exits: 0 once it is done, 1 after printing its error, with every child
 * stopped first.
 */
export function runScript(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    async (error: unknown) => {
      await stopAllChildren();
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}

/** Stops every child still running; for errors and Ctrl-C. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child)));
}

/** Kills every child still running, synchronously: the last resort, from the `exit` event. */
export function killAllChildrenNow(): void {
  for (const child of running) signalGroup(child, 'SIGKILL');
  running.clear();
}

/** A TCP port that was free a moment ago: bind port 0, note the port, close. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('could not find a free port');
  return address.port;
}

function startChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, ipc = false): Child {
  const processHandle = spawn(command, args, {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (processHandle.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  // Both pipes are always drained, so a chatty child never blocks on a full pipe.
  processHandle.stdout?.on('data', keep);
  processHandle.stderr?.on('data', keep);
  const child: Child = { name, process: processHandle, pid: processHandle.pid, output: () => tail };
  running.add(child);
  processHandle.once('exit', () => running.delete(child));
  return child;
}

/**
 * The environment of a child: this process's, without any of the server's own settings (so a variable set in
 * the shell does not skew the run), plus `settings`.
 */
function childEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(SETTINGS)) delete env[name];
  return { ...env, ...settings };
}

/** Resolves with the first capture of `pattern` once the child prints it; fails if the child exits first. */
async function waitForOutput(child: Child, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const match = pattern.exec(child.output());
    if (match) return match[1]!;
    if (hasExited(child)) throw startFailure(child, 'exited before it was ready');
    await sleep(50);
  }
  throw startFailure(child, `was not ready within ${START_TIMEOUT_MS / 1000} s`);
}

/** Polls the server's health route until it answers 200; fails if the child exits first. */
async function waitForHealth(child: Child, healthUrl: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited(child)) throw startFailure(child, 'exited before it was ready');
    try {
      const response = await fetch(healthUrl);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw startFailure(child, `did not answer ${healthUrl} within ${START_TIMEOUT_MS / 1000} s`);
}

function startFailure(child: Child, what: string): Error {
  return new Error(`${child.name} ${what}. Its output:\n${child.output()}`);
}

function hasExited(child: Child): boolean {
  return child.process.exitCode !== null || child.process.signalCode !== null;
}

function signalGroup(child: Child, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
