/**
 * `GET /licenses/<licenseId>/file`: streams a licence file from the portal to the client with the caller's own
 * `Authorization`, its bytes untouched, as an attachment whose type and name this server gives
 * (`licenseFileHeaders.ts`). Portal failures become the matching HTTP status with a short plain-text message, never
 * the portal's HTML.
 */
import { Transform, pipeline } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PortalClient, UpstreamCall } from '../portal/portalClient';
import { PortalError, type PortalErrorCode } from '../portal/portalErrors';
import { positiveIntegerId, UnreachableCaseError } from '../portal/endpoints';
import type { Span } from '../tracing/tracing';
import { authorizationOf } from './callerKeys';
import { licenseFileContentDisposition, licenseFileContentType } from './licenseFileHeaders';

/** HTTP status and message of each upstream failure, for a client that asked for a file. */
function fileErrorStatus(code: PortalErrorCode): { status: number; message: string } {
  switch (code) {
    case 'UNAUTHENTICATED':
      return { status: 401, message: 'The Customer Portal refused the credentials.' };
    case 'FORBIDDEN':
      return { status: 403, message: "You cannot download licenses you don't have." };
    case 'NOT_FOUND':
      return { status: 404, message: 'No such licence.' };
    case 'INVALID_INPUT':
      return { status: 400, message: 'The Customer Portal refused the request.' };
    case 'TIMEOUT':
      return { status: 504, message: 'The Customer Portal did not answer in time.' };
    case 'UNAVAILABLE':
    case 'INVALID_RESPONSE':
    case 'OUTCOME_UNKNOWN':
      return { status: 502, message: 'The Customer Portal failed to send the file.' };
    default:
      throw new UnreachableCaseError(code);
  }
}

export interface LicenseFileRouteOptions {
  /** Told of every portal call once it has ended, with the request it was made for. Must not throw. */
  onCall: (call: UpstreamCall, request: FastifyRequest) => void;
  /** Most bytes of a file passed on; a longer one is cut off (a licence file is about a kilobyte). */
  maxBytes: number;
  /** Longest a download may take, from the request to the file's last byte. */
  timeoutMs: number;
  /** The request's span, when it is traced: the portal call's span goes beneath it. */
  spanOf: (request: FastifyRequest) => Span | undefined;
  /** Who the request's caller is (`src/http/callerKeys.ts`). */
  callerKeyOf: (request: FastifyRequest) => string;
}

/**
 * Streams files without buffering them, within bounds: a portal that sends a file without end, or a byte a
 * second, holds a connection (to the client and to the portal) for at most `timeoutMs` and `maxBytes`, after which
 * both are dropped and the client sees the download break off.
 */
/** The route, as Fastify names it. */
export const LICENSE_FILE_ROUTE = '/licenses/:licenseId/file';

export function registerLicenseFileRoute(
  app: FastifyInstance,
  portal: PortalClient,
  options: LicenseFileRouteOptions,
): void {
  app.get<{ Params: { licenseId: string } }>(LICENSE_FILE_ROUTE, async (request, reply) => {
    const licenseId = positiveIntegerId(request.params.licenseId);
    if (licenseId === undefined) return plain(reply, 400, 'The licence id must be a positive integer.');
    const authorization = authorizationOf(request);
    const abort = new AbortController();
    const deadline = setTimeout(
      () => abort.abort(new DOMException(`The download took longer than ${options.timeoutMs} ms.`, 'TimeoutError')),
      options.timeoutMs,
    );
    deadline.unref();
    request.raw.on('close', () => {
      if (!reply.sent) abort.abort();
    });
    try {
      const file = await portal.openLicenseFile(
        {
          authorization,
          callerKey: options.callerKeyOf(request),
          signal: abort.signal,
          onCall: (call) => options.onCall(call, request),
          ...spanOption(options.spanOf(request)),
        },
        licenseId,
      );
      const declared = Number(file.contentLength);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        file.body.destroy();
        clearTimeout(deadline);
        request.log.warn(
          { licenseId, declaredBytes: declared, maxBytes: options.maxBytes },
          'licence file over the bound: not passed on',
        );
        return plain(reply, 502, fileErrorStatus('INVALID_RESPONSE').message);
      }
      reply
        .header('content-type', licenseFileContentType(file.contentType))
        .header('content-disposition', licenseFileContentDisposition(file.contentDisposition, licenseId))
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'private, no-store');
      let passed = 0;
      const bounded = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          passed += chunk.length;
          done(
            passed > options.maxBytes ? new Error(`The licence file ran past ${options.maxBytes} bytes.`) : null,
            chunk,
          );
        },
      });
      pipeline(file.body, bounded, (error) => {
        clearTimeout(deadline);
        if (error && !reply.raw.destroyed)
          request.log.warn({ licenseId, bytes: passed, reason: error.message }, 'licence file download cut off');
      });
      return reply.status(200).send(bounded);
    } catch (error) {
      clearTimeout(deadline);
      if (error instanceof PortalError) {
        const { status, message } = fileErrorStatus(error.code);
        if (status === 401) reply.header('www-authenticate', 'Basic realm="Customer Portal"');
        return plain(reply, status, message);
      }
      request.log.error({ err: error }, 'licence file download failed');
      return plain(reply, 500, 'Unexpected error.');
    }
  });
}

function spanOption(span: Span | undefined): { span?: Span } {
  return span ? { span } : {};
}

function plain(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.status(status).header('content-type', 'text/plain; charset=utf-8').send(`${message}\n`);
}
