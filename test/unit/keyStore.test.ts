/**
 * The key store's contract, shown against both implementations behind the interface: the in-memory one, and
 * Redis (a real redis-server on a free port).
 */
import { MemoryKeyStore, type KeyRecord, type KeyStore } from '../../src/idempotency/keyStore';
import { RedisKeyStore } from '../../src/idempotency/redisKeyStore';
import { SharedRedis } from '../../src/shared/redis';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../../scripts/soak/redisServer';
import { licenseRecord } from '../helpers/wireRecords';

const license = licenseRecord(1, { hwid: 'H' });
const pending = (owner = 'o1', leaseMs = 60_000): KeyRecord => ({
  state: 'pending',
  fingerprint: 'f',
  since: Date.now(),
  owner,
  leaseUntil: Date.now() + leaseMs,
});
const succeeded = (): KeyRecord => ({ state: 'succeeded', fingerprint: 'f', since: Date.now(), license });

let redisServer: RedisServer;
let redis: SharedRedis;
const quiet = { warn: () => undefined, info: () => undefined };
beforeAll(async () => {
  redisServer = await startRedisServer();
  redis = new SharedRedis({ url: redisServer.url, log: quiet });
  for (let attempt = 0; attempt < 100 && !redis.isUp(); attempt += 1)
    await new Promise((resolve) => setTimeout(resolve, 20));
});
afterAll(async () => {
  await redis?.close();
  await redisServer?.dispose();
});

let keySeq = 0;
const newKey = () => `key-${Date.now()}-${(keySeq += 1)}`;

/** How a test lets a lease or a timeout pass: with Jest's fake timers, moved at once, or in real time. */
interface Passing {
  /** Before the store is made, so that it reads the clock the test moves. */
  start(): void;
  /** Lets `ms` pass after a wait has begun; in real time, the wait itself lets it pass. */
  pass(ms: number): Promise<void>;
  stop(): void;
}
const fakeTime: Passing = {
  start: () => jest.useFakeTimers({ now: Date.now() }),
  pass: async (ms) => {
    await jest.advanceTimersByTimeAsync(ms);
  },
  stop: () => jest.useRealTimers(),
};
const realTime: Passing = { start: () => undefined, pass: async () => undefined, stop: () => undefined };

// The memory store's wait is its own timer, so its lease passes on Jest's clock; Redis's is polled over a real socket.
describe.each([
  ['memory', () => new MemoryKeyStore() as KeyStore, fakeTime],
  ['redis', () => new RedisKeyStore(redis) as KeyStore, realTime],
])('the %s key store', (_name, makeStore, time) => {
  test('claim stores a free key and answers the record of a held one', async () => {
    const store = makeStore();
    const key = newKey();
    const first = pending('o1');
    expect(await store.claim(key, first)).toBeUndefined();
    expect(await store.claim(key, pending('o2'))).toEqual(first);
  });

  test('only the owner settles or releases its claim', async () => {
    const store = makeStore();
    const key = newKey();
    await store.claim(key, pending('owner'));
    expect(await store.settle(key, 'someone-else', succeeded())).toBe(false);
    await store.release(key, 'someone-else');
    expect((await store.claim(key, pending('o3')))?.state).toBe('pending');
    const done = succeeded();
    expect(await store.settle(key, 'owner', done)).toBe(true);
    expect(await store.claim(key, pending('o4'))).toEqual(done);
    // Settled, it is no one's claim any more.
    expect(await store.settle(key, 'owner', succeeded())).toBe(false);
  });

  test('a released key is free again', async () => {
    const store = makeStore();
    const key = newKey();
    await store.claim(key, pending('owner'));
    await store.release(key, 'owner');
    expect(await store.claim(key, pending('next'))).toBeUndefined();
  });

  test('replace takes over a record only if it is still the version expected', async () => {
    const store = makeStore();
    const key = newKey();
    const lost: KeyRecord = {
      state: 'unknown',
      fingerprint: 'f',
      since: 5,
      productAssignmentId: 1,
      knownLicenseIds: [],
    };
    await store.claim(key, lost);
    const seen = (await store.claim(key, pending()))!;
    expect(await store.replace(key, seen, pending('a'))).toBe(true);
    expect(await store.replace(key, seen, pending('b'))).toBe(false);
  });

  test('whenSettled resolves when the key settles, when its lease runs out, or at its timeout', async () => {
    time.start();
    try {
      const store = makeStore();
      const key = newKey();
      await store.claim(key, pending('owner'));
      const waiting = store.whenSettled(key, 5000);
      const done = succeeded();
      await store.settle(key, 'owner', done);
      await expect(waiting).resolves.toEqual(done);

      const leased = newKey();
      await store.claim(leased, pending('owner', 150));
      const started = Date.now();
      const leaseWait = store.whenSettled(leased, 5000);
      await time.pass(150);
      expect((await leaseWait)?.state).toBe('pending');
      expect(Date.now() - started).toBeLessThan(1000);

      const held = newKey();
      await store.claim(held, pending('owner'));
      const heldWait = store.whenSettled(held, 30);
      await time.pass(30);
      expect((await heldWait)?.state).toBe('pending');
    } finally {
      time.stop();
    }
  });
});

