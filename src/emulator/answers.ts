/**
 * What the emulated portal answers, and the exact bytes of each answer as a Flask app sends them.
 *
 * Routes produce an `Answer`; `encodeAnswer` is the one place that turns it into status, headers and body, so
 * that faults can mangle an answer without knowing how it was made. Every portal message text lives here.
 */
import { STATUS_CODES } from 'node:http';

export type Answer =
  /** A 200 with a JSON body, as Flask's `jsonify` writes it. */
  | { kind: 'json'; value: unknown }
  /** A text body served as HTML, as Flask serves a returned string or Werkzeug an error page. */
  | { kind: 'text'; status: number; body: string; headers?: Readonly<Record<string, string>> }
  /** A licence file download. */
  | { kind: 'file'; fileName: string; bytes: Buffer };

export interface EncodedAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json';

export function encodeAnswer(answer: Answer): EncodedAnswer {
  switch (answer.kind) {
    case 'json': {
      const body = Buffer.from(flaskJson(answer.value), 'utf8');
      return {
        status: 200,
        headers: { 'Content-Type': JSON_TYPE, 'Content-Length': String(body.length) },
        body,
      };
    }
    case 'text': {
      const body = Buffer.from(answer.body, 'utf8');
      return {
        status: answer.status,
        headers: { 'Content-Type': HTML, 'Content-Length': String(body.length), ...answer.headers },
        body,
      };
    }
    case 'file':
      return {
        status: 200,
        headers: {
          'Content-Type': JSON_TYPE,
          'Content-Disposition': `attachment; filename="${answer.fileName}"`,
          'Content-Length': String(answer.bytes.length),
        },
        body: answer.bytes,
      };
    default:
      throw new UnreachableAnswerError(answer);
  }
}

class UnreachableAnswerError extends Error {
  constructor(value: never) {
    super(`unknown answer: ${JSON.stringify(value)}`);
  }
}

/**
 * JSON as Flask's default provider writes it *(assumed: the portal uses `jsonify`)*: keys sorted, compact
 * separators, every non-ASCII character escaped as `\uXXXX` (Python's `ensure_ascii`), and a trailing newline.
 * So `"Vstupná"` travels as `"Vstupn\u00e1"`; any JSON parser reads it back unchanged.
 */
export function flaskJson(value: unknown): string {
  const text = JSON.stringify(withSortedKeys(value));
  // JSON.stringify already escapes control characters as Python does; DEL and above are left to escape.
  return `${text.replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}

function withSortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withSortedKeys);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = withSortedKeys((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// The portal's own messages (the vendor page and docs/portal-contract.md), byte for byte
// ---------------------------------------------------------------------------------------------------------

export const MESSAGES = {
  unauthorized: 'Unauthorized',
  notFound: 'Not Found',
  forbidden: 'Forbidden',
  downloadForbidden: "You cannot download licenses you don't have!",
  invalidHardwareId: 'Please provide valid hardware ID',
  invalidExpirationDate: "Please provide valid expiration_date format: '%Y-%m-%d'",
} as const;

export function textAnswer(status: number, body: string): Answer {
  return { kind: 'text', status, body };
}

export function badRequest(detail: string): Answer {
  return textAnswer(400, `Bad Request: ${detail}`);
}

// ---------------------------------------------------------------------------------------------------------
// Werkzeug's HTML error pages, for what Flask's router refuses before any view runs
// ---------------------------------------------------------------------------------------------------------

const WERKZEUG_DESCRIPTIONS = {
  404: 'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.',
  405: 'The method is not allowed for the requested URL.',
  500: 'The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.',
} as const;

/** The methods Flask allows on a GET view: HEAD and OPTIONS come with it automatically. */
const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';

/** Werkzeug's `HTTPException.get_body()`, exactly. */
export function werkzeugPage(status: keyof typeof WERKZEUG_DESCRIPTIONS): Answer {
  const name = STATUS_CODES[status]!;
  const body =
    '<!doctype html>\n' +
    '<html lang=en>\n' +
    `<title>${status} ${name}</title>\n` +
    `<h1>${name}</h1>\n` +
    `<p>${WERKZEUG_DESCRIPTIONS[status]}</p>\n`;
  return status === 405
    ? { kind: 'text', status, body, headers: { Allow: ALLOWED_METHODS } }
    : { kind: 'text', status, body };
}

/** Flask's automatic answer to OPTIONS on a route: empty, with the allowed methods. */
export function optionsAnswer(): Answer {
  return { kind: 'text', status: 200, body: '', headers: { Allow: ALLOWED_METHODS } };
}
