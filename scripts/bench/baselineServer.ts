/**
 * The benchmark's baseline server: this server, built by `startServer` as `src/main.ts` builds it and configured
 * from the same environment, but with `BaselineLoaders` (one show call per parent) in place of the planned ones.
 * The production server cannot be asked for it; only the benchmark starts it, as its own process.
 */
import { loadConfig } from '../../src/config';
import { startServer } from '../../src/main';
import { BaselineLoaders } from './baselineLoaders';

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(
    // The plan's estimate is not what this approach calls (it makes a call per parent), so no budget applies.
    { ...config, upstreamCallBudget: Number.MAX_SAFE_INTEGER },
    { loaders: (portal, caller) => new BaselineLoaders(portal, caller) },
  );
  process.stdout.write(`baseline server listening on ${server.graphqlUrl}\n`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`baseline server: closing failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`baseline server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
