/**
 * Browser sessions in Redis, shared by every replica: a session started on one is good on all. Each session is one
 * key whose TTL is its idle timeout, begun again at each lookup and never reaching past the session's end; a lookup
 * and its new TTL are one Lua script, so that a session ended meanwhile is never brought back.
 *
 * Any failure to reach Redis is a `SessionStoreError`: the caller refuses the request (fails closed).
 */
import type { Redis } from 'ioredis';
import { SessionStoreError, type SessionRecord, type SessionStore } from './sessionStore';
import type { SharedRedis } from '../shared/redis';

/** ARGV: now (epoch ms), the idle timeout (ms). Answers the record, or nil when there is none or it has ended. */
const TOUCH = `
local text = redis.call('GET', KEYS[1])
if not text then return false end
local left = cjson.decode(text).endsAt - tonumber(ARGV[1])
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[2]), left))
return text`;

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: SharedRedis,
    private readonly idleTimeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async create(key: string, record: SessionRecord): Promise<void> {
    const ttlMs = Math.min(this.idleTimeoutMs, record.endsAt - this.now());
    if (ttlMs <= 0) return;
    await this.call((client) => client.set(this.keyOf(key), JSON.stringify(record), 'PX', ttlMs));
  }

  async touch(key: string): Promise<SessionRecord | undefined> {
    const text = await this.call((client) => client.eval(TOUCH, 1, this.keyOf(key), this.now(), this.idleTimeoutMs));
    return typeof text === 'string' ? (JSON.parse(text) as SessionRecord) : undefined;
  }

  async delete(key: string): Promise<void> {
    await this.call((client) => client.del(this.keyOf(key)));
  }

  private keyOf(key: string): string {
    return `session:${key}`;
  }

  private async call<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    try {
      return await this.redis.run(command);
    } catch (error) {
      throw new SessionStoreError(
        `The session store could not be reached: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}
