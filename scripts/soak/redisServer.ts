/**
 * A real `redis-server` (Debian's package) on a free port, never a mock, that the soak and the tests can kill and
 * start again on the same port.
 *
 * It is durable as the idempotency store needs: an append-only file fsynced before every reply
 * (`appendfsync always`), so a Redis killed and started again still holds every key it acknowledged. (The soak
 * found it: a Redis that came back empty forgot a key whose licence was made, and the retry made a second.)
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  /** Kills it (SIGKILL: a crash) and waits for the exit; what it acknowledged is on disk. */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the data it had. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'portal-graphql-redis-'));
  let child: ChildProcessWithoutNullStreams | undefined;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const process = spawn('redis-server', [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
      ]);
      child = process;
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
      process.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (/Ready to accept connections/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
      process.on('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`redis-server could not be started (apt-get install redis-server): ${error.message}`));
      });
    });
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  const dispose = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { url: `redis://127.0.0.1:${port}/0`, port, stop, start, dispose };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}
