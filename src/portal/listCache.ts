/**
 * The portal's list answers, cached per caller for `PORTAL_CACHE_TTL_MS` (off by default): kept parsed, checked and
 * frozen in each process (`keptLists.ts`, at most `PORTAL_CACHE_MAX_BYTES`), and, when the replicas share the cache,
 * as the portal's bodies in Redis too, from which another replica parses its own copy. Keyed by the caller's key (an
 * HMAC of its credentials, `src/http/callerKeys.ts`), so one customer never reads another's entry and a wrong password
 * never reads a right one's. A body is kept only once it has passed the contract, and a kept copy is served as it is.
 *
 * A cache fails open: a store error is a miss (or a write not made), never a failed request. Which answers may be
 * kept after a caller's write, and which reads may share a call, is decided by the read layer (`readCache.ts`);
 * a shared cache keeps the per-caller write generation that lets it decide across processes, and a copy kept in a
 * process is served only while that generation is still the one it was read at.
 */
import type { EndpointName } from './endpoints';
import { KeptLists } from './keptLists';
import type { OutageLog } from '../shared/outageLog';
import { channelName, type SharedRedis } from '../shared/redis';
import { readSetting } from '../settings/declarations';

/** The list endpoints whose answers may be cached (never one that generate's reconciliation reads). */
export const CACHEABLE_LISTS: ReadonlySet<EndpointName> = new Set<EndpointName>([
  'productAssignment.list',
  'license.list',
  'licenseDetail.list',
  'license.byAssignment.list',
]);

/** The most heap the kept lists of one process take, unless told: `PORTAL_CACHE_MAX_BYTES`'s default. */
const DEFAULT_MAX_BYTES = readSetting({}, 'PORTAL_CACHE_MAX_BYTES');

export interface ListCache {
  /**
   * True when other processes read and write this cache too (Redis): a caller's write through one of them must be
   * seen here, so the read layer asks `generation` before it lets a read join one already under way.
   */
  readonly shared: boolean;
  /** Reads served from a list kept in this process, and reads that found one but could not trust it, for `/metrics`. */
  readonly keptReads: { served: number; distrusted: number };
  /**
   * A caller's list, parsed by `parse` when it was found as a body, and the caller's write generation it was read
   * at (see `generation`). The records it answers are kept, frozen, and served to every read of them alike. Never
   * throws for the store: a store error is a miss with an unknown generation. `parse` may throw.
   */
  lookup<T>(
    callerKey: string,
    endpoint: EndpointName,
    parse: (body: Buffer) => T,
  ): Promise<{ records: T | undefined; generation: Generation }>;
  /**
   * Where the caller's writes stand, as every process sharing the cache counts them: it changes with every
   * `afterWrite` and never comes back to a value it had. Undefined when unknown (the store is down), and always
   * for a cache that is one process's own, whose writes the read layer counts itself.
   */
  generation(callerKey: string): Promise<Generation>;
  /**
   * Keeps a list read at `generation` (its body as the portal sent it, and `records`, parsed from it), unless the
   * caller has written since (checked and kept in one step); a shared cache keeps nothing at an unknown generation.
   * `records` are frozen once kept. Never throws: a store error keeps nothing.
   */
  store(
    callerKey: string,
    endpoint: EndpointName,
    body: Buffer,
    records: unknown,
    generation: Generation,
  ): Promise<void>;
  /**
   * After the caller wrote (generated a licence): moves its generation on and drops every entry of it, in one
   * step, for every process that shares the cache. Never throws.
   */
  afterWrite(callerKey: string): Promise<void>;
}

/** A caller's write generation in a shared cache; undefined when unknown, or kept by the read layer itself. */
export type Generation = string | undefined;

/** One process's cache: its kept lists, nothing else. */
export class MemoryListCache implements ListCache {
  readonly shared = false;
  readonly keptReads = { served: 0, distrusted: 0 };
  private readonly kept: KeptLists;

