/**
 * Traces, read from the SDK's in-memory exporter: the span tree of each benchmark operation (one trace per request,
 * the HTTP request at its root, the operation beneath it, parse, validate, plan and execute and every portal call
 * beneath the operation), an error, a retry, a generate with its idempotency steps, and a client's traceparent
 * continued and passed on to the portal.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { Tracing } from '../../src/tracing/tracing';
import { startStack, type Stack } from '../helpers/stack';
import { postTo } from '../helpers/http';
import { benchQueries, utcToday } from '../../scripts/bench/queries';

const exporter = new InMemorySpanExporter();
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    emulator: { seed: 'large' },
    env: { PORTAL_RETRY_BASE_DELAY_MS: '1' },
    parts: { tracing: Tracing.withExporter(exporter) },
  });
});
afterAll(() => stack.close());
beforeEach(() => {
  exporter.reset();
  stack.emulator.faults.clear();
  stack.emulator.requestLog.clear();
});

const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** The spans of the one trace the last request made, with its root and operation spans found. */
function lastTrace() {
  const spans = exporter.getFinishedSpans();
  const root = spans.find((span) => span.kind === SpanKind.SERVER)!;
  expect(root).toBeDefined();
  const inTrace = spans.filter((span) => span.spanContext().traceId === root.spanContext().traceId);
  expect(inTrace).toHaveLength(spans.length); // one trace per request
  const operation = spans.find((span) => parentOf(span) === idOf(root))!;
  const beneath = (parent: ReadableSpan) => spans.filter((span) => parentOf(span) === idOf(parent));
  return { spans, root, operation, beneath };
}

describe('the benchmark operations', () => {
  test.each(benchQueries(utcToday(), 'trace').map((query) => [query.name, query] as const))(
    '%s: one trace, the operation beneath the request, every portal call beneath the operation',
    async (_name, query) => {
      const answer = await postTo(
        stack.graphqlUrl,
        { query: query.document, variables: query.variables() },
        { authorization: stack.auth.acme, 'x-upstream-calls': '1' },
      );
      expect(answer.json.errors).toBeUndefined();
      const { root, operation, beneath } = lastTrace();
      expect(root.name).toBe('POST /graphql');
      expect(root.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.route': '/graphql',
        'http.response.status_code': 200,
      });
      const type = query.document.startsWith('mutation') ? 'mutation' : 'query';
      expect(operation.name).toBe(type === 'mutation' ? 'mutation Generate' : 'query');
      expect(operation.attributes['graphql.operation.type']).toBe(type);
      expect(operation.attributes['portal.calls']).toBe(answer.json.extensions.upstream.calls);
      const children = beneath(operation);
      const stages = children.filter((span) => span.kind === SpanKind.INTERNAL).map((span) => span.name);
      expect(stages).toEqual(
        expect.arrayContaining(['graphql.parse', 'graphql.validate', 'graphql.plan', 'graphql.execute']),
      );
      const calls = children.filter((span) => span.kind === SpanKind.CLIENT);
      expect(calls).toHaveLength(answer.json.extensions.upstream.calls);
      for (const call of calls) {
        expect(call.attributes['http.request.method']).toBe('GET');
        expect(call.attributes['url.full']).toMatch(new RegExp(`^${stack.emulator.url}/api/`));
        expect(call.attributes['http.response.status_code']).toBe(200);
      }
      const plan = children.find((span) => span.name === 'graphql.plan')!;
      expect(plan.attributes['graphql.plan.estimated_calls']).toBe(answer.json.extensions.upstream.estimatedCalls);
      // No credential, no variable value anywhere in a span.
      const recorded = JSON.stringify(exporter.getFinishedSpans().map((span) => [span.attributes, span.events]));
      expect(recorded).not.toContain(stack.auth.acme);
      expect(recorded).not.toContain('bench-trace-');
    },
  );

  test('the document is recorded with its literal values hidden', async () => {
    await stack.gql(
      `{ l: license(id: 2647) { id } licenses(filter: { search: "secret-hwid" }, first: 3) { totalCount } }`,
    );
    const { operation } = lastTrace();
    const document = operation.attributes['graphql.document'] as string;
    expect(document).toContain('license(id: 0)');
    expect(document).not.toContain('2647');
    expect(document).not.toContain('secret-hwid');
  });
});

