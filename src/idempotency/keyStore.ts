/**
 * Where `generateLicense` remembers its idempotency keys: a small interface, so that a store shared by several
 * replicas (Redis, a database) can replace the in-memory one, and the in-memory store that serves one process.
 *
 * Keys arrive already scoped to the caller, as `<caller>:<key>` where `<caller>` is an HMAC of its credentials
 * (see `idempotentGenerate.ts`); the store never sees a credential.
 */
import type { LicenseWire } from '../portal/wireTypes';

/** What is known about one key. */
export type KeyRecord =
  /**
   * A request with this key is generating now: `owner` (one claim's random id) until `leaseUntil` (epoch ms).
   * Before it sends the generate call, the owner notes the assignment's licences here (`knownLicenseIds`), so that
   * if it dies, a retry after the lease reconciles (finds the licence the call made) instead of generating blindly.
   */
  | {
      state: 'pending';
      fingerprint: string;
      since: number;
      owner: string;
      leaseUntil: number;
      productAssignmentId?: number;
      knownLicenseIds?: number[];
    }
  /** The licence this key generated. */
  | { state: 'succeeded'; fingerprint: string; since: number; license: LicenseWire }
  /**
   * The generate call was sent but its answer was lost. `knownLicenseIds` are the assignment's licences before the
   * call, so that a retry can find the licence the lost call made (any new licence with the same input) and
   * return it instead of generating a second one.
   */
  | { state: 'unknown'; fingerprint: string; since: number; productAssignmentId: number; knownLicenseIds: number[] };

export interface KeyStore {
  /**
   * Atomically stores `record` under `key` when the key is free, and answers `undefined`; otherwise changes
   * nothing and answers the record that is there. This is the one operation that decides which request of many
   * with the same key makes the call.
   */
  claim(key: string, record: KeyRecord): Promise<KeyRecord | undefined>;
  /**
   * Replaces the record of a key that `owner` holds (pending, with that owner), and answers true; answers false
   * and changes nothing when the key is not, or no longer, its own (its lease ran out and another took it over).
   */
  settle(key: string, owner: string, record: KeyRecord): Promise<boolean>;
  /**
   * Replaces `expected` by `next` only if `expected` (same state, `since` and owner) is still the key's record:
   * how one of several retries takes over a key whose outcome was unknown, or whose owner's lease ran out.
   */
  replace(key: string, expected: KeyRecord, next: KeyRecord): Promise<boolean>;
  /** Frees a key that `owner` holds and whose call failed with nothing made, so that a retry may try again. */
  release(key: string, owner: string): Promise<void>;
  /**
   * Resolves once the key is no longer pending, or its lease has run out, or after `timeoutMs`, with what is there
   * then.
   */
  whenSettled(key: string, timeoutMs: number): Promise<KeyRecord | undefined>;
  /** How many keys are held now; undefined where the store cannot tell cheaply (Redis). */
  size(): number | undefined;
}

/**
 * The store could not be asked (Redis down or too slow). Idempotency fails closed: a keyed generate is refused
 * before any portal call rather than risk a second licence.
 */
export class IdempotencyStoreError extends Error {
  override readonly name = 'IdempotencyStoreError';
}

/** Whether two records are the same version of a key (what `replace` compares). */
function sameVersion(a: KeyRecord, b: KeyRecord): boolean {
  return a.state === b.state && a.since === b.since && ownerOf(a) === ownerOf(b);
}

function ownerOf(record: KeyRecord): string | undefined {
  return record.state === 'pending' ? record.owner : undefined;
}

export interface MemoryKeyStoreOptions {
  /** How long a key is kept; 24 hours by default. */
  ttlMs?: number;
  /**
   * Most keys held; past it, the caller holding the most keys loses its oldest settled key. Pending keys are never
   * dropped.
   */
  maxKeys?: number;
  /** Most keys one caller holds; past it, that caller's own oldest settled key is dropped. */
  maxKeysPerCaller?: number;
  now?: () => number;
}

/**
 * The in-memory store, bounded per caller: one caller generating without end makes room among its own keys, and
 * never drops another caller's settled or unknown-outcome keys (after which their retries could generate a second
 * licence). Each caller's keys are a Map in insertion order, and a key is re-inserted whenever it settles, so the
 * first settled entries found are the oldest: eviction is a walk from the front.
 */
