/**
 * A key-value cache in Redis, shared by the replicas, in the shape Apollo Server's caches take (`KeyValueCache`):
 * automatic persisted queries registered through one replica are found by another.
 *
 * Caches fail open: a Redis error is a miss (`get`) or a no-op (`set`, `delete`), counted by the connection and
 * logged once per outage there, never a failed request. Every entry has a TTL (a day unless Apollo asks less).
 */
import type { SharedRedis } from './redis';

const DEFAULT_TTL_SECONDS = 24 * 60 * 60;

export class RedisKeyValueCache {
  constructor(
    private readonly redis: SharedRedis,
    /** Keeps one cache's keys apart from another's, after the connection's own prefix. */
    private readonly namespace: string,
  ) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.redis.run((client) => client.get(this.keyOf(key)))) ?? undefined;
    } catch {
      return undefined;
    }
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    const ttlSeconds = options?.ttl ?? DEFAULT_TTL_SECONDS;
    try {
      await this.redis.run((client) => client.set(this.keyOf(key), value, 'EX', Math.max(1, Math.ceil(ttlSeconds))));
    } catch {
      // A cache that cannot store is a cache that misses next time.
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      return (await this.redis.run((client) => client.del(this.keyOf(key)))) > 0;
    } catch {
      return false;
    }
  }

  private keyOf(key: string): string {
    return `${this.namespace}:${key}`;
  }
}
