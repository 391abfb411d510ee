/**
 * Browser sessions: a portal user's name and password, accepted by the portal once, kept on this server under a
 * random id that the browser holds in an HttpOnly cookie (`src/http/sessionRoutes.ts`), so that no script of the
 * page ever holds the password.
 *
 * What is kept never gives the credentials, nor a usable id, to someone who reads the store: an entry is keyed by
 * the SHA-256 of its id, and its credentials are encrypted with AES-256-GCM under a key derived (HKDF-SHA256) from
 * the server's secret and the id itself, which is kept nowhere. A session ends after `idleTimeoutMs` without a
 * request and at the latest `maxAgeMs` after its sign-in.
 *
 *     const sessions = new Sessions({ store, secret, idleTimeoutMs: 1_800_000, maxAgeMs: 43_200_000 });
 *     const { id } = await sessions.start('demo', 'demo');  // id: the cookie's value
 *     (await sessions.resume(id))?.authorization;            // 'Basic ZGVtbzpkZW1v'
 *     await sessions.end(id);
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { SessionRecord, SessionStore } from './sessionStore';

/** A live session, as the requests that carry its id act with it. */
export interface Session {
  username: string;
  /** The `Authorization` its requests act with: `Basic base64(username:password)`. */
  authorization: string;
  /** When it ends unless a request comes first (epoch ms): the idle timeout from now, never past its maximum age. */
  expiresAt: number;
}

export interface SessionsOptions {
  store: SessionStore;
  /** What the encryption keys are derived from: `SESSION_SECRET`, the same on every replica, or random bytes. */
  secret: Buffer;
  idleTimeoutMs: number;
  maxAgeMs: number;
  now?: () => number;
}

/** 32 random bytes (256 bits), base64url, as the cookie carries them. */
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const ID_BYTES = 32;
/** The HKDF `info` of the credentials' keys: a key made for this use and no other. */
const KEY_INFO = 'portal-graphql session credentials v1';
/** AES-GCM's nonce and tag lengths. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class Sessions {
  readonly idleTimeoutMs: number;
  readonly maxAgeMs: number;
  private readonly store: SessionStore;
  private readonly secret: Buffer;
  private readonly now: () => number;

  constructor(options: SessionsOptions) {
    this.store = options.store;
    this.secret = options.secret;
    this.idleTimeoutMs = options.idleTimeoutMs;
    this.maxAgeMs = options.maxAgeMs;
    this.now = options.now ?? Date.now;
  }

  /**
   * Starts a session for credentials the portal has just accepted, under a new random id: an id the client already
   * holds is never taken (no session fixation). Throws `SessionStoreError` when the store cannot be asked.
   */
  async start(username: string, password: string): Promise<{ id: string; session: Session }> {
    const id = randomBytes(ID_BYTES).toString('base64url');
    const startedAt = this.now();
    const record: SessionRecord = {
      startedAt,
      endsAt: startedAt + this.maxAgeMs,
      sealed: this.seal(id, JSON.stringify({ username, password })),
    };
    await this.store.create(storeKeyOf(id), record);
    return { id, session: this.sessionOf(record, { username, password }, startedAt) };
  }

  /**
   * The live session `id` names, its idle timeout begun again; undefined when there is none (ended, expired, or an
   * id this server never gave). Throws `SessionStoreError` when the store cannot be asked.
   */
  async resume(id: string): Promise<Session | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const record = await this.store.touch(storeKeyOf(id));
    if (!record) return undefined;
    const credentials = this.open(id, record.sealed);
    // Sealed under another secret (SESSION_SECRET was changed): the session cannot be read, so it is over.
    if (!credentials) {
      await this.store.delete(storeKeyOf(id));
      return undefined;
    }
    return this.sessionOf(record, credentials, this.now());
  }

  /** Ends the session `id` names, if any. Throws `SessionStoreError` when the store cannot be asked. */
  async end(id: string): Promise<void> {
    if (ID_PATTERN.test(id)) await this.store.delete(storeKeyOf(id));
  }

  private sessionOf(record: SessionRecord, credentials: Credentials, now: number): Session {
    return {
      username: credentials.username,
      authorization: basicAuthorization(credentials.username, credentials.password),
      expiresAt: Math.min(now + this.idleTimeoutMs, record.endsAt),
    };
  }

  /** `iv ‖ tag ‖ ciphertext`, base64url. Each session's key seals one text, once. */
  private seal(id: string, text: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keyOf(id), iv);
    const ciphertext = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
  }

  /** The credentials sealed for `id`; undefined when they do not open (another secret, or altered). */
  private open(id: string, sealed: string): Credentials | undefined {
    const bytes = Buffer.from(sealed, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.keyOf(id), bytes.subarray(0, IV_BYTES));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const text = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
      return JSON.parse(text.toString('utf8')) as Credentials;
    } catch {
      return undefined;
    }
  }

  /** The key of one session's credentials: HKDF-SHA256 of the secret, salted with the session's id. */
  private keyOf(id: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.secret, Buffer.from(id, 'base64url'), KEY_INFO, 32));
  }
}

interface Credentials {
  username: string;
  password: string;
}

/** Where a session is kept: a hash of its id, from which the id (the cookie) cannot be had back. */
function storeKeyOf(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/** The `Authorization` header of Basic credentials, as a client would send it. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
