/**
 * The portal's list answers, cached per caller for `PORTAL_CACHE_TTL_MS` (off by default): in memory for one
 * process, in Redis when the replicas share it. Keyed by the caller's key (an HMAC of its credentials,
 * `src/http/callerKeys.ts`), so one customer never reads another's entry and a wrong password never reads a right one's. What is cached is the
 * body exactly as the portal sent it; it is validated again on every read, like a fresh answer.
 *
 * A cache fails open: a store error is a miss (or a write not made), never a failed request. Which answers may be
 * kept after a caller's write, and which reads may share a call, is decided by the read layer (`readCache.ts`);
 * a shared cache keeps the per-caller write generation that lets it decide across processes.
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
  /**
   * True when other processes read and write this cache too (Redis): a caller's write through one of them must be
   * seen here, so the read layer asks `generation` before it lets a read join one already under way.
   */
  readonly shared: boolean;
  /**
   * A caller's list, and the caller's write generation it was read at (see `generation`). Never throws: a store
   * error is a miss with an unknown generation.
   */
  lookup(callerKey: string, endpoint: EndpointName): Promise<{ body: string | undefined; generation: Generation }>;
  /**
   * Where the caller's writes stand, as every process sharing the cache counts them: it changes with every
   * `afterWrite` and never comes back to a value it had. Undefined when unknown (the store is down), and always
   * for a cache that is one process's own, whose writes the read layer counts itself.
   */
  generation(callerKey: string): Promise<Generation>;
  /**
   * Keeps a list read at `generation`, unless the caller has written since (checked and kept in one step); a
   * shared cache keeps nothing at an unknown generation. Never throws: a store error keeps nothing.
   */
  store(callerKey: string, endpoint: EndpointName, body: string, generation: Generation): Promise<void>;
  /**
   * After the caller wrote (generated a licence): moves its generation on and drops every entry of it, in one
   * step, for every process that shares the cache. Never throws.
   */
  afterWrite(callerKey: string): Promise<void>;
}

/** A caller's write generation in a shared cache; undefined when unknown, or kept by the read layer itself. */
export type Generation = string | undefined;

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

  readonly shared = false;

  async lookup(
    callerKey: string,
    endpoint: EndpointName,
  ): Promise<{ body: string | undefined; generation: Generation }> {
    return { body: this.entries.get(entryKey(callerKey, endpoint)), generation: undefined };
  }

  async generation(): Promise<Generation> {
    return undefined;
  }

  /** Kept at once, in the call: the read layer checks the caller's writes just before, with no await between. */
  async store(callerKey: string, endpoint: EndpointName, body: string): Promise<void> {
    // One larger than the whole cache is not kept (lru-cache drops it, and the entry it would replace).
    this.entries.set(entryKey(callerKey, endpoint), body);
  }

  /** Dropped at once, in the call. */
  async afterWrite(callerKey: string): Promise<void> {
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

/**
 * Keeps a list only if the caller's generation is still the one it was read at: KEYS[1] the generation, KEYS[2]
 * the entry; ARGV the generation read, the body, the TTL in ms. A missing generation is 0 (never written).
 */
const STORE_IF_UNWRITTEN = `
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1`;

/** Moves the generation (KEYS[1]) on and drops the caller's entries (the other KEYS); ARGV[1] the generation's TTL. */
const AFTER_WRITE = `
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1`;

/**
 * How long a caller's generation outlives its last write: longer than any read can take (reads end at the
 * operation's deadline), so that no read that looked it up before a write sees it come back to its old value.
 */
const GENERATION_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The replicas' shared cache: one Redis key per caller and list, each with the TTL, and one per caller counting
 * its writes (its generation), which every replica's reads check before they join a call or keep an answer.
 */
export class RedisListCache implements ListCache {
  readonly shared = true;

  constructor(
    private readonly ttlMs: number,
    private readonly redis: SharedRedis,
  ) {}

  async lookup(
    callerKey: string,
    endpoint: EndpointName,
  ): Promise<{ body: string | undefined; generation: Generation }> {
    try {
      const [generation, body] = await this.redis.run((client) =>
        client.mget(generationKey(callerKey), keyOf(callerKey, endpoint)),
      );
      return { body: body ?? undefined, generation: generation ?? '0' };
    } catch {
      return { body: undefined, generation: undefined };
    }
  }

  async generation(callerKey: string): Promise<Generation> {
    try {
      return (await this.redis.run((client) => client.get(generationKey(callerKey)))) ?? '0';
    } catch {
      return undefined;
    }
  }

  async store(callerKey: string, endpoint: EndpointName, body: string, generation: Generation): Promise<void> {
    if (generation === undefined) return; // Read while Redis was down: a write made meanwhile is not known.
    try {
      await this.redis.run((client) =>
        client.eval(
          STORE_IF_UNWRITTEN,
          2,
          generationKey(callerKey),
          keyOf(callerKey, endpoint),
          generation,
          body,
          this.ttlMs,
        ),
      );
    } catch {
      // Not cached: the next read asks the portal.
    }
  }

  async afterWrite(callerKey: string): Promise<void> {
    try {
      await this.redis.run((client) =>
        client.eval(
          AFTER_WRITE,
          1 + CACHEABLE_LISTS.size,
          generationKey(callerKey),
          ...[...CACHEABLE_LISTS].map((endpoint) => keyOf(callerKey, endpoint)),
          GENERATION_TTL_MS,
        ),
      );
    } catch {
      // Entries written before an outage may outlive a generate made during it, for at most their TTL.
    }
  }
}

function keyOf(callerKey: string, endpoint: EndpointName): string {
  return `cache:${callerKey}:${endpoint}`;
}

function generationKey(callerKey: string): string {
  return `cache:${callerKey}:generation`;
}
