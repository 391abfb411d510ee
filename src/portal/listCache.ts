/**
 * The portal's list answers, cached per caller for `PORTAL_CACHE_TTL_MS` (off by default): in memory for one
 * process, in Redis when the replicas share it. Keyed by the caller's key (an HMAC of its credentials,
 * `src/http/callerKeys.ts`), so one customer never reads another's entry and a wrong password never reads a right one's. What is cached is the
 * body exactly as the portal sent it; it is validated again on every read, like a fresh answer.
 *
 * A cache fails open: a store error is a miss (or a write not made), never a failed request.
 */
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
 * One process's cache, at most `maxBytes` of bodies: past it, the callers least recently written are dropped
 * first.
 */
export class MemoryListCache implements ListCache {
  private readonly callers = new Map<string, Map<EndpointName, { body: string; expiresAt: number }>>();
  private bytes = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxBytes = 64 * 1024 * 1024,
    private readonly now: () => number = Date.now,
  ) {}

  async get(callerKey: string, endpoint: EndpointName): Promise<string | undefined> {
    const entry = this.callers.get(callerKey)?.get(endpoint);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return entry.body;
    this.remove(callerKey, endpoint);
    return undefined;
  }

  async set(callerKey: string, endpoint: EndpointName, body: string): Promise<void> {
    if (body.length > this.maxBytes) return;
    this.remove(callerKey, endpoint);
    const entries = this.callers.get(callerKey) ?? new Map<EndpointName, { body: string; expiresAt: number }>();
    this.callers.delete(callerKey); // re-inserted last: the most recently written
    entries.set(endpoint, { body, expiresAt: this.now() + this.ttlMs });
    this.callers.set(callerKey, entries);
    this.bytes += body.length;
    for (const [oldest] of this.callers) {
      if (this.bytes <= this.maxBytes) break;
      await this.dropCaller(oldest);
    }
  }

  async dropCaller(callerKey: string): Promise<void> {
    for (const endpoint of [...(this.callers.get(callerKey)?.keys() ?? [])]) this.remove(callerKey, endpoint);
  }

  /** Bytes of bodies held. */
  size(): number {
    return this.bytes;
  }

  private remove(callerKey: string, endpoint: EndpointName): void {
    const entries = this.callers.get(callerKey);
    const entry = entries?.get(endpoint);
    if (!entries || !entry) return;
    entries.delete(endpoint);
    this.bytes -= entry.body.length;
    if (entries.size === 0) this.callers.delete(callerKey);
  }
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
