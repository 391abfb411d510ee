/**
 * Who is calling, as every per-caller part of the server names them (the list sizes seen, fair admission, the
 * credentials the portal accepted): an HMAC of the request's whole `Authorization` header, requests without one
 * being one caller. Made once per request; no credential is kept.
 *
 *     const callers = new CallerKeys(secret);
 *     callers.of(request); // 'q3Zk…', the same for every request with the same header
 */
import { createHmac } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export class CallerKeys {
  private readonly keys = new WeakMap<FastifyRequest, string>();

  constructor(private readonly secret: Buffer) {}

  /** The key of the request's caller. */
  of(request: FastifyRequest): string {
    let key = this.keys.get(request);
    if (key === undefined) {
      key = createHmac('sha256', this.secret)
        .update(request.headers.authorization ?? '')
        .digest('base64url');
      this.keys.set(request, key);
    }
    return key;
  }
}
