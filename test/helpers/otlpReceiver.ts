/**
 * Test helper: a small OTLP/HTTP trace receiver on a free port, as a collector would stand in front of a tracing
 * backend. It takes `POST /v1/traces` in both protocols (protobuf and JSON), gzipped or not, keeps the bodies as
 * encoded by the exporter, unzipped (to look for what must never be exported), and the spans, read into one shape.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { gunzipSync } from 'node:zlib';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's kind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  events: string[];
  serviceName: string | undefined;
  /** Nanoseconds since the epoch, in decimal. */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** OTLP's status: code 0 unset, 1 ok, 2 error; message '' when none. */
  status: { code: number; message: string };
  /** OTLP's span flags: the W3C trace flags, 0x100 when whether the parent is remote is known, 0x200 when it is. */
  flags: number;
  traceState: string;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Every body received, as sent. */
  bodies: Buffer[];
  /** The content types the exports came with. */
  contentTypes: string[];
  /** The content encodings the exports came with ('' for none). */
  contentEncodings: string[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const bodies: Buffer[] = [];
  const contentTypes: string[] = [];
  const contentEncodings: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const encoding = request.headers['content-encoding'] ?? '';
      contentEncodings.push(encoding);
      // Kept as the exporter meant it, so that what a test reads (and looks through for secrets) is the spans.
      const sent = Buffer.concat(chunks);
      const body = encoding === 'gzip' ? gunzipSync(sent) : sent;
      bodies.push(body);
      const type = request.headers['content-type'] ?? '';
      contentTypes.push(type);
      spans.push(...decodeExport(body, type));
      response.writeHead(200, { 'content-type': type.includes('json') ? 'application/json' : type });
      response.end(type.includes('json') ? '{}' : '');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    spans,
    bodies,
    contentTypes,
    contentEncodings,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The spans of one export's body, in either protocol, as its content type says. */
export function decodeExport(body: Buffer, contentType: string): ReceivedSpan[] {
  return contentType.includes('json') ? fromJson(JSON.parse(body.toString('utf8'))) : fromProtobuf(body);
}

interface JsonKeyValue {
  key: string;
  value: Record<string, unknown>;
}

/** OTLP/JSON: ids are hex strings, values one of `stringValue`, `intValue`, `boolValue`, `doubleValue`, `arrayValue`. */
function fromJson(request: {
  resourceSpans?: Array<{
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: Array<{
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        traceState?: string;
        flags?: number;
        name: string;
        kind: number;
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
        attributes?: JsonKeyValue[];
        events?: Array<{ name: string }>;
        status?: { code?: number; message?: string };
      }>;
    }>;
  }>;
}): ReceivedSpan[] {
  const value = (any: Record<string, unknown>): unknown =>
    'stringValue' in any
      ? any.stringValue
      : 'intValue' in any
        ? Number(any.intValue)
        : 'boolValue' in any
          ? any.boolValue
          : 'doubleValue' in any
            ? any.doubleValue
            : 'arrayValue' in any
              ? ((any.arrayValue as { values?: Array<Record<string, unknown>> }).values ?? []).map(value)
              : undefined;
  const attributes = (list: JsonKeyValue[] = []) => Object.fromEntries(list.map((kv) => [kv.key, value(kv.value)]));
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const serviceName = attributes(resourceSpans.resource?.attributes)['service.name'] as string | undefined;
    return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? '',
        name: span.name,
        kind: span.kind,
        attributes: attributes(span.attributes),
        events: (span.events ?? []).map((event) => event.name),
        serviceName,
        startTimeUnixNano: String(span.startTimeUnixNano),
        endTimeUnixNano: String(span.endTimeUnixNano),
        status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
        flags: span.flags ?? 0,
        traceState: span.traceState ?? '',
      })),
    );
  });
}

/** One field of a protobuf message: its number, and its bytes (length-delimited) or number (varint, fixed). */
interface Field {
  number: number;
  bytes?: Buffer;
  value?: bigint;
}

