/**
 * Every answer is a GraphQL response, also the ones Fastify gives before Apollo sees a request: malformed JSON,
 * an empty body, a content type it cannot read, a body over the limit, a route or method that does not exist.
 * Each gets its 4xx status and `{"errors":[{"message", "extensions": {"code", "reason"}}]}`, and one log line
 * without a stack trace (a client's mistake is not the server's). Anything else is masked as "Unexpected error.".
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance } from 'fastify';
import { ErrorCode } from '../graphql/errors';

/** A refusal of Fastify's, in the API's words: what was wrong and what to send instead. */
function refusalOf(
  error: FastifyError,
  bodyLimitBytes: number,
): { status: number; reason: string; message: string } | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        status: 400,
        reason: 'MALFORMED_JSON',
        message: 'The request body is not valid JSON; send {"query": "…", "variables": {…}}.',
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        reason: 'EMPTY_BODY',
        message: 'The request body is empty; send {"query": "…", "variables": {…}} as application/json.',
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        status: 400,
        reason: 'MALFORMED_REQUEST',
        message: 'The request body does not match its Content-Length.',
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        reason: 'UNSUPPORTED_MEDIA_TYPE',
        message:
          'Send a GraphQL request as a POST with content-type application/json, or as a GET with a `query` parameter.',
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        reason: 'BODY_TOO_LARGE',
        message: `The request body is larger than ${bodyLimitBytes} bytes (BODY_LIMIT_BYTES).`,
      };
    default:
      return error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
        ? { status: error.statusCode, reason: 'BAD_REQUEST', message: 'The request could not be read.' }
        : undefined;
  }
}

/** The body of a refusal made outside Apollo, shaped as a GraphQL response. */
export function graphqlErrorBody(message: string, extensions: Record<string, unknown>): string {
  return JSON.stringify({ errors: [{ message, extensions }] });
}

export function registerErrorAnswers(
  app: FastifyInstance,
  options: { bodyLimitBytes: number; graphqlPath: string },
): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const refusal = refusalOf(error, options.bodyLimitBytes);
    reply.type('application/json; charset=utf-8');
    if (refusal) {
      // A connection closed while its body was arriving (the client left, or was answered 408 at its deadline by
      // `clientErrorAnswer`): the refusal below reaches no one, and its status is not what the client saw.
      if (request.raw.destroyed) request.log.info('request abandoned: its connection closed before its body arrived');
      else
        request.log.info({ statusCode: refusal.status, reason: refusal.reason }, `request refused: ${error.message}`);
      return reply
        .status(refusal.status)
        .send(graphqlErrorBody(refusal.message, { code: ErrorCode.BAD_REQUEST, reason: refusal.reason }));
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply.status(500).send(graphqlErrorBody('Unexpected error.', { code: ErrorCode.INTERNAL_SERVER_ERROR }));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    reply.type('application/json; charset=utf-8');
    if (path === options.graphqlPath) {
      request.log.info({ statusCode: 405, method: request.method }, 'request refused: method not allowed');
      return reply
        .status(405)
        .header('allow', 'GET, POST')
        .send(
          graphqlErrorBody(`${options.graphqlPath} takes GET and POST, not ${request.method}.`, {
            code: ErrorCode.BAD_REQUEST,
            reason: 'METHOD_NOT_ALLOWED',
          }),
        );
    }
    request.log.info({ statusCode: 404 }, 'request refused: no such route');
    return reply
      .status(404)
      .send(
        graphqlErrorBody(
          `There is nothing at ${request.method} ${path.slice(0, 200)}; GraphQL is at POST ${options.graphqlPath}.`,
          { code: ErrorCode.NOT_FOUND, reason: 'ROUTE_NOT_FOUND' },
        ),
      );
  });
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refused (headers too large, a malformed request line,
 * a request that took too long to arrive) is answered as a GraphQL response too, and its connection closed.
 */
export function clientErrorAnswer(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'The request headers are too large.']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'The request took too long to arrive.']
        : [400, 'MALFORMED_REQUEST', 'The HTTP request could not be parsed.'];
  const body = graphqlErrorBody(message, { code: ErrorCode.BAD_REQUEST, reason });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
