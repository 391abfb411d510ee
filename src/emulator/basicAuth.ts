/**
 * HTTP Basic credentials as the portal (a Flask app, so Werkzeug's parser) reads them.
 *
 * Contract: `parseBasicCredentials` never throws, whatever the header holds; anything it cannot read is
 * "no credentials", which the portal answers with 401 like wrong ones.
 */

export interface BasicCredentials {
  username: string;
  password: string;
}

/** `Basic base64(username:password)`, the header value a client sends. */
export function toBasicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * Reads `Authorization: Basic …` as Werkzeug does: the scheme in any case, base64 that must decode (padding
 * included) to UTF-8, split at the first `:` so that a password may hold colons. Returns null for anything else.
 */
export function parseBasicCredentials(header: string | string[] | undefined): BasicCredentials | null {
  if (typeof header !== 'string') return null;
  const match = /^\s*([^\s]+)\s+([^\s]*)\s*$/.exec(header);
  if (!match || match[1]!.toLowerCase() !== 'basic') return null;
  const encoded = match[2]!;
  // Buffer.from(…, 'base64') silently skips bad characters; Python's b64decode is stricter about the length.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return null;
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(encoded, 'base64'));
  } catch {
    return null;
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
