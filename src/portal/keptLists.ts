/**
 * The lists the read cache keeps in this process: parsed, checked and frozen, with the views readers make of them
 * (an index by id, an order a page is cut in) made once per kept copy and shared by every read of it, so that a
 * read of a cached list costs what it takes from it, not what the list holds.
 *
 * A kept list and every record in it are frozen: the records are handed to every reader as they are, and a reader
 * that tried to change one would change what the next reads (in strict mode it throws instead).
 */
import { LRUCache } from 'lru-cache';
import type { EndpointName } from './endpoints';

/** Views of each kept list, by name; a list that is not here was not kept. */
const viewsOfKept = new WeakMap<object, Map<string, unknown>>();

/**
 * The view `name` of `list`, made by `make` the first time it is asked for and kept with the list; undefined when
 * the list is not one the read cache keeps (made for one request, a view of it would serve one read).
 *
 *     const byId = keptView(licenses, 'byId', (all) => new Map(all.map((license) => [license.id, license])));
 */
export function keptView<T, V>(list: readonly T[], name: string, make: (list: readonly T[]) => V): V | undefined {
  const views = viewsOfKept.get(list);
  if (!views) return undefined;
  if (views.has(name)) return views.get(name) as V;
  const view = make(list);
  views.set(name, view);
  return view;
}

/**
 * A list made from a kept list (a grouped list's licences, out of their groups), made once and kept with it: frozen,
 * and with views of its own, like a list the read cache keeps. Undefined when `list` is not kept.
 */
export function keptList<T, V>(list: readonly T[], name: string, make: (list: readonly T[]) => V[]): V[] | undefined {
  return keptView(list, name, (all) => keepList(make(all)));
}

/** Whether a value is a list the read cache keeps (frozen, and shared by every read of it). */
export function isKept(value: unknown): boolean {
  return typeof value === 'object' && value !== null && viewsOfKept.has(value);
}

/**
 * Heap a kept list takes per byte of the body it was parsed from, its views included: parsed and named, the
 * portal's lists take 1.6 (licences) to 2.0 (details) times their JSON's length in V8's heap, and an index by id or
 * one order of 50,000 licences takes a few per cent more each. The pages kept with a large licence list
 * (`LicensePages` in `src/graphql/connections.ts`) are bounded on their own, at 256 KiB a list.
 */
const HEAP_PER_BODY_BYTE = 2.5;

/** A list kept: its records, and the caller's write generation in the shared cache it was read at. */
export interface KeptList<T = unknown> {
  records: T;
  generation: string | undefined;
}

/**
 * The kept lists of one process, per caller and endpoint, at most `maxBytes` of heap as estimated from their
 * bodies (lru-cache): past it, the lists least recently used are dropped first; one larger than the whole bound is
 * not kept. Each lives for the TTL it is kept with.
 */
export class KeptLists {
  private readonly entries: LRUCache<string, KeptList>;

  /** `now` is the clock TTLs are measured on (milliseconds, never zero). */
  constructor(maxBytes: number, now: () => number = () => performance.now()) {
    this.entries = new LRUCache<string, KeptList, unknown>({
      maxSize: maxBytes, // every entry is set with its size
      ttlResolution: 0,
      perf: { now },
    });
  }

  get(callerKey: string, endpoint: EndpointName): KeptList | undefined {
    return this.entries.get(entryKey(callerKey, endpoint));
  }

  /**
   * Keeps a caller's list, parsed from `bodyBytes` of body, for `ttlMs`: freezes it and its records, and answers it.
   */
  keep<T>(
    callerKey: string,
    endpoint: EndpointName,
    records: T,
    bodyBytes: number,
    generation: string | undefined,
    ttlMs: number,
  ): T {
    const kept = keepList(records);
    const size = Math.max(1, Math.ceil(bodyBytes * HEAP_PER_BODY_BYTE));
    this.entries.set(entryKey(callerKey, endpoint), { records: kept, generation }, { ttl: ttlMs, size });
    return kept;
  }

  /** Drops one of a caller's lists. */
  drop(callerKey: string, endpoint: EndpointName): void {
    this.entries.delete(entryKey(callerKey, endpoint));
  }

  /** Drops every list of a caller. */
  dropCaller(callerKey: string, endpoints: Iterable<EndpointName>): void {
    for (const endpoint of endpoints) this.entries.delete(entryKey(callerKey, endpoint));
  }

  /** Drops every list. */
  clear(): void {
    this.entries.clear();
  }

  /** Estimated bytes of heap held. */
  size(): number {
    return this.entries.calculatedSize;
  }
}

function entryKey(callerKey: string, endpoint: EndpointName): string {
  return `${callerKey}:${endpoint}`;
}

/** Freezes a parsed list, its records and everything in them, and gives it a place for its views. */
function keepList<T>(records: T): T {
  if (typeof records !== 'object' || records === null) return records;
  deepFreeze(records);
  viewsOfKept.set(records, new Map());
  return records;
}

function deepFreeze(value: object): void {
  if (Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const item of Object.values(value) as unknown[]) if (typeof item === 'object' && item !== null) deepFreeze(item);
}
