/**
 * The Redis connection that replicas share state through (`REDIS_URL`): idempotency keys, persisted queries, the
 * portal's list cache, browser sessions and the per-client limits' counters.
 *
 * Start-up never waits for it, and no command waits for it either: commands fail at once while it is down (no
 * offline queue) and after `commandTimeoutMs` when it hangs, so that callers decide: idempotency fails closed,
 * caches fail open. An outage and its end are logged once each, not per request. Every key carries `KEY_PREFIX`.
 */
import { Redis } from 'ioredis';
import type { OutageLog } from './outageLog';

/** The prefix of every key this server writes: one Redis can serve other applications beside it. */
const KEY_PREFIX = 'portal-graphql:';

export interface SharedRedisOptions {
  url: string;
  /** Most time one command may take before it fails. */
  commandTimeoutMs?: number;
  log: OutageLog;
}

/** The name a channel of this server has in Redis: channels are not keys, and ioredis does not prefix them. */
export function channelName(channel: string): string {
  return `${KEY_PREFIX}${channel}`;
}

/** One connection, its health, and the counts `/metrics` shows. */
export class SharedRedis {
  readonly client: Redis;
  private up = false;
  private everUp = false;
  /** Resolves at the first connection, or after the command timeout: whichever comes first. */
  private readonly firstConnection: Promise<void>;
  private downSince: number | undefined = Date.now();
  private reportedDown = false;
  /** Commands sent, those that failed, and the seconds they took together (for `/metrics`). */
  readonly counts = { commands: 0, errors: 0, seconds: 0 };
  /** The connections that listen to channels (see `listen`). */
  private readonly listeners: Redis[] = [];
  private closed = false;

  constructor(private readonly options: SharedRedisOptions) {
    this.client = new Redis(options.url, {
      keyPrefix: KEY_PREFIX,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      connectTimeout: 2000,
      // Reconnect for ever, every 100 ms to 2 s: Redis coming back is noticed without a restart.
      retryStrategy: (attempt) => Math.min(2000, 100 * attempt),
    });
    this.firstConnection = new Promise((resolve) => {
      const timer = setTimeout(resolve, options.commandTimeoutMs ?? 1000);
      timer.unref();
      this.client.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.client.on('ready', () => this.markUp());
    this.client.on('error', (error: Error) => this.markDown(error));
    this.client.on('end', () => this.markDown(new Error('connection closed')));
    this.client.on('close', () => this.markDown(new Error('connection closed')));
  }

  /** Whether the connection is up now. */
  isUp(): boolean {
    return this.up;
  }

  /**
   * Runs one command, counting it and its failure. Right after start-up, before the first connection is made, it
   * waits for that connection for at most the command timeout, so that the first requests of a new replica are not
   * refused for a connection still being opened; once connected, a command during an outage fails at once.
   */
  async run<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    this.counts.commands += 1;
    const started = performance.now();
    if (!this.everUp) await this.firstConnection;
    try {
      return await command(this.client);
    } catch (error) {
      this.counts.errors += 1;
      throw error;
    } finally {
      this.counts.seconds += (performance.now() - started) / 1000;
    }
  }

  /**
   * Listens to a channel (`channelName`) on a connection of its own, since a subscribed connection sends no other
   * command: `onMessage` for each message; `onListening(true)` once subscribed, again after every reconnection, and
   * `onListening(false)` as soon as the connection drops, since what is published meanwhile is lost. Never throws.
   */
  listen(channel: string, onMessage: (message: string) => void, onListening: (listening: boolean) => void): void {
    const listener = this.client.duplicate();
    this.listeners.push(listener);
    const name = channelName(channel);
    listener.on('message', (from: string, message: string) => {
      if (from === name) onMessage(message);
    });
    listener.on('ready', () => {
      listener.subscribe(name).then(
        () => onListening(listener.status === 'ready'),
        () => onListening(false),
      );
    });
    const dropped = () => {
      if (!this.closed) onListening(false); // closing is not an outage
    };
    listener.on('error', dropped);
    listener.on('close', dropped);
    listener.on('end', dropped);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.up = false;
    this.reportedDown = true; // closing is not an outage
    this.client.disconnect();
    for (const listener of this.listeners) listener.disconnect();
  }

  private markUp(): void {
    if (this.up) return;
    this.up = true;
    this.everUp = true;
    if (this.reportedDown) {
      this.options.log.info({ downForMs: Date.now() - (this.downSince ?? Date.now()) }, 'redis is back');
    }
    this.downSince = undefined;
    this.reportedDown = false;
  }

  private markDown(error: Error): void {
    if (this.up) {
      this.up = false;
      this.downSince = Date.now();
    }
    if (this.reportedDown) return;
    this.reportedDown = true;
    this.options.log.warn(
      { err: { message: error.message } },
      'redis is unavailable: keyed generateLicense is refused, caches miss, limits let requests through',
    );
  }
}
