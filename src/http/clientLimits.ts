/**
 * Limits per client, checked before a request reaches GraphQL or the portal: failed logins (the portal's 401s to
 * requests that carried credentials) over a sliding window per address and user name, per address and per user
 * name, and a request rate per address announced in the IETF draft's `RateLimit-Policy` and `RateLimit` fields.
 * The README's "Reliability and security" states the rules in full.
 *
 * Past a login limit, credentials the portal has not accepted within the window are refused; those it accepted are
 * never held back. Credentials not yet answered count against each limit while in flight, so a burst gets no more
 * guesses to the portal than the limits allow. Both limits answer 429 with `Retry-After`. An address is Fastify's
 * `request.ip` (an IPv6 client by its /64); a user name is counted by an HMAC of it, case folded.
 *
 * Limits fail open: when their counters cannot be read (Redis down), the request goes through, and the miss is
 * counted (`/metrics`); the outage itself is logged once by the shared store.
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LimitCounters, SlidingCount } from './limitCounters';
import { authorizationOf, type CallerKeys } from './callerKeys';
import { ErrorCode } from '../graphql/errors';
import { credentialsOf } from '../portal/credentials';
import type { ClientLimitSettings } from '../config';

export interface ClientLimitsOptions extends ClientLimitSettings {
  counters: LimitCounters;
  /** The key of the HMAC that stands for user names in the counters and the log. */
  secret: Buffer;
  /** Whose credentials a request carries (the same key for the same credentials). */
  callerKeys: CallerKeys;
  /** The clock the counters keep (epoch ms), from which `Retry-After` and `RateLimit` are told; `Date.now` unless given. */
  now?: () => number;
}

/** Why a request was refused: a failed-login limit (per address and user name, per address, per user name). */
type AuthFailureReason = 'AUTH_FAILURES' | 'AUTH_FAILURES_ADDRESS' | 'AUTH_FAILURES_USER';
/** Why a request was refused, as `extensions.reason` says it. */
type LimitReason = AuthFailureReason | 'REQUEST_RATE';

/** What `/metrics` shows of the limits. */
export interface ClientLimitCounts {
  authFailures: number;
  /** Requests refused, by the limit that refused them. */
  refused: Record<LimitReason, number>;
  /** Checks that let a request through because the counters could not be read. */
  failedOpen: number;
}

/** One failed-login limit as it applies to a request: its counter's key, and its bound. */
interface LoginScope {
  reason: AuthFailureReason;
  key: string;
  limit: number;
}

/** Whose failures each failed-login limit counts, as refusals and the log say it. */
const COUNTED: Record<AuthFailureReason, string> = {
  AUTH_FAILURES: 'for this user name from this address',
  AUTH_FAILURES_ADDRESS: 'from this address',
  AUTH_FAILURES_USER: 'for this user name',
};

const RATE_WINDOW_MS = 60_000;
/** The policy's name in the RateLimit fields. */
const RATE_POLICY = 'per-ip';

export class ClientLimits {
  readonly counts: ClientLimitCounts = {
    authFailures: 0,
    refused: { AUTH_FAILURES: 0, AUTH_FAILURES_ADDRESS: 0, AUTH_FAILURES_USER: 0, REQUEST_RATE: 0 },
    failedOpen: 0,
  };
  /** Requests whose failed login was counted already: one per request, however many of its calls got a 401. */
  private readonly counted = new WeakSet<FastifyRequest>();
  /** Requests whose credentials are to be marked accepted if the portal accepts them, with those credentials. */
  private readonly proving = new WeakMap<FastifyRequest, string>();
  /**
   * Per failed-login counter, the credentials in flight that the portal has not accepted yet, with their requests'
   * count: each may be a failed login. In this process only (a reservation lasts one request).
   */
  private readonly unconfirmed = new Map<string, Map<string, number>>();
  /** The reservation each request holds, released with its response. */
  private readonly reservations = new WeakMap<FastifyRequest, { keys: string[]; credential: string }>();

  private readonly now: () => number;

  constructor(private readonly options: ClientLimitsOptions) {
    this.now = options.now ?? Date.now;
  }

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
   * Tells that the portal accepted this request's credentials (it answered something other than 401 or a failure):
   * they are let through for the window from now on, by every replica sharing the counters. Only a request that had
   * them to prove, or whose acceptance is more than half a window old, marks them; once per request.
   */
  credentialsAccepted(request: FastifyRequest): void {
    const credential = this.proving.get(request);
    if (credential === undefined) return;
    this.proving.delete(request);
    // A mark that cannot be written leaves the credentials to be proven again; the store's errors are counted.
    this.options.counters.mark(acceptedKey(credential), this.options.authFailureWindowMs).catch(() => undefined);
  }

