/**
 * OTLP's trace messages (`opentelemetry/proto/trace/v1/trace.proto`, `collector/trace/v1/trace_service.proto`), in
 * its two HTTP encodings: protobuf and JSON. A span is encoded once, when it ends, into the batch it will be sent
 * with; the resource and the scope, the same for every span, are encoded once for the process. The span object is
 * then garbage at once, rather than waiting seconds for its batch and being copied to the old generation meanwhile.
 *
 *     const batch = new ProtobufBatch(resource, scope);
 *     batch.add(span);                           // when the span ends
 *     const body = batch.take();                 // an ExportTraceServiceRequest, to POST; the batch is empty again
 */
import { SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { RecordedSpan } from './spans';

/** Resource attributes of every span (`service.name` among them) and the instrumentation scope's name. */
export interface ExportIdentity {
  resource: Attributes;
  scope: string;
}

/** A batch of encoded spans, of either protocol. */
export interface SpanBatch {
  readonly spans: number;
  readonly bytes: number;
  add(span: RecordedSpan): void;
  /**
   * The export request of every span added since the last `take`, as sent, and an empty batch again: one batch is
   * filled over and over, its buffer grown once to the size of a full batch.
   */
  take(): Buffer;
}

/** OTLP's span flags: the W3C trace flags, and whether the parent is known to be remote, and if so that it is. */
const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;

function spanFlags(span: RecordedSpan): number {
  // Every recorded span is sampled (trace flags 01).
  const { parent } = span;
  const remote = parent !== undefined && !(parent instanceof RecordedSpan) && parent.isRemote === true;
  return 0x01 | FLAGS_HAS_IS_REMOTE | (remote ? FLAGS_IS_REMOTE : 0);
}

/** The API's kinds count from INTERNAL = 0; OTLP's from UNSPECIFIED = 0, INTERNAL = 1. */
const otlpKind = (kind: number) => kind + 1;

// ---------------------------------------------------------------------------------------------------------------
// Protobuf

const LEN = 2;
const VARINT = 0;
const I64 = 1;
const I32 = 5;

/** A protobuf writer into one growing buffer; a nested message reserves one byte for its length, moved if longer. */
class ProtoWriter {
  buffer: Buffer;
  position = 0;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  private ensure(more: number): void {
    if (this.position + more <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + more));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** An unsigned varint, up to 2^53. */
  varint(value: number): void {
    this.ensure(10);
    while (value >= 0x80) {
      this.buffer[this.position++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buffer[this.position++] = value;
  }

  /** A signed 64-bit integer as protobuf's int64 writes it: a negative one is ten bytes of two's complement. */
  int64(value: number): void {
    if (value >= 0) return this.varint(value);
    this.ensure(10);
    let rest = BigInt.asUintN(64, BigInt(value));
    while (rest >= 0x80n) {
      this.buffer[this.position++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.buffer[this.position++] = Number(rest);
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.buffer.writeUInt32LE(value >>> 0, this.position);
    this.position += 4;
  }

  double(value: number): void {
    this.ensure(8);
    this.buffer.writeDoubleLE(value, this.position);
    this.position += 8;
  }

  /** A time in milliseconds since the epoch (with a fraction), as fixed64 nanoseconds. */
  time(milliseconds: number): void {
    const [low, high] = nanosecondHalves(milliseconds);
    this.ensure(8);
    this.buffer.writeUInt32LE(low, this.position);
    this.buffer.writeUInt32LE(high, this.position + 4);
    this.position += 8;
  }

  /** Starts a length-delimited field; `finish` with what this returns. */
  begin(field: number): number {
    this.tag(field, LEN);
    this.ensure(1);
    return this.position++;
  }

  finish(start: number): void {
    const length = this.position - start - 1;
    if (length < 0x80) {
      this.buffer[start] = length;
      return;
    }
    const extra = varintSize(length) - 1;
    this.ensure(extra);
    this.buffer.copyWithin(start + 1 + extra, start + 1, this.position);
    this.position += extra;
    const end = this.position;
    this.position = start;
    this.varint(length);
    this.position = end;
  }

  string(field: number, value: string): void {
    const start = this.begin(field);
    this.ensure(value.length * 3);
    const { buffer } = this;
    let position = this.position;
    // Most strings of a span are short and ASCII: copied here, they skip a call into the runtime.
    if (value.length <= SHORT_STRING) {
      for (let index = 0; index < value.length; index += 1) {
        const code = value.charCodeAt(index);
        if (code >= 0x80) {
          position = this.position + buffer.write(value, this.position, 'utf8');
          break;
        }
        buffer[position++] = code;
      }
      this.position = position;
    } else {
      this.position += buffer.write(value, this.position, 'utf8');
    }
    this.finish(start);
  }

  /** Bytes given in lowercase hex, as ids are. */
  hex(field: number, value: string): void {
    const length = value.length >>> 1;
    this.tag(field, LEN);
    this.varint(length);
    this.ensure(length);
    const { buffer } = this;
    for (let index = 0; index < length; index += 1) {
      buffer[this.position++] =
        (HEX_DIGITS[value.charCodeAt(2 * index)]! << 4) | HEX_DIGITS[value.charCodeAt(2 * index + 1)]!;
    }
  }

  /** A span id given as its two 32-bit halves, high first. */
  spanId(field: number, high: number, low: number): void {
    this.tag(field, LEN);
    this.ensure(9);
    this.buffer[this.position++] = 8;
    this.buffer.writeUInt32BE(high, this.position);
    this.buffer.writeUInt32BE(low, this.position + 4);
    this.position += 8;
  }

  /** Bytes as they are. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.position);
    this.position += bytes.length;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.position);
  }
}

/** Strings up to this length are copied by hand when ASCII. */
const SHORT_STRING = 64;

/** A hex digit's value by its character code (lowercase and uppercase). */
const HEX_DIGITS = new Uint8Array(128);
for (let digit = 0; digit < 16; digit += 1) {
  HEX_DIGITS[digit.toString(16).charCodeAt(0)] = digit;
  HEX_DIGITS[digit.toString(16).toUpperCase().charCodeAt(0)] = digit;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size += 1;
  }
  return size;
}

const TWO_21 = 2 ** 21;
const TWO_32 = 2 ** 32;

/**
 * Milliseconds since the epoch as nanoseconds, in two 32-bit halves (low, high): the nanoseconds themselves are
 * past 2^53, where a double loses whole nanoseconds, so the sum is carried in parts that stay exact.
 */
export function nanosecondHalves(milliseconds: number): [number, number] {
  const whole = Math.floor(milliseconds);
  const fraction = Math.min(Math.round((milliseconds - whole) * 1e6), 999_999);
  const upper = Math.floor(whole / TWO_21); // whole = upper * 2^21 + lower
  const lower = whole - upper * TWO_21;
  const low = lower * 1e6 + fraction; // < 2^42: exact
  const high = upper * 1e6; // the nanoseconds are high * 2^21 + low
  const highOver = Math.floor(high / 2 ** 11); // high * 2^21 = highOver * 2^32 + highUnder * 2^21
  const highUnder = high - highOver * 2 ** 11;
  const lowHalf = highUnder * TWO_21 + (low % TWO_32);
  return [lowHalf % TWO_32, highOver + Math.floor(low / TWO_32) + Math.floor(lowHalf / TWO_32)];
}

/** Milliseconds since the epoch as OTLP/JSON writes a time: nanoseconds, in decimal, as a string. */
export function nanosecondString(milliseconds: number): string {
  const seconds = Math.floor(milliseconds / 1000);
  const nanoseconds = Math.min(Math.round((milliseconds - seconds * 1000) * 1e6), 999_999_999);
  return seconds === 0 ? String(nanoseconds) : `${seconds}${String(nanoseconds).padStart(9, '0')}`;
}

/** OTLP's AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array, 6 key-value list, 7 bytes; nothing for null. */
function writeAnyValue(writer: ProtoWriter, field: number, value: unknown): void {
  const start = writer.begin(field);
  if (typeof value === 'string') {
    writer.string(1, value);
  } else if (typeof value === 'boolean') {
    writer.tag(2, VARINT);
    writer.varint(value ? 1 : 0);
  } else if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) {
      writer.tag(3, VARINT);
      writer.int64(value);
    } else {
      writer.tag(4, I64);
      writer.double(value);
    }
  } else if (Array.isArray(value)) {
    const array = writer.begin(5);
    for (const each of value) writeAnyValue(writer, 1, each);
    writer.finish(array);
  } else if (value instanceof Uint8Array) {
    const bytes = writer.begin(7);
    writer.raw(value);
    writer.finish(bytes);
  } else if (typeof value === 'object' && value !== null) {
    const list = writer.begin(6);
    writeAttributes(writer, 1, value as Attributes);
    writer.finish(list);
  }
  writer.finish(start);
}

function writeAttributes(writer: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
    const known = knownKey(key);
    if (value === known.lastValue && known.pair !== undefined && field === 9) {
      writer.raw(known.pair);
      continue;
    }
    const start = writer.begin(field);
    writer.raw(known.field);
    writeAnyValue(writer, 2, value);
    writer.finish(start);
    if (field !== 9 || typeof value === 'object') continue;
    // A span's attribute that has the same value as last time is copied whole from then on (a method, a host, a
    // route, the document of a query sent again and again).
    if (value === known.lastValue) known.pair = Buffer.from(writer.buffer.subarray(start - 1, writer.position));
    else {
      known.lastValue = value;
      known.pair = undefined;
    }
  }
}

/**
 * What is known of an attribute key: its encoding (KeyValue's field 1), the value it had last, and, once the same
 * value came twice in a row, the whole KeyValue with it (as a span's attribute, field 9). A server's keys are few and
 * written on every span.
 */
interface KnownKey {
  field: Buffer;
  lastValue: unknown;
  pair: Buffer | undefined;
}

const knownKeys = new Map<string, KnownKey>();
const MAX_KNOWN_KEYS = 512;

function knownKey(key: string): KnownKey {
  let known = knownKeys.get(key);
  if (known === undefined) {
    const writer = new ProtoWriter(key.length * 3 + 8);
    writer.string(1, key);
    known = { field: Buffer.from(writer.bytes()), lastValue: undefined, pair: undefined };
    if (knownKeys.size < MAX_KNOWN_KEYS) knownKeys.set(key, known);
  }
  return known;
}

/** A span, as a `spans` entry (field 2) of a ScopeSpans message. */
function writeSpan(writer: ProtoWriter, span: RecordedSpan): void {
  const start = writer.begin(2);
  const { trace, parent } = span;
  trace.bytes ??= Buffer.from(trace.id, 'hex');
  writer.tag(1, LEN);
  writer.varint(trace.bytes.length);
  writer.raw(trace.bytes);
  writer.spanId(2, span.idHigh, span.idLow);
  const traceState = trace.state?.serialize();
  if (traceState) writer.string(3, traceState);
  if (parent instanceof RecordedSpan) writer.spanId(4, parent.idHigh, parent.idLow);
  else if (parent) writer.hex(4, parent.spanId);
  writer.string(5, span.name);
  writer.tag(6, VARINT);
  writer.varint(otlpKind(span.kind));
  writer.tag(7, I64);
  writer.time(span.startTime);
  writer.tag(8, I64);
  writer.time(span.endTime);
  writeAttributes(writer, 9, span.attributes);
  for (const event of span.events) {
    const eventStart = writer.begin(11);
    writer.tag(1, I64);
    writer.time(event.time);
    writer.string(2, event.name);
    if (event.attributes) writeAttributes(writer, 3, event.attributes);
    writer.finish(eventStart);
  }
  const { code, message } = span.status;
  if (code !== SpanStatusCode.UNSET || message) {
    const statusStart = writer.begin(15);
    if (message) writer.string(2, message);
    if (code !== SpanStatusCode.UNSET) {
      writer.tag(3, VARINT);
      writer.varint(code);
    }
    writer.finish(statusStart);
  }
  writer.tag(16, I32);
  writer.fixed32(spanFlags(span));
  writer.finish(start);
}

/** The Resource and InstrumentationScope messages, encoded once: the same in every export. */
export function protobufIdentity(identity: ExportIdentity): { resource: Buffer; scope: Buffer } {
  const resource = new ProtoWriter(256);
  const resourceStart = resource.begin(1); // ResourceSpans.resource
  writeAttributes(resource, 1, identity.resource);
  resource.finish(resourceStart);
  const scope = new ProtoWriter(64);
  const scopeStart = scope.begin(1); // ScopeSpans.scope
  scope.string(1, identity.scope);
  scope.finish(scopeStart);
  return { resource: Buffer.from(resource.bytes()), scope: Buffer.from(scope.bytes()) };
}

/** Spans encoded in protobuf as they end, sent as one ExportTraceServiceRequest. */
export class ProtobufBatch implements SpanBatch {
  private readonly writer = new ProtoWriter(16 * 1024);
  spans = 0;

  constructor(private readonly identity: { resource: Buffer; scope: Buffer }) {}

  get bytes(): number {
    return this.writer.position;
  }

  add(span: RecordedSpan): void {
    writeSpan(this.writer, span);
    this.spans += 1;
  }

  take(): Buffer {
    const spans = this.writer.bytes();
    const scopeSpans = this.identity.scope.length + spans.length;
    const request = new ProtoWriter(this.identity.resource.length + scopeSpans + 32);
    const resourceSpans = request.begin(1); // ExportTraceServiceRequest.resource_spans
    request.raw(this.identity.resource);
    request.tag(2, LEN); // ResourceSpans.scope_spans
    request.varint(scopeSpans);
    request.raw(this.identity.scope);
    request.raw(spans);
    request.finish(resourceSpans);
    this.writer.position = 0;
    this.spans = 0;
    return request.bytes();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON

type JsonValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: JsonValue[] } }
  | { kvlistValue: { values: Array<{ key: string; value: JsonValue }> } }
  | { bytesValue: string }
  | Record<string, never>;

/** OTLP/JSON's AnyValue: int64 in decimal strings, bytes in base64. */
function jsonValue(value: unknown): JsonValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  }
  if (Array.isArray(value)) return { arrayValue: { values: value.map(jsonValue) } };
  if (value instanceof Uint8Array) return { bytesValue: Buffer.from(value).toString('base64') };
  if (typeof value === 'object' && value !== null) {
    return { kvlistValue: { values: jsonAttributes(value as Attributes) } };
  }
  return {};
}

