/**
 * What operators and frontends rely on beside the API: request ids, metrics, readiness, CORS, persisted queries.
 */
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { MAX_OPERATION_NAMES } from '../../src/http/metrics';
import { startStack, type Stack } from '../helpers/stack';
import { postTo } from '../helpers/http';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { CORS_ORIGINS: 'https://app.example.com', READY_CACHE_MS: '60000' } });
});
afterAll(() => stack.close());

function post(body: unknown, headers: Record<string, string> = {}) {
  return postTo(stack.graphqlUrl, body, { authorization: stack.auth.acme, ...headers });
}

describe('request ids', () => {
  test('a well-formed x-request-id is kept and answered; a missing or odd one is replaced', async () => {
    expect((await post({ query: '{ __typename }' }, { 'x-request-id': 'checkout-4711' })).headers['x-request-id']).toBe(
      'checkout-4711',
    );
    const made = (await post({ query: '{ __typename }' })).headers['x-request-id'];
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    const odd = (await post({ query: '{ __typename }' }, { 'x-request-id': 'no spaces allowed <here>' })).headers[
      'x-request-id'
    ];
    expect(odd).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('metrics', () => {
  async function scrape(): Promise<string> {
    const response = await request(`${stack.origin}/metrics`);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.body.text();
  }

  test('operations, upstream calls, batches, retries, breaker and key store are exported', async () => {
    expect(stack.server.metricsUrl).toBe(`${stack.origin}/metrics`); // METRICS_PORT unset: beside the API
    await post({
      query: 'query Overview { productAssignments { licenses { nodes { detail { id } } } } }',
      operationName: 'Overview',
    });
    await post({ query: 'query One { license(id: 1004) { id } }', operationName: 'One' });
    const text = await scrape();
    expect(text).toMatch(/graphql_operation_duration_seconds_count\{operation="Overview",outcome="ok"\} 1/);
    // One has never succeeded, so it holds no label of its own.
    expect(text).toMatch(/graphql_operation_duration_seconds_count\{operation="other",outcome="FORBIDDEN"\} 1/);
    expect(text).toMatch(/portal_calls_total\{endpoint="license.byAssignment.list",status="200"\} \d+/);
    expect(text).toMatch(/portal_calls_total\{endpoint="license.show",status="403"\} \d+/);
    expect(text).toMatch(/portal_call_duration_seconds_bucket\{le="[^"]+",endpoint="licenseDetail.list"\}/);
    expect(text).toMatch(/loader_batch_size_count\{loader="licenseById"\} \d+/);
    expect(text).toMatch(/# TYPE portal_retries_total counter/);
    expect(text).toMatch(/portal_circuit_breaker_state 0/);
    expect(text).toMatch(/idempotency_keys \d+/);
    expect(text).toMatch(/graphql_operations_in_flight\{state="queued"\} 0/);
  });

  test('no label holds a credential, and client-chosen operation names are bounded', async () => {
    for (let i = 0; i < MAX_OPERATION_NAMES + 20; i += 1) {
      await post(
        { query: `query Op${i} { __typename }`, operationName: `Op${i}` },
        { authorization: `Basic ${Buffer.from(`demo:pw${i}`).toString('base64')}` },
      );
    }
    await post({ query: 'query Ünïcode { __typename }' });
    const text = await scrape();
    const names = new Set([...text.matchAll(/operation="([^"]*)"/g)].map((match) => match[1]));
    expect(names.size).toBeLessThanOrEqual(MAX_OPERATION_NAMES + 2); // + anonymous, other
    expect(names.has('other')).toBe(true);
    expect(text).not.toMatch(/Basic |demo:|ZGVtbz/);
  });
});

describe('operation-name labels', () => {
  test('a name takes a label only from an operation that succeeded: 200 made-up names take none', async () => {
    const fresh = await startStack();
    try {
      const send = (body: unknown) => postTo(fresh.graphqlUrl, body, { authorization: fresh.auth.acme });
      for (let i = 0; i < 200; i += 1) {
        const answer = await [
          // A name its document does not have: Apollo refuses it before execution.
          () => send({ query: '{ __typename }', operationName: `Fake${i}` }),
          // A document that does not validate.
          () => send({ query: `query Fake${i} { nope }` }),
          // A valid operation that fails: another customer's licence.
          () => send({ query: `query Fake${i} { license(id: 1004) { id } }` }),
          // A name beside the one executed.
          () => send({ query: `query Real { __typename } query Fake${i} { __typename }`, operationName: 'Real' }),
        ][i % 4]!();
        expect(answer.status).toBeLessThan(500);
      }
      const text = await (await request(fresh.server.metricsUrl)).body.text();
      const counted = [
        ...text.matchAll(/^graphql_operation_duration_seconds_count\{operation="([^"]*)",outcome="([^"]*)"\} (\d+)$/gm),
      ].map(([, operation, outcome, count]) => `${operation} ${outcome} ${count}`);
      expect(text).not.toMatch(/Fake/);
      // Nothing resolved (an unknown name, an invalid document): anonymous. Resolved, but failed: other.
      expect(counted.sort()).toEqual([
        'Real ok 50',
        'anonymous GRAPHQL_VALIDATION_FAILED 50',
        'anonymous OPERATION_RESOLUTION_FAILURE 50',
        'other FORBIDDEN 50',
      ]);

      // A real operation that succeeds is counted under its name, and once it has a label its failures are too.
      expect((await send({ query: 'query Licences { productAssignments { id } }' })).json.errors).toBeUndefined();
      expect((await send({ query: 'query Licences { license(id: 1004) { id } }' })).status).toBe(200);
      const after = await (await request(fresh.server.metricsUrl)).body.text();
      expect(after).toMatch(/^graphql_operation_duration_seconds_count\{operation="Licences",outcome="ok"\} 1$/m);
      expect(after).toMatch(
        /^graphql_operation_duration_seconds_count\{operation="Licences",outcome="FORBIDDEN"\} 1$/m,
      );
    } finally {
      await fresh.close();
    }
  });
});

describe('metrics on their own port (METRICS_PORT)', () => {
  test('/metrics answers on that listener, the public port answers 404 for it, and both close together', async () => {
    const apart = await startStack({ env: { METRICS_PORT: '0' } });
    const metricsUrl = apart.server.metricsUrl;
    try {
      expect(new URL(metricsUrl).port).not.toBe(new URL(apart.origin).port);
      await apart.gql('query Overview { productAssignments { id } }');
      const scraped = await request(metricsUrl);
      expect(scraped.statusCode).toBe(200);
      expect(scraped.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await scraped.body.text();
      expect(text).toMatch(/^graphql_operation_duration_seconds_count\{operation="Overview",outcome="ok"\} 1$/m);
      expect(text).toMatch(/^portal_calls_total\{endpoint="productAssignment.list",status="200"\} 1$/m);
      expect(text).toMatch(/^graphql_operations_in_flight\{state="active"\} 0$/m);
      expect(text).toMatch(/^process_cpu_seconds_total \d/m);

      const onPublic = await request(`${apart.origin}/metrics`);
      expect(onPublic.statusCode).toBe(404);
      expect(await onPublic.body.json()).toMatchObject({
        errors: [{ extensions: { code: 'NOT_FOUND', reason: 'ROUTE_NOT_FOUND' } }],
      });
      const elsewhere = await request(new URL('/graphql', metricsUrl));
      expect(elsewhere.statusCode).toBe(404);
      await elsewhere.body.dump();
    } finally {
      await apart.close();
    }
    await expect(request(metricsUrl)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('readiness', () => {
  test('ready while the portal answers; asks it at most once per cache period', async () => {
    const first = await request(`${stack.origin}/readyz`);
    expect(first.statusCode).toBe(200);
    await first.body.dump();
    await stack.emulator.requestLog.whenIdle();
    stack.emulator.requestLog.clear();
    for (let i = 0; i < 5; i += 1) await (await request(`${stack.origin}/readyz`)).body.dump();
    expect(stack.emulator.requestLog.entries()).toEqual([]);
  });

  test('not ready when the portal is gone', async () => {
    const lonely = await startStack({ env: { READY_CACHE_MS: '0' } });
    try {
      await lonely.emulator.close();
      const response = await request(`${lonely.origin}/readyz`);
      expect(response.statusCode).toBe(503);
      expect(await response.body.json()).toMatchObject({ status: 'not ready' });
      const alive = await request(`${lonely.origin}/healthz`);
      expect(alive.statusCode).toBe(200);
      await alive.body.dump();
    } finally {
      await lonely.server.close();
    }
  });
});

describe('CORS', () => {
  async function preflight(origin: string) {
    const response = await request(stack.graphqlUrl, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    await response.body.dump();
    return response.headers;
  }

  test('an allowed origin may call the API with its Authorization header', async () => {
    const headers = await preflight('https://app.example.com');
    expect(headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(String(headers['access-control-allow-headers'])).toMatch(/authorization/);
  });

  test('another origin gets no CORS grant', async () => {
    expect((await preflight('https://evil.example.net'))['access-control-allow-origin']).toBeUndefined();
  });
});

describe('automatic persisted queries', () => {
  test('a hash alone is unknown at first, then served once the query was sent with it', async () => {
    const query = '{ productAssignments { id } }';
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const unknown = await post({ extensions });
    expect(unknown.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const registered = await post({ query, extensions });
    expect(registered.json.data.productAssignments.length).toBeGreaterThan(0);
    const byHash = await post({ extensions });
    expect(byHash.json.data).toEqual(registered.json.data);
  });
});

describe('the upstream timeline on request', () => {
  test('in production a response carries its upstream calls only when asked with x-upstream-calls: 1', async () => {
    const plain = await post({ query: '{ productAssignments { id } }' });
    expect(plain.json.extensions?.upstream).toBeUndefined();
    const asked = await post({ query: '{ productAssignments { id } }' }, { 'x-upstream-calls': '1' });
    expect(asked.json.extensions.upstream).toMatchObject({
      calls: 1,
      byEndpoint: { 'productAssignment.list': { calls: 1 } },
      timeline: [{ endpoint: 'productAssignment.list', status: 200 }],
    });
  });
});
