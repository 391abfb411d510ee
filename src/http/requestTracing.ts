/**
 * The HTTP request's span: started as soon as Fastify has routed a request (so that every log line of the
 * request carries its `trace_id` and `span_id`), named by its route, and ended with its response. Health, readiness
 * and metrics requests are not traced: probes every few seconds would drown the traces people look for.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';

type ChildLoggerFactory = NonNullable<FastifyServerOptions['childLoggerFactory']>;
import { SpanStatusCode } from '@opentelemetry/api';
import { logIdsOf, type Span, type Tracing } from '../tracing/tracing';

/** Paths whose requests make no span. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

/** Where a request's span is kept: on the request itself, which goes with it (a WeakMap costs every GC its entries). */
const SPAN = Symbol('span');
type TracedMessage = IncomingMessage & { [SPAN]?: Span };

export class RequestTracing {
  constructor(private readonly tracing: Tracing) {}

  /**
   * Fastify's `childLoggerFactory`: makes each request's logger, and with it the request's server span, whose ids
   * the logger binds. Fastify calls it once routing is done, before it logs anything of the request.
   */
  readonly childLoggerFactory: ChildLoggerFactory = (logger, bindings, options, request) => {
    const path = (request.url ?? '/').split('?', 1)[0]!;
    if (UNTRACED.has(path)) return logger.child(bindings, options);
    const method = request.method ?? 'GET';
    const span = this.tracing.startServerSpan(method, request.headers);
    (request as TracedMessage)[SPAN] = span;
    const ids = logIdsOf(span);
    if (ids) {
      span.setAttributes({
        'http.request.method': method,
        'url.path': path,
        'url.scheme': 'http',
        ...(request.headers['user-agent'] ? { 'user_agent.original': request.headers['user-agent'] } : {}),
      });
      Object.assign(bindings, ids); // Fastify's own object, made for this request
    }
    return logger.child(bindings, options);
  };

  /**
   * Ends each span with the response (or the client's going away), named by its route and with the client's
   * address; a span not recorded is told nothing (and Fastify makes `routeOptions` afresh at each read), and one
   * already ended is not ended again. The hooks take a callback, not a promise: they run on every request, and an
   * async hook costs each request a promise.
   */
  register(app: FastifyInstance): void {
    app.addHook('onResponse', (request, reply, done) => {
      const span = this.spanOf(request);
      if (span?.isRecording()) {
        routed(span, request);
        span.setAttribute('http.response.status_code', reply.statusCode);
        if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
      done();
    });
    app.addHook('onRequestAbort', (request, done) => {
      const span = this.spanOf(request);
      if (span?.isRecording()) {
        routed(span, request);
        span.setAttribute('error.type', 'client_aborted');
        span.end();
      }
      done();
    });
  }

  /** The span of a request, when it is traced. */
  spanOf(request: FastifyRequest): Span | undefined {
    return (request.raw as TracedMessage)[SPAN];
  }
}

/** What routing found: the client's address, and the route, which names the span. */
function routed(span: Span, request: FastifyRequest): void {
  span.setAttribute('client.address', request.ip);
  const route = request.routeOptions.url;
  if (route !== undefined) {
    span.setAttribute('http.route', route);
    span.updateName(`${request.method} ${route}`);
  }
}
