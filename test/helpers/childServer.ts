/**
 * Test helper: the server as its own process (`node --import tsx src/main.ts`), as `npm start` runs it, with its
 * output kept. Not the `tsx` binary: that would run the server in a grandchild, whose memory and signals are not
 * this process's to see.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

export interface ChildServer {
  process: ChildProcessWithoutNullStreams;
  graphqlUrl: string;
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** The process's peak resident memory so far (VmHWM), in MiB. */
  peakMemoryMiB(): number;
  /** The process's resident memory now (VmRSS), in MiB. */
  memoryMiB(): number;
  /** Sends SIGTERM (unless it has exited already) and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts the server with the embedded emulator on free ports and waits for its banner. */
export function startChildServer(env: Record<string, string>): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', join('src', 'main.ts')], {
    cwd: root,
    env: { ...process.env, PORT: '0', NODE_ENV: 'development', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The server did not start:\n${stdout}\n${stderr}`)), 20_000);
    const onData = () => {
      const match = /GraphQL server ready at (http:\/\/\S+\/graphql)/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({
        process: child,
        graphqlUrl: match[1]!,
        output: () => ({ stdout, stderr }),
        exited,
        peakMemoryMiB: () => statusMiB(child.pid!, 'VmHWM'),
        memoryMiB: () => statusMiB(child.pid!, 'VmRSS'),
        stop: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    };
    child.stdout.on('data', onData);
    child.on('exit', () => reject(new Error(`The server exited:\n${stdout}\n${stderr}`)));
  });
}

/** A memory figure of `/proc/<pid>/status`, in MiB. */
function statusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`No ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}
