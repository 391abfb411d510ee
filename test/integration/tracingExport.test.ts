/**
 * Tracing as an operator turns it on: the server started as its own process with OpenTelemetry's standard
 * variables, exporting to an OTLP/HTTP receiver in the test, in both protocols. One trace per request; the portal
 * calls beneath the operation; the portal sent a traceparent of the request's trace; a client's traceparent
 * continued; every log line of a traced request leads to its trace; spans flushed on SIGTERM; and no credential
 * anywhere in what was exported.
 */
import { startEmulator, type Emulator } from '../../src/emulator';
import { startChildServer, type ChildServer } from '../helpers/childServer';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlpReceiver';
import { postTo } from '../helpers/http';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
});
afterAll(() => emulator.close());

const SERVER = 2;
const CLIENT = 3;

describe.each([
  ['http/protobuf', 'none'],
  ['http/json', 'none'],
  ['http/protobuf', 'gzip'],
])('exported over OTLP %s, compression %s', (protocol, compression) => {
  test('one trace per request, the calls beneath the operation, the portal in the trace, no credential', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const server = await startChildServer({
        PORTAL_URL: emulator.url,
        NODE_ENV: 'production',
        LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_COMPRESSION: compression,
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      });
      emulator.requestLog.clear();
      const demo = emulator.account('demo').authorization;
      const wrong = `Basic ${Buffer.from('demo:wrong-password-xyz').toString('base64')}`;
      const clientTrace = '0af7651916cd43dd8448eb211c80319c';
      const clientSpan = 'b7ad6b7169203331';
      const query = { query: '{ productAssignments { id licenses(first: 2) { nodes { id detail { fileName } } } } }' };
      const plain = await postTo(server.graphqlUrl, query, { authorization: demo });
      const continued = await postTo(server.graphqlUrl, query, {
        authorization: demo,
        traceparent: `00-${clientTrace}-${clientSpan}-01`,
      });
      const refused = await postTo(server.graphqlUrl, query, { authorization: wrong });
      expect(plain.json.errors).toBeUndefined();
      expect(continued.json.errors).toBeUndefined();
      expect(refused.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      const portalSaw = emulator.requestLog.entries();
      // The export's counts, for an operator: nothing dropped (the spans wait for their batch, or were sent).
      const metricsUrl = new URL('/metrics', server.graphqlUrl);
      const metrics = await (await fetch(metricsUrl, { headers: { 'x-request-id': 'metrics-read' } })).text();
      expect(metrics).toMatch(/^trace_spans\{outcome="dropped"\} 0$/m);
      expect(metrics).toMatch(/^trace_spans\{outcome="sent"\} \d+$/m);
      // SIGTERM: the spans still waiting in the batch are sent before the process exits.
      expect(await server.stop()).toBe(0);

      expect(receiver.contentTypes.every((type) => type.includes(protocol === 'http/json' ? 'json' : 'protobuf'))).toBe(
        true,
      );
      expect(new Set(receiver.contentEncodings)).toEqual(new Set([compression === 'gzip' ? 'gzip' : '']));
      const traces = new Map<string, ReceivedSpan[]>();
      for (const span of receiver.spans) traces.set(span.traceId, [...(traces.get(span.traceId) ?? []), span]);
      expect(traces.size).toBe(3);
      expect(traces.has(clientTrace)).toBe(true);
      for (const [traceId, spans] of traces) {
        const roots = spans.filter((span) => span.kind === SERVER);
        expect(roots).toHaveLength(1);
        const root = roots[0]!;
        expect(root.name).toBe('POST /graphql');
        expect(root.parentSpanId).toBe(traceId === clientTrace ? clientSpan : '');
        expect(root.serviceName).toBe('portal-graphql');
        const operation = spans.find((span) => span.parentSpanId === root.spanId && span.name.startsWith('query'))!;
        expect(operation.attributes['graphql.operation.type']).toBe('query');
        const calls = spans.filter((span) => span.kind === CLIENT);
        expect(calls.length).toBeGreaterThan(0);
        for (const call of calls) expect(call.parentSpanId).toBe(operation.spanId);
        // The portal was sent each call's own traceparent, in this trace.
        for (const call of calls) {
          expect(portalSaw.some((entry) => entry.traceparent === `00-${traceId}-${call.spanId}-01`)).toBe(true);
        }
      }
      // The refused request's operation failed: its status, its error code and an `exception` event, as recorded.
      const failed = receiver.spans.filter((span) => span.name.startsWith('query') && span.status.code === 2);
      expect(failed.map((span) => [span.status.message, span.attributes['graphql.error.codes'], span.events])).toEqual([
        ['UNAUTHENTICATED', ['UNAUTHENTICATED'], ['exception']],
      ]);
      // Nothing secret was exported: no Authorization, no password, in any body.
      const exported = Buffer.concat(receiver.bodies).toString('latin1');
      for (const secret of [demo, wrong, 'demo:demo', 'wrong-password-xyz', demo.slice(6), wrong.slice(6)])
        expect(exported).not.toContain(secret);

      // Every log line of a traced request carries its trace's ids.
      const lines = server
        .output()
        .stdout.split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      // (`/metrics` is not traced.)
      const ofRequests = lines.filter(
        (line) => typeof line.requestId === 'string' && line.requestId !== 'metrics-read',
      );
      expect(ofRequests.length).toBeGreaterThanOrEqual(6);
      for (const line of ofRequests) {
        expect(traces.has(line.trace_id as string)).toBe(true);
        expect(line.span_id).toMatch(/^[0-9a-f]{16}$/);
      }
    } finally {
      await receiver.close();
    }
  }, 30_000);
});

