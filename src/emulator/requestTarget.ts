/**
 * Reading a request target as a WSGI server and Werkzeug do: the path percent-decoded before routing, the query
 * parsed into `request.args`. Contract: nothing here throws, whatever bytes a client sends; bad percent-escapes
 * stay as they are and undecodable bytes become U+FFFD, as Python's `unquote` does.
 */

export interface RequestTarget {
  /** The path as sent, without the query. */
  rawPath: string;
  /** The query as sent, without the `?`; '' when there is none. */
  rawQuery: string;
}

/** Splits `req.url`; an absolute-form target (`http://host/path`) is reduced to its path. */
export function splitTarget(url: string | undefined): RequestTarget {
  let target = url ?? '/';
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  if (absolute) target = target.slice(absolute[0].length) || '/';
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const question = target.indexOf('?');
  return question < 0
    ? { rawPath: target, rawQuery: '' }
    : { rawPath: target.slice(0, question), rawQuery: target.slice(question + 1) };
}

/** Decodes `%XX` escapes into UTF-8 text; never throws. */
export function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  let i = 0;
  while (i < text.length) {
    const escape = text.slice(i + 1, i + 3);
    if (text[i] === '%' && /^[0-9a-fA-F]{2}$/.test(escape)) {
      bytes.push(parseInt(escape, 16));
      i += 3;
    } else {
      // Anything else (a lone `%`, or a character Node let through) is kept as its own UTF-8 bytes.
      const char = String.fromCodePoint(text.codePointAt(i)!);
      for (const byte of Buffer.from(char, 'utf8')) bytes.push(byte);
      i += char.length;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Werkzeug's `request.args`: pairs split on `&`, key and value split at the first `=` (a key alone has the value
 * ''), `+` read as a space, then percent-decoded. The first value of a repeated key wins, as `args.get` returns.
 */
export function parseQuery(rawQuery: string): Map<string, string> {
  const params = new Map<string, string>();
  if (rawQuery === '') return params;
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const rawKey = equals < 0 ? pair : pair.slice(0, equals);
    const rawValue = equals < 0 ? '' : pair.slice(equals + 1);
    const key = percentDecode(rawKey.replace(/\+/g, ' '));
    if (!params.has(key)) params.set(key, percentDecode(rawValue.replace(/\+/g, ' ')));
  }
  return params;
}