test("an error: the portal's 403 on the call's span, FORBIDDEN on the operation's", async () => {
  const foreign = stack.emulator.state.licensesOf('globex')[0]!.id;
  const answer = await stack.gql(`{ license(id: ${foreign}) { id } }`);
  expect(answer.errors![0]!.extensions!.code).toBe('FORBIDDEN');
  const { operation, beneath } = lastTrace();
  expect(operation.status.code).toBe(SpanStatusCode.ERROR);
  expect(operation.attributes['graphql.error.codes']).toEqual(['FORBIDDEN']);
  expect(operation.events.map((event) => [event.name, event.attributes?.['exception.type']])).toEqual([
    ['exception', 'FORBIDDEN'],
  ]);
  const [call] = beneath(operation).filter((span) => span.kind === SpanKind.CLIENT);
  expect(call!.attributes).toMatchObject({ 'http.response.status_code': 403, 'error.type': 'FORBIDDEN' });
  expect(call!.status.code).toBe(SpanStatusCode.ERROR);
});

test("an error's message is not recorded: graphql-js quotes a variable's value in it", async () => {
  const answer = await stack.gql(
    `mutation($input: GenerateLicenseInput!) { generateLicense(input: $input) { license { id } } }`,
    { input: { hwid: 'SECRET-HWID-123', note: 'private note' } },
  );
  expect(JSON.stringify(answer.errors)).toContain('SECRET-HWID-123');
  const recorded = JSON.stringify(
    exporter.getFinishedSpans().map((span) => [span.name, span.attributes, span.events, span.status]),
  );
  expect(recorded).toContain('BAD_USER_INPUT');
  expect(recorded).not.toContain('SECRET-HWID-123');
  expect(recorded).not.toContain('private note');
});

test('a retry: each attempt is its own span, the second with its resend count', async () => {
  stack.emulator.faults.add({ kind: 'status', status: 503, route: 'productAssignment.list', times: 1 });
  const answer = await stack.gql(`{ productAssignments { id } }`);
  expect(answer.errors).toBeUndefined();
  const { operation, beneath } = lastTrace();
  const attempts = beneath(operation).filter((span) => span.kind === SpanKind.CLIENT);
  expect(
    attempts.map((span) => [
      span.attributes['http.response.status_code'],
      span.attributes['http.request.resend_count'],
    ]),
  ).toEqual([
    [503, undefined],
    [200, 1],
  ]);
});

test('a generate with a key: its idempotency steps are events of the operation', async () => {
  const { unlimitedAssignmentId } = stack.emulator.state.landmarks();
  const input = {
    productAssignmentId: String(unlimitedAssignmentId),
    hwid: `TRACE-${Date.now()}`,
    expirationDate: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10),
    idempotencyKey: `trace-${Date.now()}`,
  };
  const mutation = `mutation($input: GenerateLicenseInput!) { generateLicense(input: $input) { license { id } } }`;
  expect((await stack.gql(mutation, { input })).errors).toBeUndefined();
  expect(lastTrace().operation.events.map((event) => event.name)).toEqual(['idempotency.claimed']);
  exporter.reset();
  expect((await stack.gql(mutation, { input })).errors).toBeUndefined();
  const { operation, beneath } = lastTrace();
  expect(operation.events.map((event) => event.name)).toEqual(['idempotency.replayed']);
  expect(beneath(operation).filter((span) => span.kind === SpanKind.CLIENT)).toEqual([]);
});

test("a client's traceparent is continued, and the portal is sent the request's own", async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpan = '00f067aa0ba902b7';
  await postTo(
    stack.graphqlUrl,
    { query: '{ productAssignments { id } }' },
    { authorization: stack.auth.acme, traceparent: `00-${traceId}-${clientSpan}-01` },
  );
  const { root, operation, beneath } = lastTrace();
  expect(root.spanContext().traceId).toBe(traceId);
  expect(parentOf(root)).toBe(clientSpan);
  const [call] = beneath(operation).filter((span) => span.kind === SpanKind.CLIENT);
  const [seen] = stack.emulator.requestLog.entries();
  expect(seen!.traceparent).toBe(`00-${traceId}-${idOf(call!)}-01`);
});

test("a request the sampler drops records nothing, and the portal is still sent the client's trace, unsampled", async () => {
  const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpan = '10f067aa0ba902b7';
  const answer = await postTo(
    stack.graphqlUrl,
    { query: '{ productAssignments { id licenses(first: 1) { nodes { id } } } }' },
    { authorization: stack.auth.acme, traceparent: `00-${traceId}-${clientSpan}-00` },
  );
  expect(answer.json.errors).toBeUndefined();
  expect(exporter.getFinishedSpans()).toEqual([]);
  const sent = stack.emulator.requestLog.entries().map((entry) => entry.traceparent);
  expect(sent.length).toBeGreaterThan(0);
  for (const traceparent of sent)
    expect(traceparent).toMatch(new RegExp(`^00-${traceId}-(?!${clientSpan})[0-9a-f]{16}-00$`));
});

test('health checks are not traced', async () => {
  await fetch(`${stack.origin}/healthz`);
  await fetch(`${stack.origin}/metrics`);
  expect(exporter.getFinishedSpans()).toEqual([]);
});
