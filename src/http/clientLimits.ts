/**
 * Limits per client address, checked before a request reaches GraphQL or the portal:
 * - failed logins: the portal's 401s to requests that carried credentials are counted per address over a
 *   sliding window; past the limit, every request from that address that carries credentials is refused at once
 *   (the right password too: an attacker may be trying many users), until the window has let the oldest go. A
 *   failure is known only once the portal answers, so credentials not yet accepted by the portal count against the
 *   limit while their requests are in flight: a burst of two hundred passwords at once gets no more of them to the
 *   portal than the limit allows (credentials the portal accepted lately are not held back);
 * - a request rate per address (a fixed window of a minute), announced in the `RateLimit-Policy` and `RateLimit`
 *   fields of the IETF draft (draft-ietf-httpapi-ratelimit-headers).
 * Both answer HTTP 429 with `Retry-After`: a GraphQL error with code `RATE_LIMITED` at `/graphql`, a short text at
 * the file route. The address is Fastify's `request.ip`, which honours `TRUST_PROXY`; an IPv6 client is counted by
 * its /64 network, since one host is given a whole /64 and could otherwise take a new address per request.
 *
 * Limits fail open: when their counters cannot be read (Redis down), the request goes through, and the miss is
 * counted (`/metrics`); the outage itself is logged once by the shared store.
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LimitCounters, SlidingCount } from './limitCounters';
import { authorizationOf, type CallerKeys } from './callerKeys';
import { ErrorCode } from '../graphql/errors';
import { credentialsOf } from '../portal/credentials';

interface ClientLimitSettings {
  /** Failed logins per address in the window before it is refused; 0: no limit. */
  authFailureLimit: number;
  authFailureWindowMs: number;
  /** Requests per address per minute; 0: no limit. */
  requestsPerMinute: number;
}

export interface ClientLimitsOptions extends ClientLimitSettings {
  counters: LimitCounters;
  /** The key of the HMAC that hides user names in the log. */
  secret: Buffer;
  /** Whose credentials a request carries (the same key for the same `Authorization`). */
  callerKeys: CallerKeys;
}

/** What `/metrics` shows of the limits. */
export interface ClientLimitCounts {
  authFailures: number;
  refused: { authFailures: number; requestRate: number };
  /** Checks that let a request through because the counters could not be read. */
  failedOpen: number;
}

/** Why a request was refused. */
type LimitReason = 'AUTH_FAILURES' | 'REQUEST_RATE';

const RATE_WINDOW_MS = 60_000;
/** The policy's name in the RateLimit fields. */
const RATE_POLICY = 'per-ip';

/** Most credentials remembered as accepted by the portal; past it, the least recently seen are forgotten. */
const MAX_ACCEPTED_CREDENTIALS = 10_000;

export class ClientLimits {
  readonly counts: ClientLimitCounts = { authFailures: 0, refused: { authFailures: 0, requestRate: 0 }, failedOpen: 0 };
  /** Requests whose failed login was counted already: one per request, however many of its calls got a 401. */
  private readonly counted = new WeakSet<FastifyRequest>();
  /** Credentials (their HMAC) the portal accepted lately, and until when that counts. */
  private readonly accepted = new Map<string, number>();
  /**
   * Per address, the credentials in flight that the portal has not accepted yet, with their requests' count: each
   * may be a failed login. In this process only (a reservation lasts one request).
   */
  private readonly unconfirmed = new Map<string, Map<string, number>>();
  /** The reservation each request holds, released with its response. */
  private readonly reservations = new WeakMap<FastifyRequest, { address: string; credential: string }>();

  constructor(private readonly options: ClientLimitsOptions) {}

