/**
 * The read layer over the transport: the one owner of what a read may be served from. It merges a caller's
 * concurrent reads of one list into one call (`PORTAL_SHARE_READS`, on by default; never across callers), keeps the
 * portal's lists per caller, parsed (`PORTAL_CACHE_TTL_MS`, in a `ListCache`), and keeps every caller's reads fresh
 * after its writes.
 *
 * The freshness rule: no read that starts after a caller's write (a generate, whatever its outcome) has ended is
 * served by, or joins, a call that started before that write ended; and no answer read before it is stored after
 * it. Writes are counted per caller in this process (`WriteLog`) and, when the cache is shared by replicas, in the
 * cache itself (its generation): a read notes both when its lookup starts, joins a call only where both are still
 * what that call noted, and stores only if they still are; a list a process keeps parsed is served only while the
 * caller's generation is still the one it was read at (`listCache.ts`). Another replica's writes are seen only
 * through that generation, so replicas without a shared cache are given no shared reads (`main.ts`). A write moves
 * both on and drops the caller's entries before its answer goes back, so every read its caller makes after it
 * starts afresh.
 *
 * Show calls and unlisted endpoints are never cached, nor is a read without credentials (the portal refuses it).
 */
import { LRUCache } from 'lru-cache';
import type { EndpointName } from './endpoints';
import { CACHEABLE_LISTS, type Generation, type ListCache } from './listCache';
import type { PortalCaller } from './transport';

/** One lookup of a caller's list and, on a miss, its call: shared by the reads that join it. */
interface Flight {
  /** Its place among the flights this process began, from 1. */
  order: number;
  /** The caller's writes in this process when it started. */
  written: number;
  /** The caller's generation in a shared cache, as its lookup read it; undefined without one. */
  generation: Promise<Generation> | undefined;
  /**
   * The list, parsed and checked: for the read that started the flight and for those that join it. Nothing changes
   * a record once it is checked (a kept list is frozen besides), so ten tabs of one customer hold one copy of a
   * list, not ten.
   */
  answer: Promise<unknown>;
  /** Whether the request that started it gave up (its client left, its deadline passed): its call is no answer. */
  abandoned(): boolean;
}

export class ReadCache {
  /** Lookups of the list cache so far, for `/metrics`. */
  readonly lookups = { hit: 0, miss: 0 };
  /** Reads served by a call another read of the same caller had under way, for `/metrics`. */
  readonly shared = { joined: 0 };
  /** Reads of a caller's list under way, by caller and endpoint. */
  private readonly flights = new Map<string, Flight>();
  private readonly writes = new WriteLog();
  /** Flights begun so far. */
  private begun = 0;

  /**
   * `cache` undefined: nothing is cached. `shareReads` false (and no cache): every read makes its own call.
   */
  constructor(
    private readonly cache: ListCache | undefined,
    private readonly shareReads = true,
  ) {}

  /**
   * Reads a list: from the cache, from a call under way for the same caller, or by `fetch`. `parse` checks a body
   * against the contract (and renames its records in place), and a body is kept only once it has passed. A list the
   * cache keeps is parsed once, frozen, and served to every read of it; a list read by a call is shared by the reads
   * that joined it.
   */
  async list<T>(
    caller: PortalCaller,
    endpoint: EndpointName,
    fetch: () => Promise<Buffer>,
    parse: (body: Buffer) => T,
  ): Promise<T> {
    const cache = this.cache;
    if ((!cache && !this.shareReads) || caller.authorization === undefined || !CACHEABLE_LISTS.has(endpoint))
      return parse(await fetch());
    const { callerKey } = caller;
    const flightKey = `${callerKey}:${endpoint}`;
    const written = this.writes.of(callerKey);
    const begun = this.begun;
    // Looked up and set with no await between: two reads that both found no flight would each start one.
    let flight = this.flights.get(flightKey);
    if (flight?.written !== written || flight.abandoned()) flight = undefined;
    if (flight && cache?.shared && !(await this.sameGeneration(cache, callerKey, flight))) {
      // Another replica wrote since that flight looked the cache up; one begun since this read started will do.
      const newer = this.flights.get(flightKey);
      flight = newer && newer.order > begun && !newer.abandoned() ? newer : undefined;
    }
    if (flight) {
      const shared = await flight.answer.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      // The call was another request's: when that request gave up, this one has not, and makes its own.
      if ('error' in shared && flight.abandoned()) return parse(await fetch());
      this.shared.joined += 1; // Served by the call it joined, its answer or its failure: it made none of its own.
      if ('error' in shared) throw shared.error;
      return shared.value as T;
    }
    const own = this.fly(cache, caller, endpoint, written, fetch, parse);
    this.flights.set(flightKey, own);
    try {
      return (await own.answer) as T;
    } finally {
      if (this.flights.get(flightKey) === own) this.flights.delete(flightKey);
    }
  }