describe('the memory key store alone', () => {
  test('keys expire after their time to live', async () => {
    let now = 0;
    const store = new MemoryKeyStore({ ttlMs: 1000, now: () => now });
    await store.claim('a', { state: 'pending', fingerprint: 'f', since: 0, owner: 'o', leaseUntil: 60_000 });
    await store.settle('a', 'o', succeeded());
    now = 999;
    expect((await store.claim('a', pending()))?.state).toBe('succeeded');
    now = 1000;
    expect(await store.claim('a', pending())).toBeUndefined();
  });

  test('it holds at most maxKeys, dropping the oldest settled keys and never a pending one', async () => {
    const store = new MemoryKeyStore({ maxKeys: 3 });
    const oldest = pending('keep');
    await store.claim('pending-oldest', oldest);
    for (const key of ['s1', 's2', 's3', 's4']) {
      await store.claim(key, pending('o'));
      await store.settle(key, 'o', succeeded());
    }
    expect(store.size()).toBe(3);
    expect(await store.claim('pending-oldest', pending('x'))).toEqual(oldest);
    expect(await store.claim('s1', pending())).toBeUndefined();
  });

  test("one caller generating without end makes room among its own keys, never another caller's", async () => {
    const store = new MemoryKeyStore({ maxKeys: 100, maxKeysPerCaller: 10 });
    const unknown: KeyRecord = {
      state: 'unknown',
      fingerprint: 'f',
      since: Date.now(),
      productAssignmentId: 1,
      knownLicenseIds: [],
    };
    await store.claim('quiet:retry-me', pending('q'));
    await store.settle('quiet:retry-me', 'q', unknown);
    for (let index = 0; index < 500; index += 1) {
      await store.claim(`loud:${index}`, pending('o'));
      await store.settle(`loud:${index}`, 'o', succeeded());
    }
    expect(store.sizeOf('loud')).toBe(10);
    expect(await store.claim('loud:499', pending())).toMatchObject({ state: 'succeeded' }); // its newest are kept
    expect(await store.claim('loud:0', pending())).toBeUndefined(); // its oldest made room
    expect(await store.claim('quiet:retry-me', pending())).toEqual(unknown);
  });

  test('when the store as a whole is full, the caller holding the most keys makes room', async () => {
    const store = new MemoryKeyStore({ maxKeys: 12, maxKeysPerCaller: 10 });
    for (const caller of ['a', 'b'])
      for (let index = 0; index < (caller === 'a' ? 10 : 2); index += 1) {
        await store.claim(`${caller}:${index}`, pending('o'));
        await store.settle(`${caller}:${index}`, 'o', succeeded());
      }
    await store.claim('c:0', pending('o'));
    expect(store.size()).toBe(12);
    expect([store.sizeOf('a'), store.sizeOf('b'), store.sizeOf('c')]).toEqual([9, 2, 1]);
  });
});

describe('the redis key store alone', () => {
  test('every key it writes has the prefix and a time to live of about a day', async () => {
    const store = new RedisKeyStore(redis);
    const key = newKey();
    await store.claim(key, pending());
    const raw = new Redis(redisServer.url); // no prefix of its own: it sees the keys as Redis holds them
    try {
      const ttl = await raw.pttl(`portal-graphql:idempotency:${key}`);
      expect(ttl).toBeGreaterThan(23 * 3600 * 1000);
      expect(ttl).toBeLessThanOrEqual(24 * 3600 * 1000);
    } finally {
      raw.disconnect();
    }
  });

  test('fails closed: with Redis never reached, a claim is an IdempotencyStoreError within the command timeout (1 s)', async () => {
    const down = new SharedRedis({ url: 'redis://127.0.0.1:1/0', log: quiet });
    try {
      const store = new RedisKeyStore(down);
      const started = Date.now();
      await expect(store.claim(newKey(), pending())).rejects.toMatchObject({ name: 'IdempotencyStoreError' });
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await down.close();
    }
  });
});
