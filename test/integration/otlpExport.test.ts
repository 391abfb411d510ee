/**
 * The OTLP export against a real receiver on a free port, which a test tells how to answer: batches go when full or
 * on shutdown, a busy receiver is retried, spans past the queue's bound are dropped and counted, and a failing
 * export is logged once and its working again once. And sampling: which spans are recorded, and what `traceparent`
 * the portal is sent when a span is not.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { OtlpExport, type OtlpExportOptions } from '../../src/tracing/otlpExport';
import { Tracing } from '../../src/tracing/tracing';
import { decodeExport } from '../helpers/otlpReceiver';
import { SpansInMemory } from '../helpers/spansInMemory';
import type { TraceSamplerName } from '../../src/config';

interface Receiver {
  url: string;
  /** Names of the spans received, by export. */
  exports: string[][];
  /** How the next requests are answered: a status, or 'hold' to answer only when `release` is called. */
  answers: Array<number | 'hold'>;
  release(): void;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const exports: string[][] = [];
  const answers: Array<number | 'hold'> = [];
  const held: ServerResponse[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = answers.shift() ?? 200;
      if (answer === 'hold') {
        held.push(response);
        exports.push(decodeExport(Buffer.concat(chunks), request.headers['content-type'] ?? '').map((s) => s.name));
        return;
      }
      if (answer === 200) {
        exports.push(decodeExport(Buffer.concat(chunks), request.headers['content-type'] ?? '').map((s) => s.name));
      }
      response.writeHead(answer).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    exports,
    answers,
    release: () => held.splice(0).forEach((response) => response.writeHead(200).end()),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

let receiver: Receiver;
beforeEach(async () => {
  receiver = await startReceiver();
});
afterEach(() => receiver.close());

/** An export to the test's receiver, its log lines kept, and a tracing that sends to it. */
function exportTo(options: Partial<OtlpExportOptions> = {}) {
  const lines: Array<[string, string, object]> = [];
  const sink = new OtlpExport({
    url: receiver.url,
    protocol: 'http/protobuf',
    headers: {},
    identity: { resource: { 'service.name': 'portal-graphql' }, scope: 'portal-graphql' },
    log: {
      warn: (details, message) => lines.push(['warn', message, details]),
      info: (details, message) => lines.push(['info', message, details]),
    },
    scheduleDelayMs: 60_000,
    retryDelayMs: 1,
    ...options,
  });
  const tracing = Tracing.withSink(sink);
  const spans = (count: number, prefix = 'span') => {
    for (let index = 0; index < count; index += 1) tracing.startServerSpan(`${prefix} ${index}`, {}, {}).end();
  };
  return { sink, spans, lines };
}

const until = async (condition: () => boolean) => {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 5000) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

test('a full batch goes at once; the rest waits for shutdown, which sends it', async () => {
  const { sink, spans } = exportTo({ maxBatchSpans: 3 });
  spans(4);
  await until(() => receiver.exports.length === 1);
  expect(receiver.exports).toEqual([['span 0', 'span 1', 'span 2']]);
  await sink.shutdown();
  expect(receiver.exports).toEqual([['span 0', 'span 1', 'span 2'], ['span 3']]);
  expect(sink.counts).toEqual({ sent: 4, dropped: 0 });
});

test('a busy receiver is retried, and the batch arrives once', async () => {
  receiver.answers.push(503, 429);
  const { sink, spans, lines } = exportTo({ maxBatchSpans: 2 });
  spans(2);
  await until(() => sink.counts.sent === 2);
  expect(receiver.exports).toEqual([['span 0', 'span 1']]);
  expect(sink.counts.dropped).toBe(0);
  expect(lines).toEqual([]);
  await sink.shutdown();
  expect(receiver.exports).toHaveLength(1);
});

test('a refused export is dropped and logged once; its working again is logged once, with what was lost', async () => {
  receiver.answers.push(400, 400);
  const { sink, spans, lines } = exportTo({ maxBatchSpans: 1 });
  spans(2, 'refused');
  await until(() => sink.counts.dropped === 2);
  spans(1, 'accepted');
  await until(() => sink.counts.sent === 1);
  expect(receiver.exports).toEqual([['accepted 0']]);
  expect(
    lines.map(([level, message, details]) => [level, message, 'dropped' in details ? details.dropped : '']),
  ).toEqual([
    ['warn', 'Trace export failed: spans are dropped until it works again', ''],
    ['info', 'Trace export works again', 2],
  ]);
  await sink.shutdown();
});

test('past the queue bound new spans are dropped and counted, not held; the requests never wait', async () => {
  receiver.answers.push('hold');
  const { sink, spans, lines } = exportTo({ maxBatchSpans: 2, maxQueuedSpans: 4 });
  spans(2, 'first'); // sent, and held by the receiver
  await until(() => receiver.exports.length === 1);
  // The two being sent count against the bound: two more wait, three are dropped.
  spans(5, 'next');
  expect(sink.counts.dropped).toBe(3);
  expect(lines.map(([, message]) => message)).toEqual(['Trace export cannot keep up: spans are dropped until it does']);
  receiver.release();
  await sink.shutdown();
  expect(receiver.exports).toEqual([
    ['first 0', 'first 1'],
    ['next 0', 'next 1'],
  ]);
  expect(sink.counts).toEqual({ sent: 4, dropped: 3 });
});

test('an attempt the receiver does not answer in its time is given up and retried; the batch is sent', async () => {
  receiver.answers.push('hold');
  const { sink, spans, lines } = exportTo({ maxBatchSpans: 2, timeoutMs: 100 });
  spans(2);
  await until(() => sink.counts.sent === 2);
  // The receiver took both attempts (OTLP delivers at least once); the first was never answered.
  expect(receiver.exports).toEqual([
    ['span 0', 'span 1'],
    ['span 0', 'span 1'],
  ]);
  expect(lines).toEqual([]);
  receiver.release();
  await sink.shutdown();
});

test('an export is bounded in all by its timeout: past it, no more attempts; the batch is dropped and it is logged', async () => {
  receiver.answers.push('hold', 'hold', 'hold', 'hold', 'hold');
  // Each attempt could wait 10 seconds, and five are allowed: 50 seconds. The export is given 150 ms.
  const { sink, spans, lines } = exportTo({ maxBatchSpans: 2, timeoutMs: 10_000, exportTimeoutMs: 150 });
  spans(2);
  await until(() => sink.counts.dropped === 2);
  expect(receiver.exports).toHaveLength(1);
  expect(
    lines.map(([level, message, details]) => [level, message, (details as { attempts: number }).attempts]),
  ).toEqual([['warn', 'Trace export failed: spans are dropped until it works again', 1]]);
  receiver.release();
  await sink.shutdown();
  expect(sink.counts).toEqual({ sent: 0, dropped: 2 });
});

describe('sampling', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const sampledParent = { traceparent: `00-${traceId}-00f067aa0ba902b7-01` };
  const unsampledParent = { traceparent: `00-${traceId}-00f067aa0ba902b7-00` };

  /** Spans recorded for one request (its span and a portal call's), and the traceparent the portal would get. */
  function request(sampler: TraceSamplerName, headers: Record<string, string>, ratio = 1) {
    const sink = new SpansInMemory();
    const tracing = Tracing.withSink(sink, { name: sampler, ratio });
    const root = tracing.startServerSpan('POST', headers, {});
    const call = tracing.startChild(root, 'GET /api/license/list');
    const sent: Record<string, string> = {};
    tracing.inject(call, sent);
    call.end();
    root.end();
    return { recorded: sink.finished().length, traceparent: sent.traceparent!, call };
  }

  test.each<[TraceSamplerName, Record<string, string>, number, number]>([
    ['parentbased_always_on', {}, 1, 2],
    ['parentbased_always_on', sampledParent, 1, 2],
    ['parentbased_always_on', unsampledParent, 1, 0],
    ['parentbased_always_off', {}, 1, 0],
    ['parentbased_always_off', sampledParent, 1, 2],
    ['always_on', unsampledParent, 1, 2],
    ['always_off', sampledParent, 1, 0],
    ['traceidratio', {}, 1, 2],
    ['traceidratio', {}, 0, 0],
    ['parentbased_traceidratio', sampledParent, 0, 2],
    ['parentbased_traceidratio', {}, 0, 0],
  ])('%s with %j at ratio %d records %d spans', (sampler, headers, ratio, recorded) => {
    const outcome = request(sampler, headers, ratio);
    expect(outcome.recorded).toBe(recorded);
    // The portal is told, either way, in the client's trace when there is one, with the call's own span id.
    const [, sentTrace, sentSpan, flags] = outcome.traceparent.split('-');
    if (headers.traceparent) expect(sentTrace).toBe(traceId);
    expect(sentSpan).toBe(outcome.call.spanContext().spanId);
    expect(flags).toBe(recorded > 0 ? '01' : '00');
  });
});
