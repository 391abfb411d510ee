/**
 * The shared read cache's kept copies, against a real redis-server: two caches on one Redis stand for two replicas.
 * Each keeps the lists it reads, parsed, and serves one only while the caller's generation in Redis is the one it was
 * read at and it hears the channel of writes.
 */
import { Redis } from 'ioredis';
import { RedisListCache } from '../../src/portal/listCache';
import { SharedRedis } from '../../src/shared/redis';
import { startRedisServer, type RedisServer } from '../../scripts/soak/redisServer';

const quiet = { warn: () => undefined, info: () => undefined };
const TTL_MS = 60_000;

let redisServer: RedisServer;
let admin: Redis;
let connections: SharedRedis[] = [];

beforeAll(async () => {
  redisServer = await startRedisServer();
  admin = new Redis(redisServer.url);
});
afterEach(async () => {
  for (const redis of connections) await redis.close();
  connections = [];
});
afterAll(async () => {
  admin?.disconnect();
  await redisServer?.dispose();
});

/** A replica's cache, once it is connected and hears the channel of writes. */
async function replica(): Promise<RedisListCache> {
  const redis = new SharedRedis({ url: redisServer.url, log: quiet });
  connections.push(redis);
  const cache = new RedisListCache(TTL_MS, redis, quiet);
  await until(async () => (await admin.pubsub('NUMSUB', 'portal-graphql:cache:writes'))[1] === connections.length);
  return cache;
}

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('not within 2 s');
}

let callerSeq = 0;
/** A caller of its own per test, whose licence list one replica has read from the portal and stored. */
async function storedThrough(cache: RedisListCache) {
  const caller = `caller-${(callerSeq += 1)}`;
  const body = Buffer.from(JSON.stringify([{ id: 1 }, { id: 2 }]));
  const generation = await cache.generation(caller);
  await cache.store(caller, 'license.list', body, JSON.parse(body.toString()), generation);
  return caller;
}

/** Counts the parses a lookup makes: one when the list came from Redis, none when a kept copy served it. */
function parser() {
  const parse = (body: Buffer): unknown => {
    parse.calls += 1;
    return JSON.parse(body.toString('utf8'));
  };
  parse.calls = 0;
  return parse;
}

test('a list stored through one replica is parsed once by the other, which then serves its own kept copy', async () => {
  const [here, there] = [await replica(), await replica()];
  const caller = await storedThrough(here);
  const parse = parser();
  const first = await there.lookup(caller, 'license.list', parse);
  const second = await there.lookup(caller, 'license.list', parse);
  expect(first.records).toEqual([{ id: 1 }, { id: 2 }]);
  expect(second.records).toBe(first.records);
  expect(Object.isFrozen(second.records)).toBe(true);
  expect(parse.calls).toBe(1);
  expect(there.keptReads).toEqual({ served: 1, distrusted: 0 });
});

test('a kept copy is not served once the generation has moved on, though no notice of the write has come', async () => {
  const [here, there] = [await replica(), await replica()];
  const caller = await storedThrough(here);
  await there.lookup(caller, 'license.list', parser());
  await there.lookup(caller, 'license.list', parser());
  expect(there.keptReads.served).toBe(1);
  // A write as another replica makes it, but whose notice is lost: the generation moves on, the entries go.
  await admin
    .multi()
    .incr(`portal-graphql:cache:${caller}:generation`)
    .del(`portal-graphql:cache:${caller}:license.list`)
    .exec();
  const after = await there.lookup(caller, 'license.list', parser());
  expect(after.records).toBeUndefined();
  expect(after.generation).toBe('1');
  expect(there.keptReads.served).toBe(1);
});

test("a write through one replica drops the other's kept copies of that caller as its notice arrives", async () => {
  const [here, there] = [await replica(), await replica()];
  const caller = await storedThrough(here);
  const other = await storedThrough(here);
  await there.lookup(caller, 'license.list', parser());
  await there.lookup(other, 'license.list', parser());
  const both = there.size();
  await here.afterWrite(caller);
  await until(() => there.size() === both / 2);
  expect((await there.lookup(other, 'license.list', parser())).records).toEqual([{ id: 1 }, { id: 2 }]);
  expect(there.keptReads.served).toBe(1);
});

test('while a replica does not hear the channel of writes, its kept copies are not served but counted; heard again, they are', async () => {
  const cache = await replica();
  const caller = await storedThrough(cache);
  const kept = (await cache.lookup(caller, 'license.list', parser())).records;
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  // Until it reconnects (ioredis retries within 100 ms), its reads parse the list from Redis again.
  let during: unknown;
  await until(async () => {
    const parse = parser();
    during = (await cache.lookup(caller, 'license.list', parse)).records;
    return parse.calls === 1;
  });
  expect(during).toEqual(kept);
  expect(during).not.toBe(kept);
  expect(cache.keptReads.distrusted).toBeGreaterThanOrEqual(1);
  // Heard again (the copies kept while it was deaf are dropped then): served from a kept copy once more.
  const served = cache.keptReads.served;
  await until(
    async () =>
      (await cache.lookup(caller, 'license.list', parser())).records !== undefined && cache.keptReads.served > served,
  );
});