  /** `now` is the clock the TTL is measured on (milliseconds, never zero). */
  constructor(
    private readonly ttlMs: number,
    maxBytes = DEFAULT_MAX_BYTES,
    now: () => number = () => performance.now(),
  ) {
    this.kept = new KeptLists(maxBytes, now);
  }

  async lookup<T>(
    callerKey: string,
    endpoint: EndpointName,
  ): Promise<{ records: T | undefined; generation: Generation }> {
    const kept = this.kept.get(callerKey, endpoint);
    if (kept) this.keptReads.served += 1;
    return { records: kept?.records as T | undefined, generation: undefined };
  }

  async generation(): Promise<Generation> {
    return undefined;
  }

  /** Kept at once, in the call: the read layer checks the caller's writes just before, with no await between. */
  async store(callerKey: string, endpoint: EndpointName, body: Buffer, records: unknown): Promise<void> {
    // One larger than the whole cache is not kept (lru-cache drops it, and the entry it would replace).
    this.kept.keep(callerKey, endpoint, records, body.length, undefined, this.ttlMs);
  }

  /** Dropped at once, in the call. */
  async afterWrite(callerKey: string): Promise<void> {
    this.kept.dropCaller(callerKey, CACHEABLE_LISTS);
  }

  /** Estimated bytes of heap held. */
  size(): number {
    return this.kept.size();
  }
}

/**
 * The caller's generation (KEYS[1]), a list (KEYS[2]) and how long the list has to live, in ms (below 0 when it is
 * not there), read in one step.
 */
const LOOKUP = `
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('PTTL', KEYS[2])}`;

/**
 * Keeps a list only if the caller's generation is still the one it was read at: KEYS[1] the generation, KEYS[2]
 * the entry; ARGV the generation read, the body, the TTL in ms. A missing generation is 0 (never written).
 */
const STORE_IF_UNWRITTEN = `
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1`;

/**
 * Moves the generation (KEYS[1]) on, drops the caller's entries (the other KEYS) and tells every replica (ARGV[2],
 * the channel; ARGV[3], the caller's key); ARGV[1] the generation's TTL.
 */
const AFTER_WRITE = `
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`;

/**
 * How long a caller's generation outlives its last write: longer than any read can take (reads end at the
 * operation's deadline), so that no read that looked it up before a write sees it come back to its old value.
 */
const GENERATION_TTL_MS = 24 * 60 * 60 * 1000;

/** The channel on which a replica tells the others which caller wrote. */
const WRITES_CHANNEL = 'cache:writes';

/**
 * The replicas' shared cache: one Redis key per caller and list, each with the TTL, and one per caller counting
 * its writes (its generation), which every replica's reads check before they join a call or keep an answer.
 *
 * Each replica also keeps the lists it read, parsed, at the generation it read them at, and serves one only once
 * it has read the caller's generation from Redis again and found it unchanged: a write through another replica has
 * moved it on before that replica answered, so the next read here, however soon, does not serve the older list.
 * The writes are also published (`WRITES_CHANNEL`), and each replica drops the writer's kept lists as they arrive,
 * which frees them at once; while this replica does not listen (its connection to the channel is down, or was, so
 * some may have been missed), its kept lists are not served, only counted (`keptReads.distrusted`).
 */
export class RedisListCache implements ListCache {
  readonly shared = true;
  readonly keptReads = { served: 0, distrusted: 0 };
  private readonly kept: KeptLists;
  private listening = false;
  private reportedDeaf = false;

  constructor(
    private readonly ttlMs: number,
    private readonly redis: SharedRedis,
    private readonly log: OutageLog,
    maxBytes = DEFAULT_MAX_BYTES,
  ) {
    this.kept = new KeptLists(maxBytes);
    redis.listen(
      WRITES_CHANNEL,
      (callerKey) => this.kept.dropCaller(callerKey, CACHEABLE_LISTS),
      (listening) => this.heard(listening),
    );
  }

