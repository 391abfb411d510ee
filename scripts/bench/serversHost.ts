/**
 * Several servers of this checkout in one process, for `tracingCost.ts` (started by `startServersInOneProcess`):
 * each made as `npm start` makes one, from its own settings, given in `BENCH_SERVERS` as a JSON array of
 * environments. They run until the process is stopped; meanwhile the benchmark, over the process's channel, has it
 * collect its garbage (`collect`: the answer is the CPU time the process has spent so far, in microseconds, all its
 * threads'), and profile its CPU (`profile`, `stop`, then `shares`: the stopped profile's `CpuShares`, read after
 * the load is weighed so that reading it is not weighed with it).
 */
import { Session } from 'node:inspector/promises';
import type { Profiler } from 'node:inspector';
import { loadConfig } from '../../src/config';
import { startServer } from '../../src/main';
import { cpuSharesOf } from './cpuShares';

export type HostRequest = 'collect' | 'profile' | 'stop' | 'shares';

async function main(): Promise<void> {
  const servers = JSON.parse(process.env.BENCH_SERVERS ?? '[]') as Array<Record<string, string>>;
  for (const settings of servers) await startServer(loadConfig(settings));
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  let stopped: Profiler.Profile | undefined;
  // Started with --expose-gc and a channel to the benchmark, which asks between loads.
  process.on('message', (request: HostRequest) => {
    const answer = async (): Promise<unknown> => {
      switch (request) {
        case 'collect': {
          globalThis.gc?.();
          const { user, system } = process.cpuUsage();
          return user + system;
        }
        case 'profile':
          return session.post('Profiler.start');
        case 'stop':
          stopped = (await session.post('Profiler.stop')).profile;
          return undefined;
        case 'shares': {
          const shares = stopped && cpuSharesOf(stopped);
          stopped = undefined;
          return shares;
        }
      }
    };
    answer().then(
      (value) => process.send?.({ value }),
      (error: unknown) => process.send?.({ error: String(error) }),
    );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
