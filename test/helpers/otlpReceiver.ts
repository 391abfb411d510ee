/**
 * Test helper: a small OTLP/HTTP trace receiver on a free port, as a collector would stand in front of a tracing
 * backend. It takes `POST /v1/traces` in both protocols (protobuf and JSON), gzipped or not, and reads them with
 * OpenTelemetry's own protobuf definitions: the generated root of `@opentelemetry/otlp-transformer` 0.216, the last
 * release to ship one, installed as `otlp-protobuf-root` (only that file is loaded, and it needs only protobufjs).
 * It keeps every export (when it came, its spans, how it was answered), the bodies unzipped (to look for what must
 * never be exported), and answers as a test tells it: a status with headers and a body, or not until released.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { gunzipSync } from 'node:zlib';
import otlpRoot from 'otlp-protobuf-root/build/src/generated/root';

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

/** How the receiver answers an export: a status (with headers and a body), or 'hold' to answer 200 on `release`. */
type Answer = { status: number; headers?: Record<string, string>; body?: Uint8Array } | 'hold';

interface ReceivedExport {
  /** When it arrived, by `performance.now()`. */
  at: number;
  spans: ReceivedSpan[];
  answer: Answer;
}

export interface OtlpReceiver {
  /** The receiver's origin, for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  /** Its traces endpoint, for `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`. */
  tracesUrl: string;
  /** The spans of every export it took (answered 2xx, or held). */
  spans: ReceivedSpan[];
  /** Every export, taken or not, in the order they came. */
  exports: ReceivedExport[];
  /** Every body received, unzipped. */
  bodies: Buffer[];
  /** The content types the exports came with. */
  contentTypes: string[];
  /** The content encodings the exports came with ('' for none). */
  contentEncodings: string[];
  /** How the next exports are answered, in order; 200 once none is left. */
  answers: Answer[];
  /** Answers 200 to every export held so far. */
  release(): void;
  close(): Promise<void>;
}

/** The OTLP messages this receiver reads and writes, as the generated root names them. */
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = (otlpRoot as unknown as GeneratedRoot).opentelemetry
  .proto.collector.trace.v1;

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: Omit<OtlpReceiver, 'url' | 'tracesUrl' | 'close' | 'release'> = {
    spans: [],
    exports: [],
    bodies: [],
    contentTypes: [],
    contentEncodings: [],
    answers: [],
  };
  const held: ServerResponse[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = performance.now();
      const encoding = request.headers['content-encoding'] ?? '';
      receiver.contentEncodings.push(encoding);
      const sent = Buffer.concat(chunks);
      const body = encoding === 'gzip' ? gunzipSync(sent) : sent;
      receiver.bodies.push(body);
      const type = request.headers['content-type'] ?? '';
      receiver.contentTypes.push(type);
      const spans = decodeExport(body, type);
      const answer = receiver.answers.shift() ?? { status: 200 };
      receiver.exports.push({ at, spans, answer });
      if (answer === 'hold') {
        receiver.spans.push(...spans);
        held.push(response);
        return;
      }
      if (answer.status >= 200 && answer.status < 300) receiver.spans.push(...spans);
      response.writeHead(answer.status, { 'content-type': type, ...answer.headers });
      response.end(answer.body ?? (type.includes('json') ? '{}' : ''));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    ...receiver,
    url,
    tracesUrl: `${url}/v1/traces`,
    release: () => held.splice(0).forEach((response) => response.writeHead(200).end()),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A protobuf answer of partial success: the receiver took the export but rejected `rejectedSpans` of its spans. */
export function partialSuccess(rejectedSpans: number, errorMessage: string): Uint8Array {
  return ExportTraceServiceResponse.encode({ partialSuccess: { rejectedSpans, errorMessage } }).finish();
}

/**
 * The spans of one export's body, as its content type says. OTLP/JSON is OTLP/protobuf's JSON mapping with ids in hex:
 * they are made bytes, and the object is then read as the protobuf message it stands for.
 */
function decodeExport(body: Buffer, contentType: string): ReceivedSpan[] {
  const request = contentType.includes('json')
    ? ExportTraceServiceRequest.fromObject(idsAsBytes(JSON.parse(body.toString('utf8'))))
    : ExportTraceServiceRequest.decode(body);
  return request.resourceSpans.flatMap(({ resource, scopeSpans }) => {
    const serviceName = attributesOf(resource?.attributes)['service.name'] as string | undefined;
    return scopeSpans.flatMap(({ spans }) =>
      spans.map((span) => ({
        traceId: hex(span.traceId),
        spanId: hex(span.spanId),
        parentSpanId: hex(span.parentSpanId),
        name: span.name,
        kind: span.kind,
        attributes: attributesOf(span.attributes),
        events: span.events.map((event) => event.name),
        serviceName,
        startTimeUnixNano: String(span.startTimeUnixNano),
        endTimeUnixNano: String(span.endTimeUnixNano),
        status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
        flags: span.flags,
        traceState: span.traceState,
      })),
    );
  });
}

const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('hex');

/** A copy of an OTLP/JSON value with its hex ids (`traceId`, `spanId`, `parentSpanId`) as bytes. */
function idsAsBytes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(idsAsBytes);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      /^(traceId|spanId|parentSpanId)$/.test(key) && typeof field === 'string'
        ? Buffer.from(field, 'hex')
        : idsAsBytes(field),
    ]),
  );
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

/** An AnyValue as JavaScript: whichever of its fields is set (`value` names it). */
function valueOf(any: AnyValue | undefined): unknown {
  switch (any?.value) {
    case 'stringValue':
      return any.stringValue;
    case 'boolValue':
      return any.boolValue;
    case 'intValue':
      return Number(String(any.intValue));
    case 'doubleValue':
      return any.doubleValue;
    case 'arrayValue':
      return (any.arrayValue?.values ?? []).map(valueOf);
    case 'kvlistValue': // no span of this server has one
    case 'bytesValue':
    case undefined:
      return undefined;
  }
}

/** The parts of the generated root read here, as protobufjs makes them (int64 fields are `Long`s, or numbers). */
interface GeneratedRoot {
  opentelemetry: {
    proto: {
      collector: {
        trace: {
          v1: {
            ExportTraceServiceRequest: {
              decode(body: Uint8Array): ExportRequest;
              fromObject(object: unknown): ExportRequest;
            };
            ExportTraceServiceResponse: {
              encode(response: { partialSuccess: { rejectedSpans: number; errorMessage: string } }): {
                finish(): Uint8Array;
              };
            };
          };
        };
      };
    };
  };
}

interface ExportRequest {
  resourceSpans: Array<{
    resource?: { attributes: KeyValue[] };
    scopeSpans: Array<{ spans: SpanMessage[] }>;
  }>;
}

interface SpanMessage {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  traceState: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: { toString(): string } | number;
  endTimeUnixNano: { toString(): string } | number;
  attributes: KeyValue[];
  events: Array<{ name: string }>;
  status?: { code: number; message: string };
}

interface KeyValue {
  key: string;
  value?: AnyValue;
}

interface AnyValue {
  value?: 'stringValue' | 'boolValue' | 'intValue' | 'doubleValue' | 'arrayValue' | 'kvlistValue' | 'bytesValue';
  stringValue?: string;
  boolValue?: boolean;
  intValue?: { toString(): string } | number;
  doubleValue?: number;
  arrayValue?: { values: AnyValue[] };
}