  /**
   * Tells of a portal 401 to this request. Counted once per request, and only when it carried credentials (a
   * request without them is not guessing a password); credentials accepted before are no longer.
   */
  async authFailed(request: FastifyRequest): Promise<void> {
    const authorization = authorizationOf(request);
    if (!authorization || this.counted.has(request)) return;
    const scopes = this.scopesOf(request, authorization);
    if (scopes.length === 0) return;
    this.counted.add(request);
    this.proving.delete(request);
    this.counts.authFailures += 1;
    const { counters, authFailureWindowMs } = this.options;
    let failures: SlidingCount[] | undefined;
    try {
      const credential = this.options.callerKeys.of(request);
      [, ...failures] = await Promise.all([
        counters.unmark(acceptedKey(credential)),
        ...scopes.map((scope) => counters.slide(scope.key, authFailureWindowMs, scope.limit, true)),
      ]);
    } catch {
      this.counts.failedOpen += 1;
    }
    const details = {
      clientIp: addressOf(request),
      userHash: this.userKeyOf(authorization).slice(0, 12),
      failures: Object.fromEntries(scopes.map((scope, i) => [scope.reason, failures?.[i]?.count ?? null])),
    };
    const reached = scopes.filter((scope, i) => failures?.[i]?.count === scope.limit).map((scope) => scope.reason);
    if (reached.length > 0)
      request.log.warn(
        { ...details, reached },
        'failed logins: a limit is reached, and the credentials it covers are refused until the window passes unless the portal accepted them',
      );
    else request.log.warn(details, 'failed login: the portal refused the credentials');
  }

  private async rateRefusal(request: FastifyRequest, reply: FastifyReply): Promise<Refusal | undefined> {
    const limit = this.options.requestsPerMinute;
    if (limit === 0) return undefined;
    let window;
    try {
      window = await this.options.counters.countInWindow(`rate:${clientKeyOf(addressOf(request))}`, RATE_WINDOW_MS);
    } catch {
      this.counts.failedOpen += 1;
      return undefined;
    }
    const resetS = Math.max(0, Math.ceil((window.resetsAt - this.now()) / 1000));
    reply.header('ratelimit-policy', `"${RATE_POLICY}";q=${limit};w=${RATE_WINDOW_MS / 1000}`);
    reply.header('ratelimit', `"${RATE_POLICY}";r=${Math.max(0, limit - window.count)};t=${resetS}`);
    if (window.count <= limit) return undefined;
    this.counts.refused.REQUEST_RATE += 1;
    return {
      reason: 'REQUEST_RATE',
      retryAfterS: Math.max(1, resetS),
      message: `Too many requests from this address: at most ${limit} a minute.`,
    };
  }

  private async authFailureRefusal(request: FastifyRequest): Promise<Refusal | undefined> {
    const authorization = authorizationOf(request);
    if (!authorization) return undefined;
    const scopes = this.scopesOf(request, authorization);
    if (scopes.length === 0) return undefined;
    const { counters, authFailureWindowMs } = this.options;
    const credential = this.options.callerKeys.of(request);
    let failures: SlidingCount[];
    try {
      const acceptedForMs = await counters.markedFor(acceptedKey(credential));
      if (acceptedForMs > 0) {
        // Accepted credentials are never held back. Their mark is renewed by a success once it is half spent, so
        // that a customer who keeps working stays accepted while someone keeps their user name refused.
        if (acceptedForMs < authFailureWindowMs / 2) this.proving.set(request, credential);
        return undefined;
      }
      failures = await Promise.all(
        scopes.map((scope) => counters.slide(scope.key, authFailureWindowMs, scope.limit, false)),
      );
    } catch {
      this.counts.failedOpen += 1;
      return undefined;
    }
    const reached = scopes.flatMap((scope, i) =>
      failures[i]!.count >= scope.limit ? [{ scope, leavesAt: failures[i]!.oldestLeavesAt }] : [],
    );
    if (reached.length > 0) {
      // The narrowest limit reached names the refusal; the wait lasts until every limit reached has let one go.
      const retryAfterS = Math.max(1, Math.ceil((Math.max(...reached.map((r) => r.leavesAt)) - this.now()) / 1000));
      return this.refusal(request, authorization, reached[0]!.scope, retryAfterS, 'too many failed logins');
    }
    // Credentials the portal has not accepted lately may be failures: no more of them in flight than each limit leaves.
    for (const [i, scope] of scopes.entries()) {
      const inFlight = this.unconfirmed.get(scope.key);
      const distinct = (inFlight?.size ?? 0) + (inFlight?.has(credential) ? 0 : 1);
      if (failures[i]!.count + distinct > scope.limit)
        return this.refusal(request, authorization, scope, 1, 'too many logins not yet confirmed');
    }
    for (const scope of scopes) {
      const inFlight = this.unconfirmed.get(scope.key) ?? new Map<string, number>();
      inFlight.set(credential, (inFlight.get(credential) ?? 0) + 1);
      this.unconfirmed.set(scope.key, inFlight);
    }
    this.reservations.set(request, { keys: scopes.map((scope) => scope.key), credential });
    this.proving.set(request, credential);
    return undefined;
  }