export class MemoryKeyStore implements KeyStore {
  /** Each caller's keys, by the whole scoped key. */
  private readonly callers = new Map<string, Map<string, { record: KeyRecord; expiresAt: number }>>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly ttlMs: number;
  private readonly maxKeys: number;
  private readonly maxKeysPerCaller: number;
  private readonly now: () => number;
  private keys = 0;

  constructor(options: MemoryKeyStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.maxKeysPerCaller = options.maxKeysPerCaller ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  async claim(key: string, record: KeyRecord): Promise<KeyRecord | undefined> {
    const existing = this.live(key);
    if (existing) return existing;
    this.put(key, record);
    return undefined;
  }

  async replace(key: string, expected: KeyRecord, next: KeyRecord): Promise<boolean> {
    const current = this.live(key);
    if (!current || !sameVersion(current, expected)) return false;
    this.drop(key);
    this.put(key, next);
    return true;
  }

  async settle(key: string, owner: string, record: KeyRecord): Promise<boolean> {
    if (!this.heldBy(key, owner)) return false;
    this.drop(key);
    this.put(key, record);
    this.wake(key);
    return true;
  }

  async release(key: string, owner: string): Promise<void> {
    if (!this.heldBy(key, owner)) return;
    this.drop(key);
    this.wake(key);
  }

  whenSettled(key: string, timeoutMs: number): Promise<KeyRecord | undefined> {
    const current = this.live(key);
    if (current?.state !== 'pending') return Promise.resolve(current);
    // A lease that runs out before the timeout ends the wait then: its owner may be gone.
    timeoutMs = Math.max(0, Math.min(timeoutMs, current.leaseUntil - this.now()));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(this.live(key));
      };
      const timer = setTimeout(() => {
        const list = this.waiters.get(key);
        const index = list ? list.indexOf(done) : -1;
        if (list && index >= 0) list.splice(index, 1);
        resolve(this.live(key));
      }, timeoutMs);
      const list = this.waiters.get(key) ?? [];
      list.push(done);
      this.waiters.set(key, list);
    });
  }

  size(): number {
    return this.keys;
  }

  /** How many keys one caller holds (`caller` as in the scoped key, before its first `:`). */
  sizeOf(caller: string): number {
    return this.callers.get(caller)?.size ?? 0;
  }

  private heldBy(key: string, owner: string): boolean {
    const current = this.live(key);
    return current?.state === 'pending' && current.owner === owner;
  }

  private live(key: string): KeyRecord | undefined {
    const entry = this.callers.get(callerOf(key))?.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now() && entry.record.state !== 'pending') {
      this.drop(key);
      return undefined;
    }
    return entry.record;
  }

  private put(key: string, record: KeyRecord): void {
    const caller = callerOf(key);
    let entries = this.callers.get(caller);
    if (!entries) {
      entries = new Map();
      this.callers.set(caller, entries);
    }
    entries.set(key, { record, expiresAt: this.now() + this.ttlMs });
    this.keys += 1;
    if (entries.size > this.maxKeysPerCaller) this.evict(caller, () => entries.size > this.maxKeysPerCaller);
    if (this.keys > this.maxKeys) this.evict(this.largestCaller(), () => this.keys > this.maxKeys);
  }

  private drop(key: string): void {
    const caller = callerOf(key);
    const entries = this.callers.get(caller);
    if (!entries?.delete(key)) return;
    this.keys -= 1;
    if (entries.size === 0) this.callers.delete(caller);
  }

  /** The caller holding the most keys: the one that makes room when the store as a whole is full. */
  private largestCaller(): string {
    let largest = '';
    let most = -1;
    for (const [caller, entries] of this.callers) {
      if (entries.size > most) {
        largest = caller;
        most = entries.size;
      }
    }
    return largest;
  }

  /**
   * Walks a caller's keys from the oldest, dropping expired keys, and settled keys while `over` its bound (the
   * caller's or the store's); stops at the first entry that is neither, since every later one is younger.
   */
  private evict(caller: string, over: () => boolean): void {
    const entries = this.callers.get(caller);
    if (!entries) return;
    const now = this.now();
    for (const [key, entry] of entries) {
      if (!over() && entry.expiresAt > now) break;
      if (entry.record.state !== 'pending') this.drop(key);
    }
  }

  private wake(key: string): void {
    const list = this.waiters.get(key);
    if (!list) return;
    this.waiters.delete(key);
    for (const wake of list) wake();
  }
}

/** The caller part of a scoped key: what comes before its first `:`. */
function callerOf(key: string): string {
  const colon = key.indexOf(':');
  return colon < 0 ? '' : key.slice(0, colon);
}
