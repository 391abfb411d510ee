/**
 * Test helper: runs podman as these machines need it. crun fails on their hybrid cgroups, so every command runs
 * with runc and the cgroupfs manager, and builds and containers get explicit limits on open files and processes.
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

const PODMAN_GLOBAL_FLAGS = ['--runtime', 'runc', '--cgroup-manager=cgroupfs'];
export const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `podman <args>` and resolves with its exit code and output (never rejects). With `log`, the output is also
 * appended to that file as it comes, for a long build whose output nobody wants on the terminal.
 */
export function podman(
  args: readonly string[],
  options: { log?: string; input?: NodeJS.ReadableStream } = {},
): Promise<Ran> {
  return run('podman', [...PODMAN_GLOBAL_FLAGS, ...args], options);
}

/** Like `podman`, but rejects with the command's last output when it fails. */
export async function podmanOk(
  args: readonly string[],
  options: { log?: string; input?: NodeJS.ReadableStream } = {},
): Promise<string> {
  const ran = await podman(args, options);
  if (ran.code !== 0) throw new Error(failure(['podman', ...args], ran));
  return ran.stdout;
}

/** Runs any command, as `podman` does. */
function run(
  command: string,
  args: readonly string[],
  options: { log?: string; input?: NodeJS.ReadableStream; cwd?: string } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    const keep = (text: string) => {
      if (options.log) appendFileSync(options.log, text);
    };
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      keep(chunk);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      keep(chunk);
    });
    if (options.input && child.stdin) options.input.pipe(child.stdin);
    child.on('error', (error) => resolve({ code: null, stdout, stderr: `${stderr}${error.message}` }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Like `run`, but rejects with the command's last output when it fails. */
export async function runOk(
  command: string,
  args: readonly string[],
  options: { log?: string; input?: NodeJS.ReadableStream; cwd?: string } = {},
): Promise<string> {
  const ran = await run(command, args, options);
  if (ran.code !== 0) throw new Error(failure([command, ...args], ran));
  return ran.stdout;
}

function failure(argv: readonly string[], ran: Ran): string {
  const tail = `${ran.stdout}\n${ran.stderr}`.trim().split('\n').slice(-30).join('\n');
  return `${argv.join(' ')} exited with ${ran.code}:\n${tail}`;
}