  /** Counts and logs a refusal by a failed-login limit. */
  private refusal(
    request: FastifyRequest,
    authorization: string,
    scope: LoginScope,
    retryAfterS: number,
    why: string,
  ): Refusal {
    this.counts.refused[scope.reason] += 1;
    request.log.warn(
      { clientIp: addressOf(request), userHash: this.userKeyOf(authorization).slice(0, 12), limit: scope.reason },
      `refused: ${why} ${COUNTED[scope.reason]}`,
    );
    const windowS = Math.round(this.options.authFailureWindowMs / 1000);
    return {
      reason: scope.reason,
      retryAfterS,
      message: `Too many failed logins ${COUNTED[scope.reason]}: at most ${scope.limit} in ${windowS} seconds.`,
    };
  }

  /** The failed-login limits that are on, with the keys of this request's counters. */
  private scopesOf(request: FastifyRequest, authorization: string): LoginScope[] {
    const address = clientKeyOf(addressOf(request));
    const user = this.userKeyOf(authorization);
    const { authFailureLimit, authFailureLimitPerAddress, authFailureLimitPerUser } = this.options;
    const scopes: LoginScope[] = [
      { reason: 'AUTH_FAILURES', key: `auth:user-address:${user}:${address}`, limit: authFailureLimit },
      { reason: 'AUTH_FAILURES_ADDRESS', key: `auth:address:${address}`, limit: authFailureLimitPerAddress },
      { reason: 'AUTH_FAILURES_USER', key: `auth:user:${user}`, limit: authFailureLimitPerUser },
    ];
    return scopes.filter((scope) => scope.limit > 0);
  }

  /** Ends a request's reservation of unconfirmed credentials. */
  private release(request: FastifyRequest): void {
    const reservation = this.reservations.get(request);
    if (!reservation) return;
    this.reservations.delete(request);
    for (const key of reservation.keys) {
      const inFlight = this.unconfirmed.get(key);
      const left = (inFlight?.get(reservation.credential) ?? 1) - 1;
      if (left > 0) inFlight!.set(reservation.credential, left);
      else inFlight?.delete(reservation.credential);
      if (inFlight?.size === 0) this.unconfirmed.delete(key);
    }
  }

  /**
   * An HMAC of the user name of Basic credentials, case folded (a portal that reads names in any case must not
   * give a guesser a fresh count per spelling); every other kind of credentials is one user to the limits.
   */
  private userKeyOf(authorization: string): string {
    const credentials = credentialsOf(authorization);
    const name = credentials.kind === 'basic' ? `user:${credentials.user.toLowerCase()}` : `kind:${credentials.kind}`;
    return createHmac('sha256', this.options.secret).update(name).digest('base64url');
  }
}

/** The mark of credentials the portal accepted lately, by their HMAC (`CallerKeys`). */
function acceptedKey(credential: string): string {
  return `accepted:${credential}`;
}

/**
 * The address the limits count a request by: `request.ip`, as `TRUST_PROXY` says, unless that is no IP address (a
 * forwarded entry that no proxy wrote, from a client that reached the server around the proxies), then the socket's:
 * a made-up entry neither escapes the limits nor becomes a counter's key.
 */
function addressOf(request: FastifyRequest): string {
  const address = request.ip;
  return isIP(address) !== 0 ? address : (request.socket.remoteAddress ?? '');
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
