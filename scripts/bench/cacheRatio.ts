/**
 * What the read cache buys on one operation: this checkout's server uncached and with `PORTAL_CACHE_TTL_MS`, each in
 * front of its own emulator (on the xlarge seed unless told), and the floor beside them for memory; their req/s
 * under the same load, the ratio, and each one's peak memory. With `--redis`, the cached server shares its cache
 * through a redis-server, as replicas do: each read of a kept list then asks Redis for the caller's generation.
 *
 *   npm run bench:cache -- [--query paged] [--seed xlarge] [--seconds 20] [--redis]
 */
import { parseArgs } from 'node:util';
import { measureLoad } from './measure';
import { peakRssBytes, runScript, startEmulator, startServer, stopAllChildren } from './processes';
import { benchQueryNamed, utcToday } from './queries';
import { startRedisServer } from '../soak/redisServer';

const CONNECTIONS = 10;
const CACHE_TTL_MS = '60000';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      query: { type: 'string', default: 'paged' },
      seed: { type: 'string', default: 'xlarge' },
      seconds: { type: 'string', default: '20' },
      redis: { type: 'boolean', default: false },
    },
  });
  const seed = values.seed;
  if (seed !== 'large' && seed !== 'xlarge') throw new Error(`--seed must be large or xlarge, not ${seed}`);
  // With --redis, the cached server shares its cache through a redis-server of its own, as replicas do.
  const redis = values.redis ? await startRedisServer() : undefined;
  const shared: Record<string, string> = redis
    ? {
        REDIS_URL: redis.url,
        CALLER_HASH_SECRET: 'the-benchmark-replicas-share-this-secret',
        SESSION_SECRET: 'the-benchmark-replicas-seal-sessions-with-this',
      }
    : {};
  const today = utcToday();
  const query = benchQueryNamed(values.query, today, `cache${Date.now().toString(36)}`);
  const durationS = Number(values.seconds);
  const runs = [
    { name: 'uncached', strategy: 'planned', env: {} },
    {
      name: `cached (PORTAL_CACHE_TTL_MS=${CACHE_TTL_MS}${redis ? ', REDIS_URL' : ''})`,
      strategy: 'planned',
      env: { PORTAL_CACHE_TTL_MS: CACHE_TTL_MS, ...shared },
    },
    { name: 'floor', strategy: 'floor', env: {} },
  ] as const satisfies ReadonlyArray<{ name: string; strategy: string; env: Record<string, string> }>;
  const figures: Array<{ name: string; requestsPerSecond: number; peakMiB: number }> = [];
  for (const run of runs) {
    const emulator = await startEmulator(0, seed);
    const server = await startServer(run.strategy, emulator.url, today, run.env);
    const load = await (async () => {
      try {
        // Warmed up on a few requests: the first fills the cache and compiles the code.
        await measureLoad(server.graphqlUrl, query, { connections: CONNECTIONS, durationS: 1, amount: 20 });
        return await measureLoad(server.graphqlUrl, query, { connections: CONNECTIONS, durationS });
      } catch (error) {
        process.stderr.write(`${server.child.output()}\n${emulator.child.output()}\n`);
        throw error;
      }
    })();
    const peakMiB = peakRssBytes(server.child) / 2 ** 20;
    figures.push({ name: run.name, requestsPerSecond: load.requestsPerSecond, peakMiB });
    process.stdout.write(
      `${query.name}, ${run.name}: ${load.requestsPerSecond.toFixed(1)} req/s (${load.requests} requests), ` +
        `peak memory ${peakMiB.toFixed(0)} MiB\n`,
    );
    await stopAllChildren();
  }
  await redis?.dispose();
  const [uncached, cached, floor] = figures;
  process.stdout.write(
    `cached / uncached: ${(cached!.requestsPerSecond / uncached!.requestsPerSecond).toFixed(2)}x req/s; ` +
      `peak memory: cached ${(cached!.peakMiB / floor!.peakMiB).toFixed(2)}x the floor's, ` +
      `uncached ${(uncached!.peakMiB / floor!.peakMiB).toFixed(2)}x\n`,
  );
}

runScript(main);
