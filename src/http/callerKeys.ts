/**
 * Who is calling, as every per-caller part of the server names them (the list sizes seen, fair admission, the read
 * cache, idempotency keys, the credentials the portal accepted): an HMAC of the credentials the request's
 * `Authorization` header names, not of its spelling (`src/portal/credentials.ts`), so that one user cannot pose as
 * many callers by writing `basic` or two spaces. Requests without credentials are one caller, and so are requests
 * whose Basic credentials cannot be read (the portal is never asked for them). Made once per request; no credential
 * is kept.
 *
 *     const callers = new CallerKeys(secret);
 *     callers.of(request); // 'q3Zk…', the same for every request with the same credentials
 */
import { createHmac } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { credentialsOf } from '../portal/credentials';

export class CallerKeys {
  private readonly keys = new WeakMap<FastifyRequest, string>();

  constructor(private readonly secret: Buffer) {}

  /** The key of the request's caller. */
  of(request: FastifyRequest): string {
    let key = this.keys.get(request);
    if (key === undefined) {
      const credentials = credentialsOf(authorizationOf(request));
      key = createHmac('sha256', this.secret)
        .update(credentials.kind === 'unreadable' ? 'unreadable' : credentials.canonical)
        .digest('base64url');
      this.keys.set(request, key);
    }
    return key;
  }
}

/** The credentials the sessions' hook gave a request to act with (`src/http/sessionRoutes.ts`). */
const actingWith = new WeakMap<FastifyRequest, string>();

/**
 * The `Authorization` a request acts with, as every part that forwards or counts credentials reads it (the GraphQL
 * context, the licence-file route, the login limits, the caller's key): those the sessions' hook gave it (a sign-in's
 * submitted credentials, or a browser session's for a request without a header of its own), else its own header.
 */
export function authorizationOf(request: FastifyRequest): string | undefined {
  return actingWith.get(request) ?? request.headers.authorization;
}

/**
 * Makes a request act with these credentials from now on, in every part that reads `authorizationOf`. Only the
 * sessions' `onRequest` hook calls it, before any part has read them (the login limits' hook comes after it).
 */
export function actWith(request: FastifyRequest, authorization: string): void {
  actingWith.set(request, authorization);
}
