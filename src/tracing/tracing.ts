/**
 * Traces of requests, made and exported by OpenTelemetry's SDK over OTLP/HTTP: one trace per request, from the HTTP
 * request through the GraphQL operation and its plan to every portal call, continuing a client's W3C `traceparent`
 * and passing one on to the portal. Off unless an OTLP endpoint is configured (`TracingSettings`, read in `config.ts`
 * from OpenTelemetry's standard variables); when off, no span is made and no header is sent.
 *
 * Spans are passed down explicitly (the request's span to the operation, the operation's to each portal call),
 * not through an async-local context: the plan's portal calls start before graphql-js executes, and explicit
 * parents keep them beneath the operation whatever ran them. No tracer provider is registered globally.
 *
 *     const tracing = Tracing.start(config.tracing, log);
 *     const span = tracing.startServerSpan('POST', request.headers);
 *     const child = tracing.startChild(span, 'graphql.parse');
 *     child.end();
 *     await tracing.shutdown(); // flushes what is left, on SIGTERM
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  isSpanContextValid,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator, setGlobalErrorHandler } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  RandomIdGenerator,
  SamplingDecision,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { TraceSamplerName, TracingSettings } from '../config';
import type { OutageLog } from '../shared/outageLog';
import { ExportOutcomes } from './exportOutcomes';

export type { Span } from '@opentelemetry/api';

/** The instrumentation scope's name, as exports carry it. */
const INSTRUMENTATION = 'portal-graphql';
/** How long `shutdown` waits for what is left to be sent. */
const SHUTDOWN_MS = 10_000;
/** The longest a timer may be set for: what `OTEL_BSP_EXPORT_TIMEOUT=0` (no bound) is given to the processor. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** Where a dropped request's span keeps the headers it carries to the portal, the same for each of its calls. */
const CARRIED = Symbol('carried');
type CarryingSpan = Span & { [CARRIED]?: Record<string, string> };

export class Tracing {
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly tracer: Tracer;

  private constructor(
    private readonly provider: SampledProvider,
    private readonly outcomes?: ExportOutcomes,
  ) {
    this.tracer = provider.tracers.getTracer(INSTRUMENTATION);
  }

