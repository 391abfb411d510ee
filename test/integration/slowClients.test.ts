/**
 * Every connection has a deadline: a client that sends its request a byte at a time is answered 408 and its
 * connection closed once HTTP_REQUEST_TIMEOUT_MS has passed, so that slow clients cannot hold the server's sockets
 * and file descriptors, while other clients are served. The server runs as its own process, its sockets its own.
 */
import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { startChildServer } from '../helpers/childServer';
import { startStack } from '../helpers/stack';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** What one raw connection saw: everything the server sent, and when the connection closed after it was opened. */
interface Trickled {
  received: string;
  closedAfterMs: number;
}

/**
 * Opens a connection and sends `head` at once, then `rest` one byte every `everyMs` until the server closes the
 * connection (or `rest` runs out).
 */
function trickle(port: number, head: string, rest: string, everyMs: number): Promise<Trickled> {
  return new Promise((resolve) => {
    const opened = performance.now();
    const socket: Socket = connect(port, '127.0.0.1');
    let received = '';
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < rest.length && socket.writable) socket.write(rest[sent++]!);
    }, everyMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => {}); // a reset shows as a missing answer below
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ received, closedAfterMs: performance.now() - opened });
    });
    socket.write(head);
  });
}

test('200 connections trickling their bodies are answered 408 and closed by the deadline; other clients are served meanwhile', async () => {
  const server = await startChildServer({ HTTP_REQUEST_TIMEOUT_MS: '3000', LOG_FORMAT: 'json', LOG_LEVEL: 'info' });
  try {
    const port = Number(new URL(server.graphqlUrl).port);
    const body = JSON.stringify({ query: '{ productAssignments { id } }' });
    const post = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: ${basic('demo', 'demo')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    // The body's bytes arrive after the headers: Fastify has routed the request and its handler waits for the body.
    const bodies = Array.from({ length: 200 }, () => trickle(port, post, body, 2000));
    // And a few whose headers never end, which Node's parser is still reading.
    const headers = Array.from({ length: 20 }, () =>
      trickle(port, 'POST /graphql HTTP/1.1\r\n', 'X-Slow: 1\r\n', 2000),
    );

    await new Promise((resolve) => setTimeout(resolve, 1000));
    const started = performance.now();
    const [query, health] = await Promise.all([
      request(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basic('demo', 'demo') },
        body,
      }),
      request(new URL('/healthz', server.graphqlUrl)),
    ]);
    const servedMs = performance.now() - started;
    expect(query.statusCode).toBe(200);
    expect(((await query.body.json()) as any).data.productAssignments.length).toBeGreaterThan(0);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    expect(servedMs).toBeLessThan(1000);

    const slow = await Promise.all([...bodies, ...headers]);
    for (const { received, closedAfterMs } of slow) {
      const [head, answer] = received.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(head).toMatch(/\r\nConnection: close(\r\n|$)/i);
      expect(JSON.parse(answer!)).toEqual({
        errors: [
          {
            message: 'The request took too long to arrive.',
            extensions: { code: 'BAD_REQUEST', reason: 'REQUEST_TIMEOUT' },
          },
        ],
      });
      expect(closedAfterMs).toBeGreaterThanOrEqual(2900);
      expect(closedAfterMs).toBeLessThan(5000);
    }
    const closedAfter = slow.map(({ closedAfterMs }) => closedAfterMs);
    process.stdout.write(
      `220 slow connections closed after ${Math.round(Math.min(...closedAfter))} to ${Math.round(Math.max(...closedAfter))} ms (HTTP_REQUEST_TIMEOUT_MS=3000); a query and /healthz meanwhile: ${Math.round(servedMs)} ms\n`,
    );
  } finally {
    await server.stop();
  }
  // The handlers that were waiting for those bodies end quietly: no error logged, nothing unhandled.
  const { stdout, stderr } = server.output();
  const lines = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
  expect(lines.filter((line) => line.level >= 50)).toEqual([]);
  expect(stderr).toBe('');
  expect(await server.exited).toBe(0);
}, 60_000);

test('the deadline is for arriving only: a slow answer, and a keep-alive connection idle past it, are not cut off', async () => {
  const stack = await startStack({ emulator: { latencyMs: 1600 }, env: { HTTP_REQUEST_TIMEOUT_MS: '1000' } });
  const socket = connect(Number(new URL(stack.origin).port), '127.0.0.1');
  try {
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const body = JSON.stringify({ query: '{ productAssignments { id } }' });
    const post = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: ${stack.auth.acme}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const answered = async (count: number) => {
      while ((received.match(/\r\n\r\n\{"data"/g) ?? []).length < count) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    socket.write(post);
    await answered(1); // 1.6 s after the request arrived
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(socket.destroyed).toBe(false);
    socket.write(post);
    await answered(2);
    expect(received.match(/^HTTP\/1\.1 \d+/gm)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
  } finally {
    socket.destroy();
    await stack.close();
  }
}, 30_000);
