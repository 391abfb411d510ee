/**
 * The soak's server: the real GraphQL server in front of a given portal, either as its own process (the default:
 * `node --import tsx src/main.ts`, so that an exit is seen as one and its memory is its own) or in this process
 * (`startServer` from `src/main.ts`).
 *
 * A child that exits while the soak runs is a restart: it is counted, its exit and the end of its output kept,
 * and a new one started (at most `MAX_RESTARTS` times), so that the run goes on and the report can tell.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { startServer, type RunningServer } from '../../src/main';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** How long a server may take to print its banner. */
const START_TIMEOUT_MS = 30_000;
/** How long a child may take to exit after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 8_000;
const MAX_RESTARTS = 3;
const OUTPUT_TAIL_CHARS = 4_000;

export type ServerMode = 'child' | 'inProcess';

export interface ServerUnderTest {
  readonly mode: ServerMode;
  /** The current server's origin, e.g. `http://127.0.0.1:40123` (a restarted child listens elsewhere). */
  origin(): string;
  /** Exits of the server process that nobody asked for, each with how it ended. */
  restarts(): string[];
  /** Crash events seen in this process (in-process mode): uncaught exceptions, unhandled rejections. */
  crashEvents(): string[];
  /**
   * The server's peak resident memory in bytes so far, and what it measures: the child's VmHWM (of its current
   * life), or this whole process's maxRSS in-process (clients and emulator included).
   */
  peakRss(): { bytes: number | null; source: string };
  stop(): Promise<void>;
}

export async function startServerUnderTest(mode: ServerMode, env: Record<string, string>): Promise<ServerUnderTest> {
  return mode === 'child' ? startChildServer(env) : startInProcessServer(env);
}

// ---------------------------------------------------------------------------------------------------------
// As a child process
// ---------------------------------------------------------------------------------------------------------

interface Life {
  child: ChildProcess;
  origin: string;
  output: () => string;
  /** Peak VmHWM read while it lived, in bytes (the file goes with the process). */
  peakBytes: number | null;
}

async function startChildServer(env: Record<string, string>): Promise<ServerUnderTest> {
  const restarts: string[] = [];
  let stopping = false;
  let life = await spawnServer(env);
  let peakOfEarlierLives = 0;

  const sampler = setInterval(() => sampleVmHwm(life), 500);
  sampler.unref();

  const watch = (current: Life) => {
    current.child.once('exit', (code, signal) => {
      if (stopping || current !== life) return;
      peakOfEarlierLives = Math.max(peakOfEarlierLives, current.peakBytes ?? 0);
      restarts.push(`exited with ${signal ?? `code ${code}`}; output: ${current.output().slice(-1_000)}`);
      if (restarts.length > MAX_RESTARTS) return;
      spawnServer(env).then(
        (next) => {
          if (stopping) {
            next.child.kill('SIGKILL');
            return;
          }
          life = next;
          watch(next);
        },
        (error: unknown) =>
          restarts.push(`could not be restarted: ${error instanceof Error ? error.message : String(error)}`),
      );
    });
  };
  watch(life);

  // If this process goes away without stopping the soak (an error, Ctrl-C), the child goes too.
  const killNow = () => life.child.kill('SIGKILL');
  process.once('exit', killNow);

  return {
    mode: 'child',
    origin: () => life.origin,
    restarts: () => [...restarts],
    crashEvents: () => [],
    peakRss: () => {
      sampleVmHwm(life);
      const bytes = Math.max(peakOfEarlierLives, life.peakBytes ?? 0);
      return { bytes: bytes > 0 ? bytes : null, source: `VmHWM of the server process (pid ${life.child.pid})` };
    },
    async stop() {
      stopping = true;
      clearInterval(sampler);
      sampleVmHwm(life);
      process.off('exit', killNow);
      await stopChild(life.child);
    },
  };
}

function spawnServer(env: Record<string, string>): Promise<Life> {
  // `node --import tsx`, not the `tsx` binary: tsx would run the server in a grandchild, and its pid (for VmHWM,
  // for an exit) would not be the server's.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return new Promise<Life>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not start within ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      reject(new Error(`the server exited at start-up (${signal ?? `code ${code}`}):\n${output}`));
    };
    child.once('exit', onExit);
    const onData = () => {
      const match = /GraphQL server ready at (http:\/\/[^\s/]+)\/graphql/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout.off('data', onData);
      resolve({ child, origin: match[1]!, output: () => output, peakBytes: null });
    };
    child.stdout.on('data', onData);
  });
}

function sampleVmHwm(life: Life): void {
  if (life.child.pid === undefined || life.child.exitCode !== null || life.child.signalCode !== null) return;
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${life.child.pid}/status`, 'utf8'));
    if (match) life.peakBytes = Math.max(life.peakBytes ?? 0, Number(match[1]) * 1024);
  } catch {
    // No /proc (not Linux), or the process just ended: keep the last sample.
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------------
// In this process
// ---------------------------------------------------------------------------------------------------------

async function startInProcessServer(env: Record<string, string>): Promise<ServerUnderTest> {
  const crashes: string[] = [];
  const onRejection = (reason: unknown) => crashes.push(`unhandledRejection: ${describe(reason)}`);
  const onException = (error: unknown) => crashes.push(`uncaughtException: ${describe(error)}`);
  // Listening keeps this process alive through what would have ended it: the report counts it instead.
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  let server: RunningServer;
  try {
    server = await startServer(loadConfig(env));
  } catch (error) {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    throw error;
  }
  const origin = new URL(server.graphqlUrl).origin;
  return {
    mode: 'inProcess',
    origin: () => origin,
    restarts: () => [],
    crashEvents: () => [...crashes],
    peakRss: () => ({
      bytes: process.resourceUsage().maxRSS * 1024,
      source: 'maxRSS of the soak process (server, emulator and clients together)',
    }),
    async stop() {
      await server.close();
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