  async lookup<T>(
    callerKey: string,
    endpoint: EndpointName,
    parse: (body: Buffer) => T,
  ): Promise<{ records: T | undefined; generation: Generation }> {
    const kept = this.kept.get(callerKey, endpoint);
    if (kept && !this.listening) this.keptReads.distrusted += 1;
    else if (kept) {
      const generation = await this.generation(callerKey);
      if (generation === undefined) return { records: undefined, generation };
      if (generation === kept.generation) {
        this.keptReads.served += 1;
        return { records: kept.records as T, generation };
      }
      // Older than a write: never served again (a notice of the write may still be on its way).
      if (this.kept.get(callerKey, endpoint) === kept) this.kept.drop(callerKey, endpoint);
    }
    let found: [string | null, string | null, number];
    try {
      found = (await this.redis.run((client) =>
        client.eval(LOOKUP, 2, generationKey(callerKey), keyOf(callerKey, endpoint)),
      )) as [string | null, string | null, number];
    } catch {
      return { records: undefined, generation: undefined };
    }
    const [written, body, ttlMs] = found;
    const generation = written ?? '0';
    if (body === null || ttlMs <= 0) return { records: undefined, generation };
    const bytes = Buffer.from(body, 'utf8');
    // Kept (and frozen) whether or not the channel is heard: this read and those that join it share the one copy.
    // While the channel is not heard, it is not served again; once it is heard again, it is dropped with the rest.
    const records = this.kept.keep(callerKey, endpoint, parse(bytes), bytes.length, generation, ttlMs);
    return { records, generation };
  }

  async generation(callerKey: string): Promise<Generation> {
    try {
      return (await this.redis.run((client) => client.get(generationKey(callerKey)))) ?? '0';
    } catch {
      return undefined;
    }
  }

  async store(
    callerKey: string,
    endpoint: EndpointName,
    body: Buffer,
    records: unknown,
    generation: Generation,
  ): Promise<void> {
    if (generation === undefined) return; // Read while Redis was down: a write made meanwhile is not known.
    let stored: unknown;
    try {
      stored = await this.redis.run((client) =>
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
      return; // Not cached: the next read asks the portal.
    }
    // Kept here at the generation Redis kept it at: served only while the caller's generation is still that one.
    if (stored === 1) this.kept.keep(callerKey, endpoint, records, body.length, generation, this.ttlMs);
  }

  async afterWrite(callerKey: string): Promise<void> {
    this.kept.dropCaller(callerKey, CACHEABLE_LISTS);
    try {
      await this.redis.run((client) =>
        client.eval(
          AFTER_WRITE,
          1 + CACHEABLE_LISTS.size,
          generationKey(callerKey),
          ...[...CACHEABLE_LISTS].map((endpoint) => keyOf(callerKey, endpoint)),
          GENERATION_TTL_MS,
          channelName(WRITES_CHANNEL),
          callerKey,
        ),
      );
    } catch {
      // Entries written before an outage may outlive a generate made during it, for at most their TTL.
    }
  }

  /** Estimated bytes of heap held by the kept lists. */
  size(): number {
    return this.kept.size();
  }

  /** The channel of writes is heard, or no longer: writes published while it was not may have been missed. */
  private heard(listening: boolean): void {
    if (listening === this.listening) return;
    this.listening = listening;
    if (listening) {
      this.kept.clear();
      if (this.reportedDeaf) this.log.info({}, 'cache write notices are heard again: kept lists are served');
      this.reportedDeaf = false;
    } else if (!this.reportedDeaf) {
      this.reportedDeaf = true;
      this.log.warn({}, 'cache write notices are not heard: lists kept in this process are not served');
    }
  }
}

function keyOf(callerKey: string, endpoint: EndpointName): string {
  return `cache:${callerKey}:${endpoint}`;
}

function generationKey(callerKey: string): string {
  return `cache:${callerKey}:generation`;
}
