/**
 * The spans' OTLP encodings, read back by a decoder written from the protocol's definitions alone (the test
 * receiver's, which read the OpenTelemetry SDK's exports before this encoder existed): every attribute type, events,
 * status, a remote parent, a trace state, times to the nanosecond, and lengths past one byte's varint.
 */
import fc from 'fast-check';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  JsonBatch,
  ProtobufBatch,
  nanosecondHalves,
  nanosecondString,
  protobufIdentity,
  type ExportIdentity,
} from '../../src/tracing/otlpEncoding';
import { Tracing } from '../../src/tracing/tracing';
import type { RecordedSpan } from '../../src/tracing/spans';
import { SpansInMemory } from '../helpers/spansInMemory';
import { decodeExport } from '../helpers/otlpReceiver';

const identity: ExportIdentity = {
  resource: { 'service.name': 'portal-graphql', 'deployment.environment.name': 'test' },
  scope: 'portal-graphql',
};

/** Exact nanoseconds of a time in milliseconds, by BigInt: the whole milliseconds, then the fraction's nanoseconds. */
function exactNanoseconds(milliseconds: number): bigint {
  const whole = Math.floor(milliseconds);
  return BigInt(whole) * 1_000_000n + BigInt(Math.min(Math.round((milliseconds - whole) * 1e6), 999_999));
}

describe('times', () => {
  test('nanoseconds past 2^53 are written exactly, in protobuf halves and in JSON decimal', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 4e12, noNaN: true }), (milliseconds) => {
        const [low, high] = nanosecondHalves(milliseconds);
        const exact = exactNanoseconds(milliseconds);
        expect((BigInt(high) << 32n) | BigInt(low)).toBe(exact);
        // JSON's decimal splits at seconds, not milliseconds: the two may round the last nanosecond apart.
        const decimal = BigInt(nanosecondString(milliseconds));
        expect(decimal - exact <= 1n && exact - decimal <= 1n).toBe(true);
      }),
    );
  });

  test('a time of today, by hand', () => {
    const milliseconds = 1_796_000_000_123.456;
    const [low, high] = nanosecondHalves(milliseconds);
    // 1,796,000,000,123.456 ms is 1,796,000,000,123,456,000 ns, give or take the double's last bits.
    const written = (BigInt(high) << 32n) | BigInt(low);
    expect(Number(written - 1_796_000_000_123_456_000n)).toBeLessThan(1000);
    expect(nanosecondString(milliseconds)).toMatch(/^1796000000123456\d{3}$/);
  });
});

