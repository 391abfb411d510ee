/**
 * Where browser sessions are kept: a small interface, the in-memory store of one process, and the error a shared
 * store (`redisSessionStore.ts`) throws when it cannot be asked. A store holds sealed records under keys that are
 * hashes of the sessions' ids (`sessions.ts`): it never sees an id, a user name or a password.
 */
import { LRUCache } from 'lru-cache';

/** One session as a store keeps it. */
export interface SessionRecord {
  /** When the session was started, and when it ends however busy it is (epoch ms). */
  startedAt: number;
  endsAt: number;
  /** The credentials, encrypted (AES-256-GCM) under a key the store does not have. */
  sealed: string;
}

export interface SessionStore {
  /** Keeps a new session: for at most the store's idle timeout without a `touch`, and never past `record.endsAt`. */
  create(key: string, record: SessionRecord): Promise<void>;
  /**
   * The session kept under `key`, its idle timeout begun again; undefined when there is none (never made, ended,
   * idle too long, past its end).
   */
  touch(key: string): Promise<SessionRecord | undefined>;
  /** Forgets the session under `key`, if any. */
  delete(key: string): Promise<void>;
}

/**
 * The store could not be asked (Redis down or too slow). Sessions fail closed: a session is a credential, and a
 * request that cannot show its session is refused, never let through with no credentials or stale ones.
 */
export class SessionStoreError extends Error {
  override readonly name = 'SessionStoreError';
}

export interface MemorySessionStoreOptions {
  idleTimeoutMs: number;
  /** Most bytes of records held (keys and sealed credentials); past it, the sessions least recently used go first. */
  maxBytes?: number;
  now?: () => number;
}

/** 32 MiB: over 100,000 sessions of usual credentials (about 300 bytes each), a few thousand of the longest. */
const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
/** What an entry weighs beside its key and sealed credentials: the objects that hold them. */
const ENTRY_OVERHEAD_BYTES = 128;

/**
 * One process's sessions, bounded by what they hold: when full, the session least recently used is dropped first
 * (its browser must sign in again). They end with the process.
 */
export class MemorySessionStore implements SessionStore {
  private readonly entries: LRUCache<string, { record: SessionRecord; idleEndsAt: number }>;
  private readonly idleTimeoutMs: number;
  private readonly now: () => number;

  constructor(options: MemorySessionStoreOptions) {
    this.idleTimeoutMs = options.idleTimeoutMs;
    this.now = options.now ?? Date.now;
    this.entries = new LRUCache({
      maxSize: options.maxBytes ?? DEFAULT_MAX_BYTES,
      sizeCalculation: (entry, key) => key.length + entry.record.sealed.length + ENTRY_OVERHEAD_BYTES,
    });
  }

  async create(key: string, record: SessionRecord): Promise<void> {
    this.entries.set(key, { record, idleEndsAt: this.now() + this.idleTimeoutMs });
  }

  async touch(key: string): Promise<SessionRecord | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const now = this.now();
    if (entry.idleEndsAt <= now || entry.record.endsAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    entry.idleEndsAt = now + this.idleTimeoutMs;
    return entry.record;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }
}
