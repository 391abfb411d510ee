/**
 * The server as an operator runs it: its logs keep no credential, and SIGTERM drains it cleanly.
 */
import { request } from 'undici';
import { startChildServer } from '../helpers/childServer';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('no credential appears in the logs or in an error message, whatever happens', async () => {
  const server = await startChildServer({ LOG_LEVEL: 'trace' });
  const secrets = [
    'S3cret-Passw0rd!',
    basic('demo', 'S3cret-Passw0rd!'),
    basic('demo', 'demo'),
    basic('globex', 'globex'),
  ];
  const bodies: string[] = [];
  try {
    const queries = [
      '{ productAssignments { id licenses { nodes { detail { fileName } } } } }',
      '{ license(id: 1004) { id } }',
      '{ licenses(first: 1001) { totalCount } }',
      'mutation { generateLicense(input: { productAssignmentId: 1, hwid: "bad hwid", expirationDate: "2027-01-01" }) { license { id } } }',
      '{ nope',
    ];
    for (const authorization of [
      basic('demo', 'demo'),
      basic('demo', 'S3cret-Passw0rd!'),
      basic('globex', 'globex'),
      'Bearer S3cret-Passw0rd!',
    ]) {
      for (const query of queries) {
        const response = await request(server.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: JSON.stringify({ query }),
        });
        bodies.push(await response.body.text());
      }
      const file = await request(new URL('/licenses/1002/file', server.graphqlUrl), { headers: { authorization } });
      bodies.push(await file.body.text());
    }
  } finally {
    await server.stop();
  }
  const { stdout, stderr } = server.output();
  expect(stdout).toMatch(/graphql operation/); // the operations were logged
  for (const secret of secrets) {
    expect(stdout).not.toContain(secret);
    expect(stderr).not.toContain(secret);
    for (const body of bodies) expect(body).not.toContain(secret);
  }
  expect(stdout).not.toMatch(/authorization"\s*:\s*"(Basic|Bearer)/i);
}, 60_000);

test('SIGTERM: stops accepting, finishes the request in flight, exits 0 within the grace period', async () => {
  const server = await startChildServer({
    LOG_LEVEL: 'silent',
    EMULATOR_LATENCY_MS: '1500',
    SHUTDOWN_GRACE_MS: '10000',
  });
  const inFlight = request(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic('demo', 'demo') },
    body: JSON.stringify({ query: '{ productAssignments { id } }' }),
  });
  await untilExecuting(server.graphqlUrl);
  const signalled = performance.now();
  server.process.kill('SIGTERM');
  await untilRefused(server.graphqlUrl);

  const response = await inFlight;
  const body = (await response.body.json()) as any;
  expect(response.statusCode).toBe(200);
  expect(body.errors).toBeUndefined();
  expect(body.data.productAssignments.length).toBeGreaterThan(0);
  expect(await server.exited).toBe(0);
  // Once the request is answered the process goes: it does not sit out the grace period.
  expect(performance.now() - signalled).toBeLessThan(8000);
}, 60_000);

test('SIGTERM with a request that outlives the grace period: its connection is closed and the process still exits 0', async () => {
  const server = await startChildServer({ LOG_LEVEL: 'silent', EMULATOR_LATENCY_MS: '8000', SHUTDOWN_GRACE_MS: '500' });
  const inFlight = request(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic('demo', 'demo') },
    body: JSON.stringify({ query: '{ productAssignments { id } }' }),
  }).then(
    (response) => response.statusCode,
    () => 'closed',
  );
  await untilExecuting(server.graphqlUrl);
  const signalled = performance.now();
  server.process.kill('SIGTERM');
  expect(await server.exited).toBe(0);
  expect(performance.now() - signalled).toBeLessThan(4000);
  expect(await inFlight).toBe('closed');
}, 60_000);

test('logs are structured JSON lines with the request id, operation name, duration, upstream calls and error codes', async () => {
  const server = await startChildServer({ LOG_LEVEL: 'info', LOG_FORMAT: 'json' });
  try {
    const response = await request(server.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: basic('demo', 'demo'),
        'x-request-id': 'trace-me-42',
      },
      body: JSON.stringify({
        query: 'query Overview { productAssignments { id licenses { totalCount } } license(id: 1004) { id } }',
        operationName: 'Overview',
      }),
    });
    await response.body.dump();
  } finally {
    await server.stop();
  }
  const lines = server
    .output()
    .stdout.split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
  const operation = lines.find((line) => line.msg === 'graphql operation');
  expect(operation).toMatchObject({
    requestId: 'trace-me-42',
    operationName: 'Overview',
    durationMs: expect.any(Number),
    upstreamCalls: 2,
    upstreamByEndpoint: { 'license.byAssignment.list': { calls: 1 }, 'license.show': { calls: 1 } },
    errorCodes: ['FORBIDDEN'],
  });
  expect(lines.filter((line) => line.requestId === 'trace-me-42').map((line) => line.msg)).toEqual(
    expect.arrayContaining(['incoming request', 'graphql operation', 'request completed']),
  );
}, 60_000);

/** Waits, by the server's own gauge, until an operation is executing: it is in flight, not merely sent. */
async function untilExecuting(graphqlUrl: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const metrics = await (await request(new URL('/metrics', graphqlUrl))).body.text();
    if (/^graphql_operations_in_flight\{state="active"\} [1-9]/m.test(metrics)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no operation started executing within 2 s');
}

/** Waits until the server refuses new connections (it stopped listening), for at most 2 s. */
async function untilRefused(graphqlUrl: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    try {
      await (await request(new URL('/healthz', graphqlUrl))).body.dump();
    } catch (error) {
      expect(String(error)).toMatch(/ECONNREFUSED|closed|socket/i);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the server still accepted connections 2 s after SIGTERM');
}
