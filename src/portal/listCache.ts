/**
 * The portal's list answers, cached per caller for `PORTAL_CACHE_TTL_MS` (off by default): in memory for one
 * process, in Redis when the replicas share it. Keyed by the caller's key (an HMAC of its credentials,
 * `src/http/callerKeys.ts`), so one customer never reads another's entry and a wrong password never reads a right one's. What is cached is the
 * body exactly as the portal sent it; it is validated again on every read, like a fresh answer.
 *
 * A cache fails open: a store error is a miss (or a write not made), never a failed request.
 */
import { LRUCache } from 'lru-cache';
import type { EndpointName } from './endpoints';
import type { SharedRedis } from '../shared/redis';

/** The list endpoints whose answers may be cached (never one that generate's reconciliation reads). */
export const CACHEABLE_LISTS: ReadonlySet<EndpointName> = new Set<EndpointName>([
  'productAssignment.list',
  'license.list',
  'licenseDetail.list',
  'license.byAssignment.list',
]);

export interface ListCache {
  get(callerKey: string, endpoint: EndpointName): Promise<string | undefined>;
  set(callerKey: string, endpoint: EndpointName, body: string): Promise<void>;
  /** Drops every entry of a caller (after it generated a licence), on every replica that shares the cache. */
  dropCaller(callerKey: string): Promise<void>;
}

/**
 * One process's cache, at most `maxBytes` of bodies (lru-cache): past it, the entries least recently used are
 * dropped first.
 */
export class MemoryListCache implements ListCache {
  private readonly entries: LRUCache<string, string>;

  /** `now` is the clock the TTL is measured on (milliseconds, never zero). */
  constructor(ttlMs: number, maxBytes = 64 * 1024 * 1024, now: () => number = () => performance.now()) {
    this.entries = new LRUCache<string, string>({
      maxSize: maxBytes,
      sizeCalculation: (body) => Math.max(1, body.length),
      ttl: ttlMs,
      ttlResolution: 0,
      perf: { now },
    });
  }

  async get(callerKey: string, endpoint: EndpointName): Promise<string | undefined> {
    return this.entries.get(entryKey(callerKey, endpoint));
  }

  async set(callerKey: string, endpoint: EndpointName, body: string): Promise<void> {
    // One larger than the whole cache is not kept (lru-cache drops it, and the entry it would replace).
    this.entries.set(entryKey(callerKey, endpoint), body);
  }

  async dropCaller(callerKey: string): Promise<void> {
    for (const endpoint of CACHEABLE_LISTS) this.entries.delete(entryKey(callerKey, endpoint));
  }

  /** Bytes of bodies held. */
  size(): number {
    return this.entries.calculatedSize;
  }
}

function entryKey(callerKey: string, endpoint: EndpointName): string {
  return `${callerKey}:${endpoint}`;
}

/** The replicas' shared cache: one Redis key per caller and list, each with the TTL. */
export class RedisListCache implements ListCache {
  constructor(
    private readonly ttlMs: number,
    private readonly redis: SharedRedis,
  ) {}

  async get(callerKey: string, endpoint: EndpointName): Promise<string | undefined> {
    try {
      return (await this.redis.run((client) => client.get(keyOf(callerKey, endpoint)))) ?? undefined;
    } catch {
      return undefined;
    }
  }

  async set(callerKey: string, endpoint: EndpointName, body: string): Promise<void> {
    try {
      await this.redis.run((client) => client.set(keyOf(callerKey, endpoint), body, 'PX', this.ttlMs));
    } catch {
      // Not cached: the next read asks the portal.
    }
  }

  async dropCaller(callerKey: string): Promise<void> {
    try {
      await this.redis.run((client) =>
        client.del(...[...CACHEABLE_LISTS].map((endpoint) => keyOf(callerKey, endpoint))),
      );
    } catch {
      // Entries written before an outage may outlive a generate made during it, for at most their TTL.
    }
  }
}

function keyOf(callerKey: string, endpoint: EndpointName): string {
  return `cache:${callerKey}:${endpoint}`;
}