/** The fields of a protobuf message, by the wire format alone (varint, 64-bit, length-delimited, 32-bit). */
function fieldsOf(message: Buffer): Field[] {
  const fields: Field[] = [];
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = message[offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
  };
  while (offset < message.length) {
    const key = Number(varint());
    const number = key >>> 3;
    switch (key & 7) {
      case 0:
        fields.push({ number, value: varint() });
        break;
      case 1:
        fields.push({ number, value: message.readBigUInt64LE(offset) });
        offset += 8;
        break;
      case 2: {
        const length = Number(varint());
        fields.push({ number, bytes: message.subarray(offset, offset + length) });
        offset += length;
        break;
      }
      case 5:
        fields.push({ number, value: BigInt(message.readUInt32LE(offset)) });
        offset += 4;
        break;
      default:
        throw new Error(`unknown protobuf wire type in field ${number}`);
    }
  }
  return fields;
}

const field = (fields: Field[], number: number) => fields.filter((candidate) => candidate.number === number);

/** OTLP's AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array. */
function anyValue(message: Buffer): unknown {
  const [first] = fieldsOf(message);
  if (!first) return undefined;
  switch (first.number) {
    case 1:
      return first.bytes!.toString('utf8');
    case 2:
      return first.value === 1n;
    case 3:
      return Number(BigInt.asIntN(64, first.value!));
    case 4: {
      const buffer = Buffer.alloc(8);
      buffer.writeBigUInt64LE(first.value!);
      return buffer.readDoubleLE(0);
    }
    case 5:
      return field(fieldsOf(first.bytes!), 1).map((item) => anyValue(item.bytes!));
    default:
      return undefined;
  }
}

/** KeyValue: 1 key, 2 value. */
function attributesOf(list: Field[]): Record<string, unknown> {
  return Object.fromEntries(
    list.map((kv) => {
      const fields = fieldsOf(kv.bytes!);
      return [field(fields, 1)[0]!.bytes!.toString('utf8'), anyValue(field(fields, 2)[0]?.bytes ?? Buffer.alloc(0))];
    }),
  );
}

/**
 * OTLP/protobuf's ExportTraceServiceRequest: resource_spans (1) → resource (1: attributes 1), scope_spans (2) →
 * spans (2) → trace_id 1, span_id 2, trace_state 3, parent_span_id 4, name 5, kind 6, start and end times 7 and 8,
 * attributes 9, events 11 (name 2), status 15 (message 2, code 3), flags 16.
 */
function fromProtobuf(body: Buffer): ReceivedSpan[] {
  return field(fieldsOf(body), 1).flatMap((resourceSpans) => {
    const resourceFields = fieldsOf(resourceSpans.bytes!);
    const resource = field(resourceFields, 1)[0];
    const serviceName = resource
      ? (attributesOf(field(fieldsOf(resource.bytes!), 1))['service.name'] as string)
      : undefined;
    return field(resourceFields, 2).flatMap((scopeSpans) =>
      field(fieldsOf(scopeSpans.bytes!), 2).map((spanField) => {
        const span = fieldsOf(spanField.bytes!);
        const hex = (number: number) => field(span, number)[0]?.bytes?.toString('hex') ?? '';
        return {
          traceId: hex(1),
          spanId: hex(2),
          parentSpanId: hex(4),
          name: field(span, 5)[0]!.bytes!.toString('utf8'),
          kind: Number(field(span, 6)[0]?.value ?? 0n),
          attributes: attributesOf(field(span, 9)),
          events: field(span, 11).map((event) => field(fieldsOf(event.bytes!), 2)[0]!.bytes!.toString('utf8')),
          serviceName,
          startTimeUnixNano: String(field(span, 7)[0]?.value ?? 0n),
          endTimeUnixNano: String(field(span, 8)[0]?.value ?? 0n),
          status: statusOf(field(span, 15)[0]?.bytes),
          flags: Number(field(span, 16)[0]?.value ?? 0n),
          traceState: field(span, 3)[0]?.bytes?.toString('utf8') ?? '',
        };
      }),
    );
  });
}

/** Status: 2 message, 3 code. */
function statusOf(message: Buffer | undefined): { code: number; message: string } {
  const fields = message ? fieldsOf(message) : [];
  return {
    code: Number(field(fields, 3)[0]?.value ?? 0n),
    message: field(fields, 2)[0]?.bytes?.toString('utf8') ?? '',
  };
}
