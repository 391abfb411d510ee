/**
 * Traces of requests, exported over OTLP/HTTP (OpenTelemetry): one trace per request, from the HTTP request
 * through the GraphQL operation and its plan to every portal call, continuing a client's W3C `traceparent` and
 * passing one on to the portal. Off unless an OTLP endpoint is configured (`TracingSettings`, read in `config.ts`
 * from OpenTelemetry's standard variables); when off, no span is made and no header is sent.
 *
 * Spans are passed down explicitly (the request's span to the operation, the operation's to each portal call),
 * not through an async-local context: the plan's portal calls start before graphql-js executes, and explicit
 * parents keep them beneath the operation whatever ran them.
 *
 *     const tracing = Tracing.start(config.tracing);
 *     const span = tracing.startServerSpan('POST /graphql', request.headers, { 'http.request.method': 'POST' });
 *     const child = tracing.startChild(span, 'graphql.parse');
 *     child.end();
 *     await tracing.shutdown(); // flushes what is left, on SIGTERM
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TraceSamplerName, TracingSettings } from '../config';

export type { Span } from '@opentelemetry/api';

/** The instrumentation's name and version, as spans carry them. */
const INSTRUMENTATION = 'portal-graphql';

export class Tracing {
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly tracer: Tracer;

  private constructor(private readonly provider: TracerProvider) {
    this.tracer = provider.getTracer(INSTRUMENTATION);
  }

  /** Tracing as configured: spans batched and exported over OTLP/HTTP, in protobuf or JSON. */
  static start(settings: TracingSettings): Tracing {
    const exporterOptions = { url: settings.url, headers: settings.headers };
    const exporter =
      settings.protocol === 'http/json' ? new JsonExporter(exporterOptions) : new ProtobufExporter(exporterOptions);
    return Tracing.withProcessor(new BatchSpanProcessor({ exporter }), settings);
  }

  /** Tracing into a given span processor (tests hand in an in-memory exporter's). */
  static withProcessor(
    processor: SpanProcessor,
    settings: Pick<TracingSettings, 'serviceName' | 'resourceAttributes' | 'sampler'> = {
      serviceName: 'portal-graphql',
      resourceAttributes: {},
      sampler: { name: 'parentbased_always_on', ratio: 1 },
    },
  ): Tracing {
    return new Tracing(
      new TracerProvider({
        resource: resourceFromAttributes({ ...settings.resourceAttributes, [ATTR_SERVICE_NAME]: settings.serviceName }),
        sampler: samplerOf(settings.sampler.name, settings.sampler.ratio),
        spanProcessors: [processor],
      }),
    );
  }

  /** The server span of an incoming request; a valid `traceparent` among `headers` makes it a child of the client's. */
  startServerSpan(name: string, headers: IncomingHttpHeaders, attributes: Attributes): Span {
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    return this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  }

  /** A span beneath `parent`. */
  startChild(parent: Span, name: string, attributes?: Attributes, kind: SpanKind = SpanKind.INTERNAL): Span {
    return this.tracer.startSpan(
      name,
      { kind, ...(attributes ? { attributes } : {}) },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
  }

  /** Writes `span`'s `traceparent` (and `tracestate`) into outgoing request headers. */
  inject(span: Span, headers: Record<string, string>): void {
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
  }

  /** Sends every span still waiting and stops: on SIGTERM, before the process exits. Never throws. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown().catch(() => undefined);
  }
}

/** The ids a log line carries to lead to its trace; undefined for a span not recorded (sampled out). */
export function logIdsOf(span: Span | undefined): { trace_id: string; span_id: string } | undefined {
  if (!span?.isRecording()) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * Ends a span as failed, with the error's kind only: never its message, which may echo what a client sent (graphql-js
 * quotes a variable's value when it does not coerce, and a literal when it does not validate).
 */
export function endWithError(span: Span, errorType: string): void {
  span.setAttribute('error.type', errorType);
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
  span.end();
}

/** The sampler OpenTelemetry's specification names. */
function samplerOf(name: TraceSamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default: {
      const unknown: never = name;
      throw new Error(`unknown sampler ${String(unknown)}`);
    }
  }
}
