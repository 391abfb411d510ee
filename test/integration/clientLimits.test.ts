/**
 * Limits per client address, over real sockets: clients at 127.0.0.2, 127.0.0.3, … are different addresses.
 * Failed logins are counted from the portal's own 401s and refused before the portal sees the next password;
 * the request rate is announced in the RateLimit fields; behind a proxy, TRUST_PROXY says whose address counts.
 */
import { request } from 'undici';
import { startStack, type Stack } from '../helpers/stack';
import { clientAt, postTo } from '../helpers/http';
import { startChildServer, type ChildServer } from '../helpers/childServer';
import { startEmulator, type Emulator } from '../../src/emulator';

const QUERY = { query: '{ productAssignments { id } }' };
const wrong = `Basic ${Buffer.from('demo:not-the-password').toString('base64')}`;

describe('failed logins', () => {
  let stack: Stack;
  const WINDOW_MS = 4000;
  beforeAll(async () => {
    stack = await startStack({ env: { AUTH_FAILURE_WINDOW_MS: String(WINDOW_MS) } });
  });
  afterAll(() => stack.close());

  test('ten wrong passwords from one address: then it is refused (429), right password too; other addresses are not', async () => {
    const log = stack.emulator.requestLog;
    log.clear();
    for (let i = 0; i < 10; i += 1) {
      const answer = await postTo(stack.graphqlUrl, QUERY, { authorization: wrong }, '127.0.0.2');
      expect(answer.status).toBe(200);
      expect(answer.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const eleventh = await postTo(stack.graphqlUrl, QUERY, { authorization: wrong }, '127.0.0.2');
    expect(eleventh.status).toBe(429);
    expect(Number(eleventh.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(eleventh.headers['retry-after'])).toBeLessThanOrEqual(WINDOW_MS / 1000);
    expect(eleventh.json.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'AUTH_FAILURES' });
    const right = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme }, '127.0.0.2');
    expect(right.status).toBe(429);
    // The portal saw the ten wrong passwords and nothing after them.
    expect(log.entries()).toHaveLength(10);

    const elsewhere = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme }, '127.0.0.3');
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.json.data.productAssignments.length).toBeGreaterThan(0);

    // The licence file route is refused alike, in text.
    const file = await request(`${stack.origin}/licenses/1/file`, {
      headers: { authorization: stack.auth.acme },
      dispatcher: clientAt('127.0.0.2'),
    });
    expect(file.statusCode).toBe(429);
    expect(file.headers['retry-after']).toBeDefined();
    expect(await file.body.text()).toMatch(/failed logins/);

    const metrics = await (await fetch(`${stack.origin}/metrics`)).text();
    expect(metrics).toMatch(/^client_auth_failures 10$/m);
    expect(metrics).toMatch(/^client_requests_refused\{limit="auth_failures"\} 3$/m);

    // Once the window has let the oldest failures go, the address is served again.
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS + 200));
    const later = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme }, '127.0.0.2');
    expect(later.status).toBe(200);
    expect(later.json.errors).toBeUndefined();
  }, 20_000);

  test('two hundred passwords sent at once reach the portal no more than the limit allows', async () => {
    stack.emulator.setLatency(100);
    try {
      stack.emulator.requestLog.clear();
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          postTo(
            stack.graphqlUrl,
            QUERY,
            { authorization: `Basic ${Buffer.from(`demo:guess-${i}`).toString('base64')}` },
            '127.0.0.10',
          ),
        ),
      );
      expect(stack.emulator.requestLog.entries()).toHaveLength(10);
      expect(answers.filter((answer) => answer.status === 429)).toHaveLength(190);
      expect(answers.filter((answer) => answer.json.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED')).toHaveLength(
        10,
      );
    } finally {
      stack.emulator.setLatency(0);
    }
  });

  test("one user's first page, twenty requests at once with the same credentials, is served whole", async () => {
    stack.emulator.setLatency(50);
    try {
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acmeOps }, '127.0.0.11'),
        ),
      );
      expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
      expect(answers.every((answer) => answer.json.errors === undefined)).toBe(true);
    } finally {
      stack.emulator.setLatency(0);
    }
  });

  test('requests without credentials are not counted as failed logins', async () => {
    for (let i = 0; i < 12; i += 1) {
      const answer = await postTo(stack.graphqlUrl, QUERY, {}, '127.0.0.4');
      expect(answer.status).toBe(200);
      expect(answer.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const right = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme }, '127.0.0.4');
    expect(right.status).toBe(200);
  });
});