/** The server as its own process, quiet, exporting to `receiver` with `env` besides. */
function startExportingServer(receiver: OtlpReceiver, env: Record<string, string>): Promise<ChildServer> {
  return startChildServer({
    PORTAL_URL: emulator.url,
    LOG_LEVEL: 'silent',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    ...env,
  });
}

/** One small query as the demo customer. */
function askAssignments(server: ChildServer) {
  return postTo(
    server.graphqlUrl,
    { query: '{ productAssignments { id } }' },
    { authorization: emulator.account('demo').authorization },
  );
}

test.each<Record<string, string>>([{ OTEL_SDK_DISABLED: 'true' }, { OTEL_TRACES_EXPORTER: 'none' }])(
  '%j: nothing is exported and no traceparent reaches the portal',
  async (off) => {
    const receiver = await startOtlpReceiver();
    try {
      const server = await startExportingServer(receiver, off);
      emulator.requestLog.clear();
      await askAssignments(server);
      await server.stop();
      expect(receiver.bodies).toEqual([]);
      expect(emulator.requestLog.entries().map((entry) => entry.traceparent)).toEqual([null]);
    } finally {
      await receiver.close();
    }
  },
  30_000,
);

test("the batch processor's variables: spans go after OTEL_BSP_SCHEDULE_DELAY, in batches of OTEL_BSP_MAX_EXPORT_BATCH_SIZE", async () => {
  const receiver = await startOtlpReceiver();
  try {
    const server = await startExportingServer(receiver, {
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '3',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
    });
    await askAssignments(server);
    // Full batches of three go at once; the last, part-filled one would wait 5 seconds for more without the delay.
    // Here it arrives, with the request's span (which ends last), while the server runs: 200 ms, waited for up to 4 s.
    for (let waited = 0; !receiver.spans.some((span) => span.kind === SERVER) && waited < 4000; waited += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const arrived = receiver.spans.length;
    expect(await server.stop()).toBe(0);
    expect(receiver.spans).toHaveLength(arrived); // nothing was left for shutdown to send
    // One request's spans (the request, the operation, its stages and the call: seven), in exports of at most three.
    expect(arrived).toBe(7);
    expect(new Set(receiver.spans.map((span) => span.traceId)).size).toBe(1);
    expect(receiver.exports.map((received) => received.spans.length)).toEqual([3, 3, 1]);
  } finally {
    await receiver.close();
  }
}, 30_000);
