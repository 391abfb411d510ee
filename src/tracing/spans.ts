/**
 * The spans of a traced request, as this server makes them: a recorded span is one small object that holds what
 * OTLP exports (ids, name, kind, times, attributes, events, status) and is handed to its sink when it ends; a span
 * that was not sampled holds only its context, to pass a `traceparent` on, and records nothing.
 *
 * They implement the part of OpenTelemetry's span API this server uses, no more: a span is made on every request
 * and on every portal call, and what each costs is paid by every traced request.
 */
import { randomFillSync } from 'node:crypto';
import {
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  type TraceState,
} from '@opentelemetry/api';

/** What the server does with a span: the methods of OpenTelemetry's `Span` it calls. */
export interface Span {
  spanContext(): SpanContext;
  /** Whether the span records what it is told: false once ended, and for a span not sampled. */
  isRecording(): boolean;
  setAttribute(key: string, value: unknown): this;
  setAttributes(attributes: Attributes): this;
  addEvent(name: string, attributes?: Attributes): this;
  setStatus(status: SpanStatus): this;
  updateName(name: string): this;
  end(): void;
}

/** Where recorded spans go when they end: the OTLP export, or a test's memory. */
export interface SpanSink {
  onEnd(span: RecordedSpan): void;
  /** Spans sent and dropped so far, for a sink that exports. */
  readonly counts?: { sent: number; dropped: number };
  /** Sends what is still waiting, then stops; never throws. */
  shutdown(): Promise<void>;
}

export interface SpanEvent {
  name: string;
  /** Milliseconds since the epoch, with a fraction (`performance`'s clock). */
  time: number;
  attributes: Attributes | undefined;
}

/** Now, in milliseconds since the epoch with a fraction: a monotonic clock, unlike `Date.now()`, and finer. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

export class RecordedSpan implements Span {
  readonly attributes: Attributes = {};
  readonly events: SpanEvent[] = [];
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  readonly startTime = now();
  /** 0 until ended. */
  endTime = 0;
  private context: SpanContext | undefined;

  constructor(
    private readonly sink: SpanSink,
    readonly traceId: string,
    readonly spanId: string,
    /** Undefined for the root of a trace; remote when the client sent it in a `traceparent`. */
    readonly parentSpanContext: SpanContext | undefined,
    readonly traceState: TraceState | undefined,
    public name: string,
    readonly kind: SpanKind,
    attributes: Attributes | undefined,
  ) {
    if (attributes) this.setAttributes(attributes);
  }

  spanContext(): SpanContext {
    this.context ??= {
      traceId: this.traceId,
      spanId: this.spanId,
      traceFlags: TraceFlags.SAMPLED,
      ...(this.traceState ? { traceState: this.traceState } : {}),
    };
    return this.context;
  }

  isRecording(): boolean {
    return this.endTime === 0;
  }

  setAttribute(key: string, value: unknown): this {
    if (this.endTime === 0 && value !== undefined && value !== null) this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributes?: Attributes): this {
    if (this.endTime === 0) this.events.push({ name, time: now(), attributes });
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.endTime === 0) this.status = status;
    return this;
  }

  updateName(name: string): this {
    if (this.endTime === 0) this.name = name;
    return this;
  }

  /** Ends the span and hands it to its sink; a second end does nothing. */
  end(): void {
    if (this.endTime !== 0) return;
    this.endTime = now();
    this.sink.onEnd(this);
  }
}

/** A span not sampled: it has ids, so that the `traceparent` sent on says so, and records nothing. */
export class UnsampledSpan implements Span {
  constructor(private readonly context: SpanContext) {}
  spanContext(): SpanContext {
    return this.context;
  }
  isRecording(): boolean {
    return false;
  }
  setAttribute(): this {
    return this;
  }
  setAttributes(): this {
    return this;
  }
  addEvent(): this {
    return this;
  }
  setStatus(): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {}
}

/** Random bytes drawn a page at a time: a span id is 8 of them, a trace id 16. */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolUsed = POOL_BYTES;

/** A random id of `bytes` bytes, in lowercase hex, never all zeros (which W3C Trace Context calls invalid). */
export function randomId(bytes: 8 | 16): string {
  for (;;) {
    if (poolUsed + bytes > POOL_BYTES) {
      randomFillSync(pool);
      poolUsed = 0;
    }
    const id = pool.toString('hex', poolUsed, poolUsed + bytes);
    poolUsed += bytes;
    if (!/^0+$/.test(id)) return id;
  }
}
