/**
 * Reading a portal response body within a bound, and checking it against the contract.
 *
 * Nothing the portal sends is buffered without a bound: a body that passes it is cut off as soon as it does (its
 * connection is dropped), so a portal or proxy that streams without end costs at most `limit` bytes of memory.
 */
import type { Dispatcher } from 'undici';
import type { EndpointName } from './endpoints';
import { PortalError } from './portalErrors';
import type { WireShape } from './wireTypes';

/** A body longer than its bound: declared so by its `Content-Length`, or read past it. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(
    /** Bytes declared or read when the body was cut off (more than `limit`). */
    readonly bytes: number,
    readonly limit: number,
    readonly declared: boolean,
  ) {
    super(
      declared
        ? `the body declares ${bytes} bytes, over the limit of ${limit} bytes`
        : `the body ran past the limit of ${limit} bytes and was cut off`,
    );
  }
}

/**
 * Reads a whole body, at most `limit` bytes of it. Past the bound, `fail` destroys the body and throws a
 * `BodyTooLargeError` (before reading anything when `Content-Length` already says so); `cut` keeps the first
 * `limit` bytes and destroys the rest, for error bodies where a prefix is all that is read. Errors of the stream
 * itself (a reset, an abort) are thrown as they come.
 */
export async function readBounded(
  response: Dispatcher.ResponseData,
  limit: number,
  overflow: 'fail' | 'cut',
): Promise<Buffer> {
  const body = response.body;
  const declared = Number(headerValue(response.headers['content-length']));
  if (overflow === 'fail' && Number.isFinite(declared) && declared > limit) {
    body.destroy();
    throw new BodyTooLargeError(declared, limit, true);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (length + buffer.length > limit) {
      body.destroy();
      if (overflow === 'fail') throw new BodyTooLargeError(length + buffer.length, limit, false);
      chunks.push(buffer.subarray(0, limit - length));
      length = limit;
      break;
    }
    chunks.push(buffer);
    length += buffer.length;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
}

/**
 * Parses and validates a 2xx body; a body that does not fit is INVALID_RESPONSE (OUTCOME_UNKNOWN for generate).
 * A body that fits is returned as parsed, not copied; only one that does not is read by the zod schema, which
 * says where it fails. Either way its records are given the schema's names.
 */
export function parseBody<T, W>(
  endpoint: EndpointName,
  body: Buffer,
  shape: WireShape<T, W>,
  sideEffecting: boolean,
): T {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalidBody(endpoint, 'the body is not JSON', sideEffecting);
  }
  if (shape.fits(json)) return shape.named(json);
  const result = shape.schema.safeParse(json);
  if (!result.success) {
    const where = result.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
      .join('; ');
    throw invalidBody(endpoint, `the body does not fit the contract (${where})`, sideEffecting);
  }
  return shape.named(result.data);
}

/** A 2xx answer that could not be read: INVALID_RESPONSE, or OUTCOME_UNKNOWN when the call had side effects. */
export function invalidBody(endpoint: EndpointName, why: string, sideEffecting: boolean): PortalError {
  if (sideEffecting) {
    return new PortalError(
      'OUTCOME_UNKNOWN',
      `The portal's answer could not be read (${why}); a licence may or may not have been generated.`,
      {
        endpoint,
        status: 200,
      },
    );
  }
  return new PortalError('INVALID_RESPONSE', `The portal answered ${endpoint} but ${why}.`, { endpoint, status: 200 });
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
