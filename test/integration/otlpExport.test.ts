/**
 * The OTLP export as `Tracing.start` configures OpenTelemetry's batch span processor and exporter, against a real
 * receiver on a free port that a test tells how to answer: batches go when full or on shutdown; a busy receiver is
 * retried, after its Retry-After when it gives one; a partial success is logged; spans past the queue's bound are
 * dropped and counted; the export's timeouts bound it; a failing export is logged once and its working again once.
 * And sampling: which spans are recorded, and what `traceparent` the portal is sent when a span is not.
 */
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { InMemorySpanExporter, SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { Tracing } from '../../src/tracing/tracing';
import { partialSuccess, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlpReceiver';
import { startTracingProcess, type TracingState } from '../helpers/tracingProcess';
import type { TraceSamplerName, TracingSettings } from '../../src/config';

let receiver: OtlpReceiver;
beforeEach(async () => {
  receiver = await startOtlpReceiver();
});
afterEach(() => receiver.close());

/** Tracing, in a process of its own, that exports to the test's receiver (batches wait a minute unless full). */
function exportTo(settings: { batch?: Partial<TracingSettings['batch']>; timeoutMs?: number } = {}) {
  return startTracingProcess({
    url: receiver.tracesUrl,
    protocol: 'http/protobuf',
    headers: {},
    serviceName: 'portal-graphql',
    resourceAttributes: {},
    sampler: { name: 'always_on', ratio: 1 },
    batch: {
      scheduleDelayMs: 60_000,
      maxQueuedSpans: 2048,
      maxBatchSpans: 512,
      exportTimeoutMs: 30_000,
      ...settings.batch,
    },
    timeoutMs: settings.timeoutMs ?? 10_000,
    compression: 'none',
  });
}

/** The names of the spans of each export the receiver took (answered 2xx, or held). */
const taken = () =>
  receiver.exports
    .filter(({ answer }) => answer === 'hold' || answer.status < 300)
    .map((received) => received.spans.map((span) => span.name));

/** Waits, for at most 5 seconds, until `condition` holds of what the receiver saw and of the tracing's `state`. */
async function until(state: () => Promise<TracingState>, condition: (now: TracingState) => boolean): Promise<void> {
  for (let waited = 0; !condition(await state()); waited += 10) {
    if (waited > 5000) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('a full batch goes at once; the rest waits for shutdown, which sends it', async () => {
  const tracing = await exportTo({ batch: { maxBatchSpans: 3 } });
  await tracing.spans(4);
  await until(tracing.state, () => receiver.exports.length === 1);
  expect(taken()).toEqual([['span 0', 'span 1', 'span 2']]);
  const { counts } = await tracing.shutdown();
  expect(taken()).toEqual([['span 0', 'span 1', 'span 2'], ['span 3']]);
  expect(counts).toEqual({ sent: 4, dropped: 0 });
});

test('a busy receiver is retried, and the batch arrives once', async () => {
  receiver.answers.push({ status: 503 }, { status: 429 });
  const tracing = await exportTo({ batch: { maxBatchSpans: 2 } });
  await tracing.spans(2);
  await until(tracing.state, ({ counts }) => counts.sent === 2);
  expect(receiver.exports).toHaveLength(3);
  expect(taken()).toEqual([['span 0', 'span 1']]);
  const { counts, lines } = await tracing.shutdown();
  expect(counts.dropped).toBe(0);
  expect(lines).toEqual([]);
  expect(taken()).toHaveLength(1);
}, 15_000);

test.each([429, 503])(
  "a receiver's Retry-After with %d is waited for before the batch is sent again",
  async (status) => {
    // Two seconds: the exporter's own first backoff is 0.8 to 1.2 seconds.
    receiver.answers.push({ status, headers: { 'retry-after': '2' } });
    const tracing = await exportTo({ batch: { maxBatchSpans: 2 } });
    await tracing.spans(2);
    await until(tracing.state, ({ counts }) => counts.sent === 2);
    const [refused, accepted] = receiver.exports;
    expect(accepted!.at - refused!.at).toBeGreaterThanOrEqual(1950);
    expect(taken()).toEqual([['span 0', 'span 1']]);
    await tracing.shutdown();
  },
  15_000,
);

test("a receiver's partial success is logged: it took the export but rejected some of its spans", async () => {
  receiver.answers.push({ status: 200, body: partialSuccess(1, 'span 1 is too large') });
  const tracing = await exportTo({ batch: { maxBatchSpans: 2 } });
  await tracing.spans(2);
  await until(tracing.state, ({ counts }) => counts.sent === 2);
  const { lines } = await tracing.shutdown();
  expect(lines.map(([level, message, details]) => [level, message, JSON.stringify(details)])).toEqual([
    ['warn', 'OpenTelemetry: Received Partial Success response:', expect.stringContaining('span 1 is too large')],
  ]);
});

test('a refused export is dropped and logged once; its working again is logged once, with what was lost', async () => {
  receiver.answers.push({ status: 400 }, { status: 400 });
  const tracing = await exportTo({ batch: { maxBatchSpans: 1 } });
  await tracing.spans(2, 'refused');
  await until(tracing.state, ({ counts }) => counts.dropped === 2);
  await tracing.spans(1, 'accepted');
  await until(tracing.state, ({ counts }) => counts.sent === 1);
  expect(taken()).toEqual([['accepted 0']]);
  const { lines } = await tracing.shutdown();
  expect(lines.map(([level, message, details]) => [level, message, details.reason ?? details.dropped])).toEqual([
    ['warn', 'Trace export failed: spans are dropped until it works again', 'HTTP 400'],
    ['info', 'Trace export works again', 2],
  ]);
});

test('past the queue bound new spans are dropped and counted, not held; the requests never wait', async () => {
  receiver.answers.push('hold');
  const tracing = await exportTo({ batch: { maxBatchSpans: 2, maxQueuedSpans: 4 } });
  await tracing.spans(2, 'first'); // sent, and held by the receiver
  await until(tracing.state, () => receiver.exports.length === 1);
  // The queue holds four besides the two being sent: the fifth is dropped.
  const { counts, lines } = await tracing.spans(5, 'next');
  expect(counts.dropped).toBe(1);
  expect(lines.map(([, message]) => message)).toEqual(['Trace export cannot keep up: spans are dropped until it does']);
  receiver.release();
  expect((await tracing.shutdown()).counts).toEqual({ sent: 6, dropped: 1 });
  expect(taken()).toEqual([
    ['first 0', 'first 1'],
    ['next 0', 'next 1'],
    ['next 2', 'next 3'],
  ]);
});

test('OTEL_EXPORTER_OTLP_TIMEOUT bounds an export, its retries included: unanswered in it, the batch is dropped and it is logged', async () => {
  receiver.answers.push('hold', 'hold');
  const tracing = await exportTo({ batch: { maxBatchSpans: 2 }, timeoutMs: 200 });
  await tracing.spans(2);
  await until(tracing.state, ({ counts }) => counts.dropped === 2);
  // No time was left for a retry.
  expect(receiver.exports).toHaveLength(1);
  receiver.release();
  const { counts, lines } = await tracing.shutdown();
  expect(lines.map(([level, message]) => [level, message])).toEqual([
    ['warn', 'Trace export failed: spans are dropped until it works again'],
  ]);
  expect(counts).toEqual({ sent: 0, dropped: 2 });
});

test('OTEL_BSP_EXPORT_TIMEOUT: past it the processor sends the next batch without waiting for the first', async () => {
  receiver.answers.push('hold');
  const tracing = await exportTo({ batch: { maxBatchSpans: 2, exportTimeoutMs: 150 } });
  await tracing.spans(2, 'first');
  await until(tracing.state, () => receiver.exports.length === 1);
  await tracing.spans(2, 'next');
  // The next is sent 150 ms on, and answered, while the first is still unanswered.
  await until(tracing.state, ({ counts }) => counts.sent === 2);
  expect(taken()).toEqual([
    ['first 0', 'first 1'],
    ['next 0', 'next 1'],
  ]);
  receiver.release();
  expect((await tracing.shutdown()).counts).toEqual({ sent: 4, dropped: 0 });
});

describe('sampling', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const sampledParent = { traceparent: `00-${traceId}-00f067aa0ba902b7-01` };
  const unsampledParent = { traceparent: `00-${traceId}-00f067aa0ba902b7-00` };

  /** Spans recorded for one request (its span and a portal call's), and the traceparent the portal would get. */
  function request(sampler: TraceSamplerName, headers: Record<string, string>, ratio = 1) {
    const exporter = new InMemorySpanExporter();
    const tracing = Tracing.withExporter(exporter, { name: sampler, ratio });
    const root = tracing.startServerSpan('POST', headers);
    const call = tracing.startChild(root, 'GET /api/license/list');
    const sent: Record<string, string> = {};
    tracing.inject(call, sent);
    call.end();
    root.end();
    return { recorded: exporter.getFinishedSpans().length, traceparent: sent.traceparent!, call };
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

  test("at a ratio, the requests recorded are those whose trace id the SDK's ratio sampler takes, each its own trace", () => {
    const exporter = new InMemorySpanExporter();
    const tracing = Tracing.withExporter(exporter, { name: 'traceidratio', ratio: 0.5 });
    const judge = new TraceIdRatioBasedSampler(0.5);
    const traces = new Set<string>();
    let recorded = 0;
    for (let request = 0; request < 400; request += 1) {
      const root = tracing.startServerSpan('POST', {});
      const { traceId } = root.spanContext();
      traces.add(traceId);
      const taken = judge.shouldSample(ROOT_CONTEXT, traceId).decision;
      expect(root.isRecording()).toBe(taken === SamplingDecision.RECORD_AND_SAMPLED);
      if (root.isRecording()) recorded += 1;
      root.end();
    }
    expect(traces.size).toBe(400);
    expect(exporter.getFinishedSpans()).toHaveLength(recorded);
    expect(recorded).toBeGreaterThan(120);
    expect(recorded).toBeLessThan(280);
  });

  test("a dropped request's calls all carry its trace, unsampled, with the client's tracestate", () => {
    const tracing = Tracing.withExporter(new InMemorySpanExporter(), { name: 'parentbased_always_on', ratio: 1 });
    const root = tracing.startServerSpan('POST', { ...unsampledParent, tracestate: 'vendor=opaque' });
    const calls = [0, 1, 2].map(() => {
      const sent: Record<string, string> = { authorization: 'Basic x' };
      tracing.inject(tracing.startChild(root, 'GET /api/license/list'), sent);
      return sent;
    });
    const traceparent = `00-${traceId}-${root.spanContext().spanId}-00`;
    expect(calls).toEqual(
      [0, 1, 2].map(() => ({ authorization: 'Basic x', traceparent, tracestate: 'vendor=opaque' })),
    );
  });
});
