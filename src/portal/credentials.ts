/**
 * Who an `Authorization` header names, the same however it is spelled: the portal reads HTTP Basic credentials
 * with the scheme in any case and loose whitespace, so `basic`, `BASIC` and two spaces are one user to it, and must
 * be one caller to every per-caller part of this server (fair admission, caches, idempotency keys, login limits).
 *
 *     credentialsOf('Basic ZGVtbzpkZW1v');     // { kind: 'basic', canonical: 'basic:demo:demo', user: 'demo' }
 *     credentialsOf('bAsIc   ZGVtbzpkZW1v ');  // the same
 *     credentialsOf('Basic bm8tY29sb24=');     // { kind: 'unreadable' }: no `user:password` in it
 *     credentialsOf('Bearer abc');             // { kind: 'other', canonical: 'raw:Bearer abc' }
 *
 * This function never throws, whatever the header holds.
 */

export type Credentials =
  /** No `Authorization` header: every such request is one caller. */
  | { kind: 'none'; canonical: '' }
  /** Basic credentials: `canonical` is the scheme's name and the decoded `user:password`. */
  | { kind: 'basic'; canonical: string; user: string }
  /** Another scheme: the header's exact bytes are its identity (the portal would refuse it). */
  | { kind: 'other'; canonical: string }
  /** A `Basic` header that does not decode to `user:password`: the portal reads it as none, and refuses it. */
  | { kind: 'unreadable' };

/** The scheme, then one or more spaces or tabs, then the rest (HTTP's `credentials`; Node has trimmed the ends). */
const SCHEME_AND_REST = /^([^ \t]+)(?:[ \t]+(.*))?$/s;

/** Base64 as the portal decodes it: the standard alphabet, padded to a multiple of four characters. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function credentialsOf(authorization: string | undefined): Credentials {
  if (authorization === undefined) return { kind: 'none', canonical: '' };
  const header = authorization.replace(/^[ \t]+|[ \t]+$/g, '');
  const parts = SCHEME_AND_REST.exec(header);
  if (parts?.[1]?.toLowerCase() !== 'basic') return { kind: 'other', canonical: `raw:${authorization}` };
  const token = parts[2] ?? '';
  if (token === '' || !BASE64.test(token)) return { kind: 'unreadable' };
  let decoded: string;
  try {
    decoded = UTF8.decode(Buffer.from(token, 'base64'));
  } catch {
    return { kind: 'unreadable' };
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'unreadable' };
  return { kind: 'basic', canonical: `basic:${decoded}`, user: decoded.slice(0, colon) };
}