describe('the request rate per address', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { RATE_LIMIT_PER_MINUTE: '3' } });
  });
  afterAll(() => stack.close());

  test('is announced in the RateLimit fields, and past it requests are refused with Retry-After', async () => {
    const answers = [];
    for (let i = 0; i < 4; i += 1)
      answers.push(await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme }, '127.0.0.5'));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429]);
    expect(answers[0]!.headers['ratelimit-policy']).toBe('"per-ip";q=3;w=60');
    expect(answers.map((answer) => answer.headers.ratelimit)).toEqual([
      expect.stringMatching(/^"per-ip";r=2;t=\d+$/),
      expect.stringMatching(/^"per-ip";r=1;t=\d+$/),
      expect.stringMatching(/^"per-ip";r=0;t=\d+$/),
      expect.stringMatching(/^"per-ip";r=0;t=\d+$/),
    ]);
    expect(Number(answers[3]!.headers['retry-after'])).toBeGreaterThan(0);
    expect(answers[3]!.json.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'REQUEST_RATE' });
    // Another address has its own count; health checks are not counted.
    expect((await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme }, '127.0.0.6')).status).toBe(200);
    expect((await fetch(`${stack.origin}/healthz`)).status).toBe(200);
  });

  test('without TRUST_PROXY, X-Forwarded-For is ignored: two forwarded clients on one socket address are one', async () => {
    const statuses = [];
    for (const forwarded of ['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.2'])
      statuses.push(
        (
          await postTo(
            stack.graphqlUrl,
            QUERY,
            { authorization: stack.auth.acme, 'x-forwarded-for': forwarded },
            '127.0.0.7',
          )
        ).status,
      );
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe('behind a proxy, with TRUST_PROXY', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { RATE_LIMIT_PER_MINUTE: '2', TRUST_PROXY: '127.0.0.1/8' } });
  });
  afterAll(() => stack.close());

  test('two X-Forwarded-For values are two clients', async () => {
    const post = (forwarded: string) =>
      postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme, 'x-forwarded-for': forwarded }, '127.0.0.8');
    const first = [await post('10.0.0.1'), await post('10.0.0.1'), await post('10.0.0.1')];
    expect(first.map((answer) => answer.status)).toEqual([200, 200, 429]);
    expect((await post('10.0.0.2')).status).toBe(200);
  });
});

describe('behind one proxy, TRUST_PROXY=1 (a hop count)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { RATE_LIMIT_PER_MINUTE: '2', TRUST_PROXY: '1' } });
  });
  afterAll(() => stack.close());

  // The proxy at 127.0.0.12 appends the address it saw to whatever X-Forwarded-For the client sent.
  const throughProxy = (forwarded: string) =>
    postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme, 'x-forwarded-for': forwarded }, '127.0.0.12');

  test('the client is the address the proxy saw, not the one it wrote itself at the left', async () => {
    expect((await throughProxy('1.2.3.4, 10.0.0.1')).status).toBe(200);
    expect((await throughProxy('1.2.3.4, 10.0.0.1')).status).toBe(200);
    // Another address of its own choosing, the same real address: the same client, over its limit.
    const spoofed = await throughProxy('5.6.7.8, 10.0.0.1');
    expect(spoofed.status).toBe(429);
    expect(spoofed.json.errors[0].extensions.reason).toBe('REQUEST_RATE');
    // The same spoofed address from another real one: another client.
    expect((await throughProxy('1.2.3.4, 10.0.0.2')).status).toBe(200);
  });
});

describe('behind a proxy that TRUST_PROXY does not name (off)', () => {
  let emulator: Emulator;
  let server: ChildServer;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    server = await startChildServer({
      PORTAL_URL: emulator.url,
      NODE_ENV: 'production',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
    });
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
    await emulator?.close();
  });

  /** The server's JSON log lines so far. */
  const logLines = () =>
    server
      .output()
      .stdout.split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const ignoredSoFar = async () =>
    Number(
      /^client_forwarded_headers_ignored_total (\d+)$/m.exec(
        await (await fetch(new URL('/metrics', server.graphqlUrl))).text(),
      )?.[1],
    );

  test('every forwarded request is counted, and the log says so once, naming the header, the socket and TRUST_PROXY', async () => {
    const before = await ignoredSoFar();
    const forwarded: Array<Record<string, string>> = [
      ...Array.from({ length: 8 }, (_, i) => ({ 'x-forwarded-for': `198.51.100.${i + 1}` })),
      { forwarded: 'for=198.51.100.9' },
      { 'x-forwarded-for': '198.51.100.10', forwarded: 'for=198.51.100.10' },
    ];
    for (const headers of forwarded) {
      const answer = await postTo(
        server.graphqlUrl,
        QUERY,
        { authorization: emulator.account('demo').authorization, ...headers },
        '127.0.0.13',
      );
      expect(answer.json.errors).toBeUndefined();
    }
    // A request without one is not counted.
    await postTo(server.graphqlUrl, QUERY, { authorization: emulator.account('demo').authorization }, '127.0.0.13');
    expect((await ignoredSoFar()) - before).toBe(10);
    const warnings = logLines().filter((line) => /forwarding header/.test(String(line.msg)));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      level: 40,
      headers: ['x-forwarded-for'],
      socketAddress: '127.0.0.13',
      trustProxy: false,
      msg: expect.stringMatching(/TRUST_PROXY/),
    });
  });
});