  /**
   * Checks every request to the routes at `paths` (as Fastify names them, e.g. `/licenses/:licenseId/file`) before
   * its body is read; `plainText` paths are answered in text, the others as GraphQL.
   */
  register(app: FastifyInstance, paths: { graphql: string[]; plainText: string[] }): void {
    const guarded = new Set([...paths.graphql, ...paths.plainText]);
    const textual = new Set(paths.plainText);
    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url;
      if (route === undefined || !guarded.has(route)) return;
      const refusal = (await this.rateRefusal(request, reply)) ?? (await this.authFailureRefusal(request));
      if (refusal) return refuse(reply, refusal, textual.has(route));
      return undefined;
    });
    const release = async (request: FastifyRequest) => this.release(request);
    app.addHook('onResponse', release);
    app.addHook('onRequestAbort', release);
  }

  /**
   * Tells that the portal accepted this request's credentials (it answered something other than 401 or a failure).
   * Only a request that reserved them has anything to tell: the others' were accepted lately already.
   */
  credentialsAccepted(request: FastifyRequest): void {
    const credential = this.reservations.get(request)?.credential;
    if (credential === undefined) return;
    this.accepted.delete(credential);
    this.accepted.set(credential, Date.now() + this.options.authFailureWindowMs);
    if (this.accepted.size > MAX_ACCEPTED_CREDENTIALS) this.accepted.delete(this.accepted.keys().next().value!);
  }

  /**
   * Tells of a portal 401 to this request. Counted once per request, and only when it carried credentials (a
   * request without them is not guessing a password).
   */
  async authFailed(request: FastifyRequest): Promise<void> {
    const authorization = authorizationOf(request);
    const { authFailureLimit } = this.options;
    if (authFailureLimit === 0 || !authorization || this.counted.has(request)) return;
    this.counted.add(request);
    this.counts.authFailures += 1;
    const failures = (await this.failedLogins(request, true))?.count;
    const details = { clientIp: request.ip, userHash: this.userHash(authorization), failures: failures ?? null };
    if (failures === authFailureLimit)
      request.log.warn(details, 'failed logins: this address is refused until the window passes');
    else request.log.warn(details, 'failed login: the portal refused the credentials');
  }

  private async rateRefusal(request: FastifyRequest, reply: FastifyReply): Promise<Refusal | undefined> {
    const limit = this.options.requestsPerMinute;
    if (limit === 0) return undefined;
    let window;
    try {
      window = await this.options.counters.countInWindow(`rate:${clientKeyOf(request.ip)}`, RATE_WINDOW_MS);
    } catch {
      this.counts.failedOpen += 1;
      return undefined;
    }
    const resetS = Math.max(0, Math.ceil((window.resetsAt - Date.now()) / 1000));
    reply.header('ratelimit-policy', `"${RATE_POLICY}";q=${limit};w=${RATE_WINDOW_MS / 1000}`);
    reply.header('ratelimit', `"${RATE_POLICY}";r=${Math.max(0, limit - window.count)};t=${resetS}`);
    if (window.count <= limit) return undefined;
    this.counts.refused.requestRate += 1;
    return {
      reason: 'REQUEST_RATE',
      retryAfterS: Math.max(1, resetS),
      message: `Too many requests from this address: at most ${limit} a minute.`,
    };
  }

  private async authFailureRefusal(request: FastifyRequest): Promise<Refusal | undefined> {
    const { authFailureLimit, authFailureWindowMs } = this.options;
    const authorization = authorizationOf(request);
    if (authFailureLimit === 0 || !authorization) return undefined;
    const failures = await this.failedLogins(request, false);
    if (!failures) return undefined;
    const message = `Too many failed logins from this address: at most ${authFailureLimit} in ${Math.round(authFailureWindowMs / 1000)} seconds.`;
    if (failures.count >= authFailureLimit) {
      this.counts.refused.authFailures += 1;
      request.log.warn({ clientIp: request.ip }, 'refused: too many failed logins from this address');
      return {
        reason: 'AUTH_FAILURES',
        retryAfterS: Math.max(1, Math.ceil((failures.oldestLeavesAt - Date.now()) / 1000)),
        message,
      };
    }
    // Credentials the portal has not accepted lately may be failures: no more of them in flight than the limit leaves.
    const credential = this.options.callerKeys.of(request);
    if ((this.accepted.get(credential) ?? 0) > Date.now()) return undefined;
    const address = clientKeyOf(request.ip);
    const inFlight = this.unconfirmed.get(address) ?? new Map<string, number>();
    const distinct = inFlight.size + (inFlight.has(credential) ? 0 : 1);
    if (failures.count + distinct > authFailureLimit) {
      this.counts.refused.authFailures += 1;
      request.log.warn({ clientIp: request.ip }, 'refused: too many logins not yet confirmed from this address');
      return { reason: 'AUTH_FAILURES', retryAfterS: 1, message };
    }
    inFlight.set(credential, (inFlight.get(credential) ?? 0) + 1);
    this.unconfirmed.set(address, inFlight);
    this.reservations.set(request, { address, credential });
    return undefined;
  }

  /**
   * The failed logins of the request's address in the window, after noting one more when `note`; undefined when
   * the counters cannot be read (the check then lets the request through, counted).
   */
  private async failedLogins(request: FastifyRequest, note: boolean): Promise<SlidingCount | undefined> {
    const { authFailureLimit, authFailureWindowMs } = this.options;
    try {
      return await this.options.counters.slide(
        `auth:${clientKeyOf(request.ip)}`,
        authFailureWindowMs,
        authFailureLimit,
        note,
      );
    } catch {
      this.counts.failedOpen += 1;
      return undefined;
    }
  }

  /** Ends a request's reservation of an unconfirmed credential. */
  private release(request: FastifyRequest): void {
    const reservation = this.reservations.get(request);
    if (!reservation) return;
    this.reservations.delete(request);
    const inFlight = this.unconfirmed.get(reservation.address);
    const left = (inFlight?.get(reservation.credential) ?? 1) - 1;
    if (left > 0) inFlight!.set(reservation.credential, left);
    else inFlight?.delete(reservation.credential);
    if (inFlight?.size === 0) this.unconfirmed.delete(reservation.address);
  }

  /** A short HMAC of the user name of Basic credentials: enough to tell users apart in the log, never the name. */
  private userHash(authorization: string): string | null {
    const credentials = credentialsOf(authorization);
    if (credentials.kind !== 'basic') return null;
    return createHmac('sha256', this.options.secret).update(credentials.user).digest('base64url').slice(0, 12);
  }
}

interface Refusal {
  reason: LimitReason;
  retryAfterS: number;
  message: string;
}

function refuse(reply: FastifyReply, refusal: Refusal, plainText: boolean): FastifyReply {
  const message = `${refusal.message} Try again in ${refusal.retryAfterS} seconds.`;
  reply.code(429).header('retry-after', String(refusal.retryAfterS));
  if (plainText) return reply.header('content-type', 'text/plain; charset=utf-8').send(`${message}\n`);
  return reply.header('content-type', 'application/json; charset=utf-8').send(
    JSON.stringify({
      errors: [
        {
          message,
          extensions: { code: ErrorCode.RATE_LIMITED, reason: refusal.reason, retryAfterSeconds: refusal.retryAfterS },
        },
      ],
    }),
  );
}

/**
 * Whose requests count together: an IPv4 address (also one mapped into IPv6), or an IPv6 address's /64 network.
 *
 *     clientKeyOf('203.0.113.7');           // '203.0.113.7'
 *     clientKeyOf('2001:db8:1:2:3:4:5:6');  // '2001:db8:1:2::/64'
 */
export function clientKeyOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('%', 1)[0]!.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
