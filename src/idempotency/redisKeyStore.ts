/**
 * The idempotency keys of `generateLicense` in Redis, shared by every replica. Each operation that decides who holds
 * a key is one Lua script, so it is atomic across replicas: claim (set if free), settle and release (only by the
 * claim's owner), replace (only if the record is still the version expected). Every key has a TTL of 24 hours.
 *
 * Any failure to reach Redis is an `IdempotencyStoreError`: the caller refuses the keyed generate (fails closed).
 */
import type { Redis } from 'ioredis';
import { IdempotencyStoreError, type KeyRecord, type KeyStore } from './keyStore';
import type { SharedRedis } from '../shared/redis';
import { namedLicense } from '../portal/wireTypes';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How often a request waiting for another replica's claim looks again. */
const POLL_MS = 50;

const CLAIM = `
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`;

/** ARGV: owner, next record, ttl. Only a pending record of that owner is replaced (or, with an empty next, deleted). */
const SETTLE = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local record = cjson.decode(current)
if record.state ~= 'pending' or record.owner ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`;

/** ARGV: the expected record exactly as read, next record, ttl. */
const REPLACE = `
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

export class RedisKeyStore implements KeyStore {
  /** The text each record was read as, so that `replace` compares the very version it saw. */
  private readonly readAs = new WeakMap<KeyRecord, string>();

  constructor(
    private readonly redis: SharedRedis,
    private readonly ttlMs = DAY_MS,
    /** The clock the leases are read by (epoch ms). */
    private readonly now: () => number = Date.now,
  ) {}

  async claim(key: string, record: KeyRecord): Promise<KeyRecord | undefined> {
    const current = await this.call((client) =>
      client.eval(CLAIM, 1, this.keyOf(key), JSON.stringify(record), this.ttlMs),
    );
    return typeof current === 'string' ? this.parse(current) : undefined;
  }

  async settle(key: string, owner: string, record: KeyRecord): Promise<boolean> {
    const done = await this.call((client) =>
      client.eval(SETTLE, 1, this.keyOf(key), owner, JSON.stringify(record), this.ttlMs),
    );
    return done === 1;
  }

  async replace(key: string, expected: KeyRecord, next: KeyRecord): Promise<boolean> {
    const seen = this.readAs.get(expected) ?? JSON.stringify(expected);
    const done = await this.call((client) =>
      client.eval(REPLACE, 1, this.keyOf(key), seen, JSON.stringify(next), this.ttlMs),
    );
    return done === 1;
  }

  async release(key: string, owner: string): Promise<void> {
    await this.call((client) => client.eval(SETTLE, 1, this.keyOf(key), owner, '', this.ttlMs));
  }

  /**
   * Polls: a claim held on another replica settles there, and nothing here would be told. The lease is read by the
   * store's clock; the timeout is real time.
   */
  async whenSettled(key: string, timeoutMs: number): Promise<KeyRecord | undefined> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const text = await this.call((client) => client.get(this.keyOf(key)));
      const current = text === null ? undefined : this.parse(text);
      const left = until - performance.now();
      if (current?.state !== 'pending' || current.leaseUntil <= this.now() || left <= 0) return current;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
    }
  }

  size(): undefined {
    return undefined; // Counting would need KEYS or SCAN over every replica's keys.
  }

  private keyOf(key: string): string {
    return `idempotency:${key}`;
  }

  private parse(text: string): KeyRecord {
    const record = JSON.parse(text) as KeyRecord;
    // A licence stored by a release that kept only the portal's names is given the schema's too.
    if (record.state === 'succeeded') namedLicense(record.license);
    this.readAs.set(record, text);
    return record;
  }

  private async call<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    try {
      return await this.redis.run(command);
    } catch (error) {
      throw new IdempotencyStoreError(
        `The idempotency store could not be reached: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}
