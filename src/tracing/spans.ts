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

/** When `performance`'s clock started, in milliseconds since the epoch: read once, as it never changes. */
const TIME_ORIGIN = performance.timeOrigin;

/** Now, in milliseconds since the epoch with a fraction: a monotonic clock, unlike `Date.now()`, and finer. */
function now(): number {
  return TIME_ORIGIN + performance.now();
}

/**
 * A trace's id, shared by its spans: in hex, as logs and `traceparent` carry it, and in bytes, as OTLP's protobuf
 * writes it (as drawn here, or converted once per trace from a client's, when its first span is encoded).
 */
export class TraceIdentity {
  constructor(
    readonly id: string,
    readonly state: TraceState | undefined,
    public bytes: Buffer | undefined,
  ) {}
}

/** Where a span sits: beneath a span of this process, or beneath the client's (a `traceparent` it sent). */
export type SpanParent = RecordedSpan | SpanContext;

/** What most spans end with, shared: no events, and no status set. */
const NO_EVENTS: readonly SpanEvent[] = Object.freeze([]);
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

export class RecordedSpan implements Span {
  readonly attributes: Attributes = {};
  status: SpanStatus = UNSET;
  readonly startTime = now();
  /** 0 until ended. */
  endTime = 0;
  /** The span id's two 32-bit halves, high first, random: in hex only when a log line or a `traceparent` needs it. */
  readonly idHigh: number;
  readonly idLow: number;
  private context: SpanContext | undefined;
  private hexId: string | undefined;
  private eventList: SpanEvent[] | undefined;

  constructor(
    private readonly sink: SpanSink,
    readonly trace: TraceIdentity,
    /** Undefined for the root of a trace. */
    readonly parent: SpanParent | undefined,
    public name: string,
    readonly kind: SpanKind,
    attributes: Attributes | undefined,
  ) {
    const id = drawSpanId();
    this.idHigh = id[0]!;
    this.idLow = id[1]!;
    if (attributes) this.setAttributes(attributes);
  }

  get traceId(): string {
    return this.trace.id;
  }

  get spanId(): string {
    this.hexId ??= spanIdHex(this.idHigh, this.idLow);
    return this.hexId;
  }

  get events(): readonly SpanEvent[] {
    return this.eventList ?? NO_EVENTS;
  }

  get traceState(): TraceState | undefined {
    return this.trace.state;
  }

  /** The parent's context: remote when the client sent it in a `traceparent`. */
  get parentSpanContext(): SpanContext | undefined {
    return this.parent instanceof RecordedSpan ? this.parent.spanContext() : this.parent;
  }

  spanContext(): SpanContext {
    this.context ??= {
      traceId: this.trace.id,
      spanId: this.spanId,
      traceFlags: TraceFlags.SAMPLED,
      ...(this.trace.state ? { traceState: this.trace.state } : {}),
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
    if (this.endTime === 0) (this.eventList ??= []).push({ name, time: now(), attributes });
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

/** Random 32-bit words drawn a page at a time: a span id is 2 of them, a trace id 4. */
const POOL_WORDS = 1024;
const pool = new Uint32Array(POOL_WORDS);
let poolUsed = POOL_WORDS;

function randomWord(): number {
  if (poolUsed === POOL_WORDS) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  return pool[poolUsed++]!;
}

/** Where a span id is put in hex: one call into the runtime, where two numbers' `toString(16)` are two and slower. */
const scratch = Buffer.allocUnsafe(8);

/** A span id's halves in 16 lowercase hex digits, as its bytes are written (big-endian). */
function spanIdHex(high: number, low: number): string {
  scratch.writeUInt32BE(high, 0);
  scratch.writeUInt32BE(low, 4);
  return scratch.toString('hex');
}

/** Where a span id is drawn, high half first: one array for every draw, read at once. */
const drawn = new Uint32Array(2);

/** Draws a random span id into `drawn`, never all zeros (which W3C Trace Context calls invalid). */
function drawSpanId(): Uint32Array {
  do {
    drawn[0] = randomWord();
    drawn[1] = randomWord();
  } while ((drawn[0] | drawn[1]) === 0);
  return drawn;
}

/** A random span id in lowercase hex, for a span not sampled. */
export function randomSpanId(): string {
  const id = drawSpanId();
  return spanIdHex(id[0]!, id[1]!);
}

/** A random trace id's 16 bytes, never all zeros. */
export function drawTraceId(): Buffer {
  const id = Buffer.allocUnsafe(16);
  for (;;) {
    let any = 0;
    for (let offset = 0; offset < 16; offset += 4) {
      const word = randomWord();
      any |= word;
      id.writeUInt32BE(word, offset);
    }
    if (any !== 0) return id;
  }
}
