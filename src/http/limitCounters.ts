/**
 * The counters behind the per-client limits (`clientLimits.ts`): in this process, or in Redis shared by the
 * replicas, so that a client spreading its requests over them is counted once. Two shapes of count, and a mark:
 * - a sliding log, for failed logins: the times of the latest events in a window, and when the oldest leaves it;
 * - a fixed window, for the request rate: how many requests since the window opened, and when it closes;
 * - a mark that lasts a while, for credentials the portal accepted lately.
 *
 * Limits fail open: a store error is thrown to the caller, which lets the request through and counts it.
 */
import { LRUCache } from 'lru-cache';
import { randomUUID } from 'node:crypto';
import type { SharedRedis } from '../shared/redis';

/** Events in a sliding window: how many (at most the number kept), and when the oldest of them leaves it. */
export interface SlidingCount {
  count: number;
  /** Epoch ms at which the oldest event counted leaves the window; 0 when there is none. */
  oldestLeavesAt: number;
}

/** Requests in a fixed window: how many so far, and when the window closes (epoch ms). */
export interface WindowCount {
  count: number;
  resetsAt: number;
}

export interface LimitCounters {
  /**
   * Notes one event of `key` now (when `note`), forgets those older than `windowMs`, keeps at most the newest
   * `keep`, and answers what is left.
   */
  slide(key: string, windowMs: number, keep: number, note: boolean): Promise<SlidingCount>;
  /** Counts one request of `key` in its window of `windowMs`, opened by its first request. */
  countInWindow(key: string, windowMs: number): Promise<WindowCount>;
  /** Marks `key` for `ttlMs` from now, again when it is marked already. */
  mark(key: string, ttlMs: number): Promise<void>;
  /** How much longer `key` stays marked, in ms; 0 when it is not marked. */
  markedFor(key: string): Promise<number>;
  /** Takes `key`'s mark away. */
  unmark(key: string): Promise<void>;
}

/** Most keys a process keeps per kind of count; past it, the least recently used are dropped. */
const MAX_MEMORY_KEYS = 100_000;

/** One process's counters, bounded in keys. */
export class MemoryLimitCounters implements LimitCounters {
  private readonly logs: LRUCache<string, number[]>;
  private readonly windows: LRUCache<string, WindowCount>;
  /** Marked keys, and until when (epoch ms). */
  private readonly marks: LRUCache<string, number>;

  constructor(
    private readonly now: () => number = Date.now,
    maxKeys = MAX_MEMORY_KEYS,
  ) {
    this.logs = new LRUCache({ max: maxKeys });
    this.windows = new LRUCache({ max: maxKeys });
    this.marks = new LRUCache({ max: maxKeys });
  }

  async slide(key: string, windowMs: number, keep: number, note: boolean): Promise<SlidingCount> {
    const now = this.now();
    const times = (this.logs.get(key) ?? []).filter((time) => time > now - windowMs);
    if (note) times.push(now);
    if (times.length > keep) times.splice(0, times.length - keep);
    if (times.length > 0) this.logs.set(key, times);
    else this.logs.delete(key);
    return { count: times.length, oldestLeavesAt: times.length > 0 ? times[0]! + windowMs : 0 };
  }

  async countInWindow(key: string, windowMs: number): Promise<WindowCount> {
    const now = this.now();
    const current = this.windows.get(key);
    const window = current && current.resetsAt > now ? current : { count: 0, resetsAt: now + windowMs };
    window.count += 1;
    this.windows.set(key, window);
    return { ...window };
  }

  async mark(key: string, ttlMs: number): Promise<void> {
    this.marks.set(key, this.now() + ttlMs);
  }

  async markedFor(key: string): Promise<number> {
    const left = (this.marks.get(key) ?? 0) - this.now();
    if (left > 0) return left;
    this.marks.delete(key);
    return 0;
  }

  async unmark(key: string): Promise<void> {
    this.marks.delete(key);
  }
}

/** The sliding log as a sorted set of event times, trimmed and read in one step. */
const SLIDE_SCRIPT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(keep + 1))
  redis.call('PEXPIRE', KEYS[1], window)
end
local count = redis.call('ZCARD', KEYS[1])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {count, oldest[2] or '0'}
`;

/** A counter whose expiry is set by its first request: the window opens then. */
const WINDOW_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
`;

/** Counters in Redis, shared by the replicas. Times are each replica's clock, which NTP keeps within the window. */
export class RedisLimitCounters implements LimitCounters {
  constructor(
    private readonly redis: SharedRedis,
    private readonly now: () => number = Date.now,
  ) {}

  async slide(key: string, windowMs: number, keep: number, note: boolean): Promise<SlidingCount> {
    const now = this.now();
    const [count, oldest] = (await this.redis.run((client) =>
      client.eval(SLIDE_SCRIPT, 1, `limit:log:${key}`, now, windowMs, keep, note ? `${now}:${randomUUID()}` : ''),
    )) as [number, string];
    return { count, oldestLeavesAt: count > 0 ? Number(oldest) + windowMs : 0 };
  }

  async countInWindow(key: string, windowMs: number): Promise<WindowCount> {
    const [count, ttl] = (await this.redis.run((client) =>
      client.eval(WINDOW_SCRIPT, 1, `limit:window:${key}`, windowMs),
    )) as [number, number];
    return { count, resetsAt: this.now() + (ttl > 0 ? ttl : windowMs) };
  }

  async mark(key: string, ttlMs: number): Promise<void> {
    await this.redis.run((client) => client.set(`limit:mark:${key}`, '1', 'PX', ttlMs));
  }

  async markedFor(key: string): Promise<number> {
    const ttl = await this.redis.run((client) => client.pttl(`limit:mark:${key}`));
    return ttl > 0 ? ttl : 0;
  }

  async unmark(key: string): Promise<void> {
    await this.redis.run((client) => client.del(`limit:mark:${key}`));
  }
}
