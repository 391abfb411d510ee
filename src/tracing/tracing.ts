/**
 * Traces of requests, exported over OTLP/HTTP (OpenTelemetry): one trace per request, from the HTTP request
 * through the GraphQL operation and its plan to every portal call, continuing a client's W3C `traceparent` and
 * passing one on to the portal. Off unless an OTLP endpoint is configured (`TracingSettings`, read in `config.ts`
 * from OpenTelemetry's standard variables); when off, no span is made and no header is sent.
 *
 * The spans are this server's own (`spans.ts`), encoded as they end and sent in batches (`otlpExport.ts`),
 * not the OpenTelemetry SDK's: with the SDK's spans and exporter, tracing took a third more CPU per request on a
 * small query; OpenTelemetry's API and samplers are still the ones used.
 *
 * Spans are passed down explicitly (the request's span to the operation, the operation's to each portal call),
 * not through an async-local context: the plan's portal calls start before graphql-js executes, and explicit
 * parents keep them beneath the operation whatever ran them.
 *
 *     const tracing = Tracing.start(config.tracing, log);
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
  TraceFlags,
  defaultTextMapGetter,
  trace,
  type Attributes,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import type { TraceSamplerName, TracingSettings } from '../config';
import { OtlpExport } from './otlpExport';
import type { OutageLog } from '../shared/outageLog';
import {
  RecordedSpan,
  TraceIdentity,
  UnsampledSpan,
  randomSpanId,
  drawTraceId,
  type Span,
  type SpanSink,
} from './spans';

export type { Span } from './spans';

/** The instrumentation scope's name, as exports carry it. */
const INSTRUMENTATION = 'portal-graphql';

export class Tracing {
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly sampler: Sampler;

  private constructor(
    private readonly sink: SpanSink,
    sampler: TracingSettings['sampler'],
  ) {
    this.sampler = samplerOf(sampler.name, sampler.ratio);
  }

  /** Tracing as configured: spans batched and exported over OTLP/HTTP, in protobuf or JSON. */
  static start(settings: TracingSettings, log: OutageLog): Tracing {
    const sink = new OtlpExport({
      url: settings.url,
      protocol: settings.protocol,
      headers: settings.headers,
      identity: {
        resource: { ...settings.resourceAttributes, 'service.name': settings.serviceName },
        scope: INSTRUMENTATION,
      },
      log,
      ...settings.batch,
      timeoutMs: settings.attemptTimeoutMs,
      compression: settings.compression,
    });
    return new Tracing(sink, settings.sampler);
  }

  /** Tracing into a given sink (tests hand in one that keeps the spans in memory). */
  static withSink(
    sink: SpanSink,
    sampler: TracingSettings['sampler'] = { name: 'parentbased_always_on', ratio: 1 },
  ): Tracing {
    return new Tracing(sink, sampler);
  }

  /** Spans exported and dropped so far (`/metrics`); undefined for a sink that does not export. */
  get exported(): { sent: number; dropped: number } | undefined {
    return this.sink.counts;
  }

  /**
   * The server span of an incoming request; a valid `traceparent` among `headers` makes it a child of the client's,
   * in the client's trace and with its trace state. Recorded if the sampler says so (it sees the client's context,
   * which `parentbased_…` follows); else a span that only carries its ids on.
   */
  startServerSpan(name: string, headers: IncomingHttpHeaders, attributes: Attributes): Span {
    // Most requests come without one: no context to read it into.
    const context =
      headers.traceparent === undefined
        ? ROOT_CONTEXT
        : this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const parent = trace.getSpanContext(context);
    const drawn = parent ? undefined : drawTraceId();
    const traceId = parent?.traceId ?? drawn!.toString('hex');
    const sampling = this.sampler.shouldSample(context, traceId, name, SpanKind.SERVER, attributes, []);
    const traceState = sampling.traceState ?? parent?.traceState;
    if (sampling.decision !== SamplingDecision.RECORD_AND_SAMPLED) {
      return new UnsampledSpan({
        traceId,
        spanId: randomSpanId(),
        traceFlags: TraceFlags.NONE,
        ...(traceState ? { traceState } : {}),
      });
    }
    const identity = new TraceIdentity(traceId, traceState, drawn);
    const span = new RecordedSpan(this.sink, identity, parent, name, SpanKind.SERVER, attributes);
    if (sampling.attributes) span.setAttributes(sampling.attributes);
    return span;
  }

  /**
   * A span beneath `parent`, recorded when its parent is. Every sampler offered decides a child as its parent was
   * decided: the `parentbased_…` ones by the parent's flag, `always_…` alike for all, and `traceidratio` by the trace
   * id, which the child shares. So the sampler is asked once per trace, for the request's span.
   */
  startChild(parent: Span, name: string, attributes?: Attributes, kind: SpanKind = SpanKind.INTERNAL): Span {
    if (parent instanceof RecordedSpan)
      return new RecordedSpan(this.sink, parent.trace, parent, name, kind, attributes);
    const { traceId, traceFlags, traceState } = parent.spanContext();
    return new UnsampledSpan({ traceId, spanId: randomSpanId(), traceFlags, isRemote: false, traceState });
  }

  /** Writes `span`'s `traceparent` (and `tracestate`) into outgoing request headers, as W3C Trace Context says. */
  inject(span: Span, headers: Record<string, string>): void {
    // A recorded span is sampled, and is read as it is, without making its context object.
    let state: string | undefined;
    if (span instanceof RecordedSpan) {
      headers.traceparent = `00-${span.traceId}-${span.spanId}-01`;
      state = span.traceState?.serialize();
    } else {
      const { traceId, spanId, traceFlags, traceState } = span.spanContext();
      headers.traceparent = `00-${traceId}-${spanId}-0${traceFlags & TraceFlags.SAMPLED}`;
      state = traceState?.serialize();
    }
    if (state) headers.tracestate = state;
  }

  /** Sends every span still waiting and stops: on SIGTERM, before the process exits. Never throws. */
  async shutdown(): Promise<void> {
    await this.sink.shutdown().catch(() => undefined);
  }
}

/** The ids a log line carries to lead to its trace; undefined for a span not recorded (sampled out). */
export function logIdsOf(span: Span | undefined): { trace_id: string; span_id: string } | undefined {
  if (!(span instanceof RecordedSpan) || !span.isRecording()) return undefined;
  return { trace_id: span.traceId, span_id: span.spanId };
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