function jsonAttributes(attributes: Attributes): Array<{ key: string; value: JsonValue }> {
  const list: Array<{ key: string; value: JsonValue }> = [];
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) list.push({ key, value: jsonValue(value) });
  }
  return list;
}

/** A span as OTLP/JSON writes it: ids in hex, times as decimal strings, enums as numbers. */
function jsonSpan(span: RecordedSpan): object {
  const traceState = span.traceState?.serialize();
  const { code, message } = span.status;
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    ...(traceState ? { traceState } : {}),
    ...(span.parentSpanContext ? { parentSpanId: span.parentSpanContext.spanId } : {}),
    flags: spanFlags(span),
    name: span.name,
    kind: otlpKind(span.kind),
    startTimeUnixNano: nanosecondString(span.startTime),
    endTimeUnixNano: nanosecondString(span.endTime),
    attributes: jsonAttributes(span.attributes),
    events: span.events.map((event) => ({
      timeUnixNano: nanosecondString(event.time),
      name: event.name,
      attributes: event.attributes ? jsonAttributes(event.attributes) : [],
    })),
    status: { ...(message ? { message } : {}), code },
  };
}

/** Spans written in JSON as they end, sent as one ExportTraceServiceRequest. */
export class JsonBatch implements SpanBatch {
  private encoded: string[] = [];
  bytes = 0;
  /** The resource and the scope as written, once: the same in every export. */
  private readonly resource: string;
  private readonly scope: string;

  constructor(identity: ExportIdentity) {
    this.resource = JSON.stringify({ attributes: jsonAttributes(identity.resource) });
    this.scope = JSON.stringify({ name: identity.scope });
  }

  get spans(): number {
    return this.encoded.length;
  }

  add(span: RecordedSpan): void {
    const encoded = JSON.stringify(jsonSpan(span));
    this.encoded.push(encoded);
    this.bytes += encoded.length;
  }

  take(): Buffer {
    const spans = this.encoded.join(',');
    this.encoded = [];
    this.bytes = 0;
    return Buffer.from(
      `{"resourceSpans":[{"resource":${this.resource},"scopeSpans":[{"scope":${this.scope},"spans":[${spans}]}]}]}`,
      'utf8',
    );
  }
}
