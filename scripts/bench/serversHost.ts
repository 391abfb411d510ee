/**
 * Several servers of this checkout in one process, for `tracingCost.ts` (started by `startServersInOneProcess`):
 * each made as `npm start` makes one, from its own settings, given in `BENCH_SERVERS` as a JSON array of
 * environments. They run until the process is stopped.
 */
import { loadConfig } from '../../src/config';
import { startServer } from '../../src/main';

async function main(): Promise<void> {
  const servers = JSON.parse(process.env.BENCH_SERVERS ?? '[]') as Array<Record<string, string>>;
  for (const settings of servers) await startServer(loadConfig(settings));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