describe.each([
  ['http/protobuf', () => new ProtobufBatch(protobufIdentity(identity)), 'application/x-protobuf'],
  ['http/json', () => new JsonBatch(identity), 'application/json'],
] as const)('%s', (_protocol, newBatch, contentType) => {
  /** Spans made as the server makes them, ended, encoded into one batch and read back. */
  function roundTrip(make: (tracing: Tracing) => void): {
    sent: RecordedSpan[];
    read: ReturnType<typeof decodeExport>;
  } {
    const sink = new SpansInMemory();
    make(Tracing.withSink(sink));
    const batch = newBatch();
    for (const span of sink.finished()) batch.add(span);
    expect(batch.spans).toBe(sink.finished().length);
    return { sent: sink.finished(), read: decodeExport(batch.take(), contentType) };
  }

  test('attributes that repeat from span to span, copied whole once seen twice, read back as each span set them', () => {
    const values = ['GET', 'GET', 'GET', 'POST', 'GET', 'GET', 'POST', 'POST', 'GET', 'POST', 'GET', 'GET', 'POST'];
    // Six ports, each twice in a row, then the first ones again: a value kept whole, given up for the next, and seen
    // again.
    const port = (index: number) => 8080 + (Math.floor(index / 2) % 6);
    const { read } = roundTrip((tracing) => {
      const root = tracing.startServerSpan('POST', {}, {});
      values.forEach((method, index) =>
        tracing
          .startChild(root, `call ${index}`, {
            'http.request.method': method,
            'server.port': port(index),
            'url.full': `http://portal/api/license/show/${index % 3}`,
            'graphql.error.codes': ['FORBIDDEN'],
          })
          .end(),
      );
      root.end();
    });
    expect(read.filter((span) => span.name.startsWith('call')).map((span) => span.attributes)).toEqual(
      values.map((method, index) => ({
        'http.request.method': method,
        'server.port': port(index),
        'url.full': `http://portal/api/license/show/${index % 3}`,
        'graphql.error.codes': ['FORBIDDEN'],
      })),
    );
  });

  test('a batch taken is empty again, and the next request carries only the spans added since', () => {
    const sink = new SpansInMemory();
    const tracing = Tracing.withSink(sink);
    const batch = newBatch();
    const first = tracing.startServerSpan('POST', {}, { round: 1 });
    first.end();
    batch.add(sink.finished()[0]!);
    const firstRead = decodeExport(batch.take(), contentType);
    expect(batch.spans).toBe(0);
    expect(batch.bytes).toBe(0);
    const second = tracing.startServerSpan('GET', {}, { round: 2 });
    tracing.startChild(second, 'graphql.parse').end();
    second.end();
    for (const span of sink.finished().slice(1)) batch.add(span);
    const secondRead = decodeExport(batch.take(), contentType);
    expect(firstRead.map((span) => [span.name, span.attributes])).toEqual([['POST', { round: 1 }]]);
    expect(secondRead.map((span) => [span.name, span.parentSpanId])).toEqual([
      ['graphql.parse', second.spanContext().spanId],
      ['GET', ''],
    ]);
  });

  test('every attribute type, events, status, parent and times come back as they were', () => {
    const long = `query ${'{ license(id: 0) { id hwid } } '.repeat(20)}`; // past 127 bytes: a two-byte length
    const everyType = {
      'text.ascii': 'plain',
      'text.unicode': 'Žilina — 東京 ✓',
      'text.long': long,
      'flag.true': true,
      'flag.false': false,
      'count.zero': 0,
      'count.negative': -42,
      'count.large': 2 ** 40 + 7,
      ratio: 0.25,
      codes: ['FORBIDDEN', 'NOT_FOUND'],
      numbers: [1, 2, 3],
    };
    const { sent, read } = roundTrip((tracing) => {
      const root = tracing.startServerSpan('POST', {}, { 'http.request.method': 'POST' });
      const child = tracing.startChild(root, 'GET /api/license/show/{id}', { 'server.port': 8080 }, SpanKind.CLIENT);
      child.setAttributes(everyType);
      child.addEvent('exception', { 'exception.type': 'FORBIDDEN' });
      child.addEvent('retried');
      child.setStatus({ code: SpanStatusCode.ERROR, message: 'FORBIDDEN' });
      child.end();
      root.end();
    });
    expect(read).toHaveLength(2);
    const [child, root] = read;
    expect(root).toMatchObject({
      traceId: sent[1]!.traceId,
      spanId: sent[1]!.spanId,
      parentSpanId: '',
      name: 'POST',
      kind: 2, // OTLP's SERVER
      attributes: { 'http.request.method': 'POST' },
      serviceName: 'portal-graphql',
      status: { code: 0, message: '' },
      flags: 0x101, // sampled; whether the parent is remote is known (there is none)
    });
    expect(child).toMatchObject({
      traceId: root!.traceId,
      parentSpanId: root!.spanId,
      name: 'GET /api/license/show/{id}',
      kind: 3, // OTLP's CLIENT
      events: ['exception', 'retried'],
      status: { code: 2, message: 'FORBIDDEN' },
    });
    expect(child!.attributes).toEqual({ 'server.port': 8080, ...everyType });
    for (const [span, original] of [
      [child!, sent[0]!],
      [root!, sent[1]!],
    ] as const) {
      const start = BigInt(span.startTimeUnixNano);
      const end = BigInt(span.endTimeUnixNano);
      expect(Number(start - exactNanoseconds(original.startTime))).toBeLessThanOrEqual(1);
      expect(end >= start).toBe(true);
      expect(Math.abs(Number(start / 1_000_000n) - Date.now())).toBeLessThan(60_000);
    }
  });

  test("a client's parent is marked remote, and its trace state is kept on every span of the trace", () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const { read } = roundTrip((tracing) => {
      const root = tracing.startServerSpan(
        'POST',
        { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=abc,other=1' },
        {},
      );
      tracing.startChild(root, 'graphql.parse').end();
      root.end();
    });
    const [child, root] = read;
    expect(root).toMatchObject({ traceId, parentSpanId: '00f067aa0ba902b7', flags: 0x301 });
    expect(child).toMatchObject({ traceId, parentSpanId: root!.spanId, flags: 0x101 });
    expect(root!.traceState).toBe('vendor=abc,other=1');
    expect(child!.traceState).toBe('vendor=abc,other=1');
  });

  test('a batch of hundreds of spans reads back whole, in order', () => {
    const { sent, read } = roundTrip((tracing) => {
      for (let index = 0; index < 600; index += 1) {
        const root = tracing.startServerSpan(`request ${index}`, {}, { index });
        root.end();
      }
    });
    expect(read.map((span) => span.name)).toEqual(sent.map((span) => span.name));
    expect(read.map((span) => span.attributes.index)).toEqual(sent.map((_span, index) => index));
  });
});
