/**
 * Every failure of a portal call, as one error class with a stable `code` that callers match on.
 *
 * This layer knows nothing of GraphQL: `src/graphql/errors.ts` turns these into GraphQL errors. The table that
 * maps the portal's statuses and plain-text bodies to codes lives here, in `errorFromResponse`, and nowhere else;
 * so does the reading of failures below HTTP (`transportError`).
 */
import { errors as undiciErrors } from 'undici';
import type { EndpointName } from './endpoints';

export type PortalErrorCode =
  /** The portal answered 401: no or wrong credentials. */
  | 'UNAUTHENTICATED'
  /** The portal answered 403 "Forbidden" or "You cannot download licenses you don't have!". */
  | 'FORBIDDEN'
  /** The portal answered 404 for an id (or an unknown path). */
  | 'NOT_FOUND'
  /** The portal refused the input: its "Please provide valid …" 403s and its 400 "Bad Request: …". */
  | 'INVALID_INPUT'
  /** The portal did not answer in time; for a read, nothing changed. */
  | 'TIMEOUT'
  /** The portal could not be reached, reset the connection, or answered 5xx or 429. */
  | 'UNAVAILABLE'
  /** The portal answered 2xx with a body that does not fit the contract, or with a status outside it. */
  | 'INVALID_RESPONSE'
  /** A side-effecting call was sent but its answer was lost: it may or may not have taken effect. */
  | 'OUTCOME_UNKNOWN';

export interface PortalErrorOptions {
  endpoint: EndpointName;
  /** The HTTP status the portal answered, when it answered. */
  status?: number;
  /** The portal's own words, safe to show a user (never HTML, never longer than a line). */
  detail?: string;
  /** The input field to blame, as named in the GraphQL schema (`hwid`, `expirationDate`). */
  field?: string;
  /** How long the portal (or the breaker) asks to wait before trying again, in ms. */
  retryAfterMs?: number;
  cause?: unknown;
}

export class PortalError extends Error {
  override readonly name = 'PortalError';
  readonly code: PortalErrorCode;
  readonly endpoint: EndpointName;
  readonly status: number | undefined;
  readonly detail: string | undefined;
  readonly field: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: PortalErrorCode, message: string, options: PortalErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.endpoint = options.endpoint;
    this.status = options.status;
    this.detail = options.detail;
    this.field = options.field;
    this.retryAfterMs = options.retryAfterMs;
  }
}

const HARDWARE_ID_REFUSED = 'Please provide valid hardware ID';
const EXPIRATION_DATE_REFUSED = "Please provide valid expiration_date format: '%Y-%m-%d'";

/**
 * The mapping table: what a non-2xx answer of the portal means. Flask error bodies are bare text (served as
 * text/html), so the body is only ever compared as text, never parsed; Werkzeug's HTML pages are never passed on.
 */
export function errorFromResponse(
  endpoint: EndpointName,
  status: number,
  body: string,
  retryAfterMs?: number,
): PortalError {
  const text = body.trim();
  const options = retryAfterMs === undefined ? { endpoint, status } : { endpoint, status, retryAfterMs };
  if (status === 401) return new PortalError('UNAUTHENTICATED', 'The portal refused the credentials.', options);
  if (status === 403) {
    if (text === HARDWARE_ID_REFUSED) {
      return new PortalError('INVALID_INPUT', 'The portal refused the hardware id.', {
        ...options,
        detail: text,
        field: 'hwid',
      });
    }
    if (text === EXPIRATION_DATE_REFUSED) {
      return new PortalError('INVALID_INPUT', 'The portal refused the expiration date.', {
        ...options,
        detail: text,
        field: 'expirationDate',
      });
    }
    return new PortalError('FORBIDDEN', 'The record belongs to another customer.', options);
  }
  if (status === 404) return new PortalError('NOT_FOUND', 'The portal has no record with this id.', options);
  if (status === 400) {
    const detail = isPlainLine(text) ? text : undefined;
    return new PortalError(
      'INVALID_INPUT',
      detail ? `The portal refused the request: ${detail}` : 'The portal refused the request.',
      {
        ...options,
        detail,
      },
    );
  }
  if (status === 429 || (status >= 500 && status <= 599)) {
    return new PortalError('UNAVAILABLE', `The portal is unavailable (HTTP ${status}).`, options);
  }
  return new PortalError('INVALID_RESPONSE', `The portal answered with an unexpected HTTP ${status}.`, options);
}

/** Text fit to show a user: one short line that is not markup. */
function isPlainLine(text: string): boolean {
  return text.length > 0 && text.length <= 500 && !/[<>\r\n]/.test(text) && !/[\u0000-\u001f]/.test(text);
}

/**
 * A failure below HTTP. Whether a side-effecting request could have reached the portal decides between
 * UNAVAILABLE (it never left: connection refused, connect timeout) and OUTCOME_UNKNOWN (it may have been served).
 */
export function transportError(endpoint: EndpointName, error: unknown, sideEffecting: boolean): PortalError {
  if (error instanceof PortalError) return error;
  const neverSent =
    error instanceof undiciErrors.ConnectTimeoutError ||
    (isErrnoError(error) &&
      ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(error.code));
  const timedOut =
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    ['TimeoutError', 'AbortError'].includes(nameOf(error));
  if (sideEffecting && !neverSent) {
    return new PortalError(
      'OUTCOME_UNKNOWN',
      'The request to generate a licence was sent, but its answer was lost; a licence may or may not have been generated.',
      { endpoint, cause: error },
    );
  }
  if (timedOut)
    return new PortalError('TIMEOUT', `The portal did not answer ${endpoint} in time.`, { endpoint, cause: error });
  return new PortalError('UNAVAILABLE', `The portal could not be reached for ${endpoint}.`, { endpoint, cause: error });
}

/**
 * Errors are told apart by their fields, not by `instanceof`: those made by Node itself (socket errors, an abort
 * signal's DOMException) may come from another realm than this module's `Error`.
 */
function isErrnoError(error: unknown): error is { code: string } {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string';
}

function nameOf(error: unknown): string {
  return typeof error === 'object' && error !== null && typeof (error as { name?: unknown }).name === 'string'
    ? (error as { name: string }).name
    : '';
}