  /**
   * Runs a write for a caller (`send`) and, whatever its outcome (a lost answer may have made a licence), moves
   * the caller's reads on past it before returning: later reads neither join an older call nor read an older
   * entry, here or on any replica that shares the cache.
   */
  async write<T>(caller: PortalCaller, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } finally {
      if (caller.authorization !== undefined) {
        this.writes.record(caller.callerKey);
        await this.cache?.afterWrite(caller.callerKey);
      }
    }
  }

  /** Whether the caller's generation in a shared cache is still the one the flight's lookup read. */
  private async sameGeneration(cache: ListCache, callerKey: string, flight: Flight): Promise<boolean> {
    const [now, then] = await Promise.all([cache.generation(callerKey), flight.generation]);
    return now === then;
  }

  private fly<T>(
    cache: ListCache | undefined,
    caller: PortalCaller,
    endpoint: EndpointName,
    written: number,
    fetch: () => Promise<Buffer>,
    parse: (body: Buffer) => T,
  ): Flight {
    const { callerKey, signal } = caller;
    const abandoned = () => signal?.aborted === true;
    this.begun += 1;
    if (!cache) {
      const answer = fetch().then(parse);
      return { order: this.begun, written, generation: undefined, answer, abandoned };
    }
    const looked = cache.lookup(callerKey, endpoint, parse);
    const answer = looked.then(async ({ records, generation }) => {
      this.lookups[records === undefined ? 'miss' : 'hit'] += 1;
      if (records !== undefined) return records;
      const body = await fetch();
      const value = parse(body);
      // Checked and stored with no await between: a write of this process in between would be missed otherwise.
      if (this.writes.of(callerKey) === written) await cache.store(callerKey, endpoint, body, value, generation);
      return value;
    });
    return {
      order: this.begun,
      written,
      generation: looked.then(({ generation }) => generation),
      answer,
      abandoned,
    };
  }
}

/** Callers whose last write this process remembers; older ones are forgotten into `floor`. */
const REMEMBERED_WRITERS = 10_000;

/**
 * Each caller's writes in this process, as a number that moves on with every write and never comes back to a
 * value it had. Bounded: a caller forgotten past `REMEMBERED_WRITERS` reads as the newest write ever forgotten,
 * which only ever makes a read made before it wait for a fresh call, never share a stale one.
 */
export class WriteLog {
  private last = 0;
  private floor = 0;
  private readonly writers = new LRUCache<string, number>({
    max: REMEMBERED_WRITERS,
    dispose: (written, _callerKey, reason) => {
      if (reason === 'evict') this.floor = Math.max(this.floor, written);
    },
  });

  /** Where the caller's writes stand now. */
  of(callerKey: string): number {
    return this.writers.get(callerKey) ?? this.floor;
  }

  /** The caller wrote. */
  record(callerKey: string): void {
    this.last += 1;
    this.writers.set(callerKey, this.last);
  }
}
