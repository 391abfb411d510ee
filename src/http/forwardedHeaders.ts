/**
 * Notices a proxy in front of a server that does not trust one: a request carrying `X-Forwarded-For` or `Forwarded`
 * while `TRUST_PROXY` is off is served as any other (its address is the socket's), but such a request is a sign that
 * every client may be counted as the proxy's one address by the per-address limits. It is said in the log at most
 * once per `WARNING_INTERVAL_MS`, and every such request is counted (`/metrics`).
 *
 *     const notice = new ForwardedHeadersNotice();
 *     notice.check(request.headers, request.socket.remoteAddress, request.log); // true: it carried one
 */
import type { IncomingHttpHeaders } from 'node:http';

/** How often, at most, the warning is logged. */
export const WARNING_INTERVAL_MS = 10 * 60_000;

/** The headers a proxy sets to tell whom it forwards for, as they are named in the log. */
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded'] as const;

/** Where the warning goes (a request's logger). */
interface WarningLog {
  warn(details: object, message: string): void;
}

export class ForwardedHeadersNotice {
  private lastWarnedAt: number | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Whether the request carries a forwarding header; when it does, and the warning was not logged within the
   * interval, logs it: the headers' names (never their values, which the client writes), the socket's address,
   * and `TRUST_PROXY`.
   */
  check(headers: IncomingHttpHeaders, socketAddress: string | undefined, log: WarningLog): boolean {
    const carried = FORWARDING_HEADERS.filter((name) => headers[name] !== undefined);
    if (carried.length === 0) return false;
    const now = this.now();
    if (this.lastWarnedAt === undefined || now - this.lastWarnedAt >= WARNING_INTERVAL_MS) {
      this.lastWarnedAt = now;
      log.warn(
        { headers: carried, socketAddress: socketAddress ?? null, trustProxy: false },
        `a request carries a forwarding header, ignored because TRUST_PROXY is off: behind a proxy, every client is counted as its one address by the limits per address; set TRUST_PROXY to the hop count or the proxies' addresses (said at most once in ${WARNING_INTERVAL_MS / 60_000} minutes)`,
      );
    }
    return true;
  }
}