  /**
   * Tracing as configured: spans batched by the SDK's batch span processor and sent by its OTLP/HTTP exporter, in
   * protobuf or JSON, which retries a busy receiver (after its `Retry-After` when it gives one) and logs a partial
   * success. The SDK's diagnostics of warning level and above go to `log`.
   */
  static start(settings: TracingSettings, log: OutageLog): Tracing {
    const outcomes = new ExportOutcomes(settings.url, log);
    const options = {
      url: settings.url,
      headers: settings.headers,
      timeoutMillis: settings.timeoutMs,
      compression: settings.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    };
    const exporter = settings.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options);
    const { batch } = settings;
    const processor = new BatchSpanProcessor({
      exporter: outcomes.counting(exporter),
      scheduledDelayMillis: batch.scheduleDelayMs,
      maxQueueSize: batch.maxQueuedSpans,
      maxExportBatchSize: batch.maxBatchSpans,
      exportTimeoutMillis: batch.exportTimeoutMs === 0 ? LONGEST_TIMER_MS : batch.exportTimeoutMs,
      selfObsMeterProvider: outcomes.processorMeters,
    });
    sendDiagnosticsTo(log);
    return new Tracing(providerOf(processor, settings), outcomes);
  }

  /** Tracing that hands each span to `exporter` as it ends (tests hand in the SDK's `InMemorySpanExporter`). */
  static withExporter(
    exporter: SpanExporter,
    sampler: TracingSettings['sampler'] = { name: 'parentbased_always_on', ratio: 1 },
  ): Tracing {
    const identity = { serviceName: INSTRUMENTATION, resourceAttributes: {}, sampler };
    return new Tracing(providerOf(new SimpleSpanProcessor({ exporter }), identity));
  }

  /** Spans exported and dropped so far (`/metrics`); undefined for tracing that does not export. */
  get exported(): { sent: number; dropped: number } | undefined {
    return this.outcomes?.counts;
  }

  /**
   * The server span of an incoming request; a valid `traceparent` among `headers` makes it a child of the client's,
   * in the client's trace and with its trace state. Recorded if the sampler says so (it sees the client's context,
   * which `parentbased_…` follows); else a span that only carries its ids on. Its attributes are set by the caller,
   * when it records: none of the offered samplers reads them.
   */
  startServerSpan(name: string, headers: IncomingHttpHeaders): Span {
    // Most requests come without one: no context to read it into.
    const context =
      headers.traceparent === undefined
        ? ROOT_CONTEXT
        : this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    // The sampler is asked first, as the SDK's tracer would ask it: a request it drops (nine in ten at a ratio of
    // 0.1) needs ids to carry on, not the tracer's work of a span, which weighed a few percent of such a request.
    const parent = trace.getSpanContext(context);
    const { ids, sampler } = this.provider;
    const inTrace = parent !== undefined && isSpanContextValid(parent);
    const traceId = inTrace ? parent.traceId : ids.generateTraceId();
    const sampling = sampler.shouldSample(context, traceId, name, SpanKind.SERVER, {}, []);
    if (sampling.decision === SamplingDecision.NOT_RECORD) {
      const traceState = sampling.traceState ?? parent?.traceState;
      return trace.wrapSpanContext({ traceId, spanId: ids.generateSpanId(), traceFlags: TraceFlags.NONE, traceState });
    }
    // Recorded: the tracer makes the span, in the trace just drawn (it asks the sampler again, with the same answer).
    if (!inTrace) ids.drawn = traceId;
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER }, context);
    ids.drawn = undefined;
    return span;
  }

  /**
   * A span beneath `parent`. Beneath a span the sampler dropped, it is `parent` itself: every offered sampler would
   * drop the child too (the `parentbased_…` ones by the parent's flag, `traceidratio` by the trace id they share,
   * `always_…` alike for all), and a span not recorded serves only to pass its context on, which the parent's does.
   * So a dropped request makes one span, whatever it calls.
   */
  startChild(parent: Span, name: string, attributes?: Attributes, kind: SpanKind = SpanKind.INTERNAL): Span {
    if ((parent.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return parent;
    return this.tracer.startSpan(name, { kind, attributes }, trace.setSpan(ROOT_CONTEXT, parent));
  }

  /**
   * Writes `span`'s `traceparent` (and `tracestate`) into outgoing request headers, as W3C Trace Context says. A
   * span not recorded is a dropped request's, the same for all its calls: its headers are written once and kept on it.
   */
  inject(span: Span, headers: Record<string, string>): void {
    if (span.isRecording()) {
      this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
      return;
    }
    let carried = (span as CarryingSpan)[CARRIED];
    if (carried === undefined) {
      carried = {};
      this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carried, defaultTextMapSetter);
      (span as CarryingSpan)[CARRIED] = carried;
    }
    Object.assign(headers, carried);
  }

  /** Sends every span still waiting, for at most 10 seconds, and stops: on SIGTERM, before the process exits. Never throws. */
  async shutdown(): Promise<void> {
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (deadline = setTimeout(resolve, SHUTDOWN_MS)));
    await Promise.race([this.provider.tracers.shutdown().catch(() => undefined), timedOut]);
    clearTimeout(deadline);
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

/** A tracer provider, with the sampler and the ids it draws from, which `startServerSpan` asks before it does. */
interface SampledProvider {
  tracers: TracerProvider;
  sampler: Sampler;
  ids: DrawnIds;
}

/**
 * The SDK's random ids, but for a trace id drawn before the span is made (to ask the sampler): the next trace id
 * given out is that one.
 */
class DrawnIds extends RandomIdGenerator {
  drawn: string | undefined;

  override generateTraceId(): string {
    const drawn = this.drawn;
    if (drawn === undefined) return super.generateTraceId();
    this.drawn = undefined;
    return drawn;
  }
}

/** A tracer provider whose spans go to `processor`, with the service's resource and the configured sampler. */
function providerOf(
  processor: SpanProcessor,
  settings: Pick<TracingSettings, 'serviceName' | 'resourceAttributes' | 'sampler'>,
): SampledProvider {
  const sampler = samplerOf(settings.sampler.name, settings.sampler.ratio);
  const ids = new DrawnIds();
  const tracers = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ ...settings.resourceAttributes, 'service.name': settings.serviceName }),
    ),
    sampler,
    idGenerator: ids,
    spanProcessors: [processor],
  });
  return { tracers, sampler, ids };
}

/**
 * The SDK tells what goes wrong through OpenTelemetry's diagnostic logger, silent unless set: a receiver's partial
 * success, spans dropped for a full queue. Its warnings and errors go to `log`. Its global error handler is given only
 * the batches whose export failed, which `ExportOutcomes` tells once rather than once a batch: it is left silent.
 */
function sendDiagnosticsTo(log: OutageLog): void {
  const warn = (message: string, ...args: unknown[]) =>
    log.warn({ details: args.map((arg) => (arg instanceof Error ? arg.message : arg)) }, `OpenTelemetry: ${message}`);
  const ignore = () => undefined;
  diag.setLogger(
    { error: warn, warn, info: ignore, debug: ignore, verbose: ignore },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  setGlobalErrorHandler(ignore);
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
