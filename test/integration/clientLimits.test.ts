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
import { ManualClock } from '../helpers/clock';

const QUERY = { query: '{ productAssignments { id } }' };
const wrong = `Basic ${Buffer.from('demo:not-the-password').toString('base64')}`;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('failed logins', () => {
  let stack: Stack;
  const WINDOW_MS = 4000;
  /** The window's clock: the tests move it on instead of waiting. */
  const clock = new ManualClock();
  beforeAll(async () => {
    stack = await startStack({
      env: { AUTH_FAILURE_WINDOW_MS: String(WINDOW_MS), AUTH_FAILURE_LIMIT_PER_ADDRESS: '15' },
      parts: { now: clock.now },
    });
  });
  afterAll(() => stack.close());

  test("ten wrong passwords for one user name from one address: that user's unproven credentials from there are refused (429 AUTH_FAILURES); other users there, and that user elsewhere, are not", async () => {
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
    // The user name is held back from this address, in any case, whatever the password: it may be the right one.
    for (const authorization of [basic('demo', 'another-guess'), basic('DEMO', 'another-guess'), stack.auth.acme])
      expect((await postTo(stack.graphqlUrl, QUERY, { authorization }, '127.0.0.2')).status).toBe(429);
    // The portal saw the ten wrong passwords and nothing after them.
    expect(log.entries()).toHaveLength(10);

    // Another user from the same address, and the same user from another address, are served.
    const neighbour = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acmeOps }, '127.0.0.2');
    expect(neighbour.json.errors).toBeUndefined();
    const elsewhere = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme }, '127.0.0.3');
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.json.data.productAssignments.length).toBeGreaterThan(0);
    // Credentials the portal has just accepted are never held back, not even from the blocked address.
    const accepted = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme }, '127.0.0.2');
    expect(accepted.json.errors).toBeUndefined();

    // The licence file route is refused alike, in text.
    const file = await request(`${stack.origin}/licenses/1/file`, {
      headers: { authorization: basic('demo', 'a-third-guess') },
      dispatcher: clientAt('127.0.0.2'),
    });
    expect(file.statusCode).toBe(429);
    expect(file.headers['retry-after']).toBeDefined();
    expect(await file.body.text()).toMatch(/failed logins for this user name from this address/);

    const metrics = await (await fetch(`${stack.origin}/metrics`)).text();
    expect(metrics).toMatch(/^client_auth_failures 10$/m);
    expect(metrics).toMatch(/^client_requests_refused\{limit="auth_failures"\} 5$/m);

    // Once the window has let the oldest failures go, the user name is let through from there again.
    clock.advance(WINDOW_MS + 200);
    const later = await postTo(stack.graphqlUrl, QUERY, { authorization: wrong }, '127.0.0.2');
    expect(later.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  test('many user names from one address: past AUTH_FAILURE_LIMIT_PER_ADDRESS its unproven credentials are refused (AUTH_FAILURES_ADDRESS); accepted ones are served', async () => {
    const signedIn = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acmeOps }, '127.0.0.14');
    expect(signedIn.json.errors).toBeUndefined();
    for (let i = 0; i < 15; i += 1) {
      const answer = await postTo(
        stack.graphqlUrl,
        QUERY,
        { authorization: basic(`user-${i}`, 'guess') },
        '127.0.0.14',
      );
      expect(answer.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const refused = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.globex }, '127.0.0.14');
    expect(refused.status).toBe(429);
    expect(refused.json.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'AUTH_FAILURES_ADDRESS' });
    expect(refused.json.errors[0].message).toMatch(
      /^Too many failed logins from this address: at most 15 in 4 seconds/,
    );
    const accepted = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acmeOps }, '127.0.0.14');
    expect(accepted.json.errors).toBeUndefined();
    const elsewhere = await postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.globex }, '127.0.0.15');
    expect(elsewhere.json.errors).toBeUndefined();
    expect(await (await fetch(`${stack.origin}/metrics`)).text()).toMatch(
      /^client_requests_refused\{limit="auth_failures_address"\} 1$/m,
    );
  });

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

describe('one user name tried from many addresses (TRUST_PROXY=1, AUTH_FAILURE_LIMIT_PER_USER=5)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { TRUST_PROXY: '1', AUTH_FAILURE_LIMIT_PER_USER: '5' } });
  });
  afterAll(() => stack.close());

  /** A request through the proxy at 127.0.0.16 from the client at `address`. */
  const from = (address: string, authorization: string) =>
    postTo(stack.graphqlUrl, QUERY, { authorization, 'x-forwarded-for': address }, '127.0.0.16');

  test("past the limit, that user's unproven credentials are refused from every address (AUTH_FAILURES_USER); the same user's accepted credentials and other users are served throughout", async () => {
    const signedIn = await from('203.0.113.1', stack.auth.globex);
    expect(signedIn.json.errors).toBeUndefined();
    const log = stack.emulator.requestLog;
    log.clear();
    for (let i = 0; i < 5; i += 1) {
      const guess = await from(`198.51.100.${i + 1}`, basic('globex', `guess-${i}`));
      expect(guess.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect((await from(`198.51.100.${i + 1}`, stack.auth.globex)).json.errors).toBeUndefined();
    }
    for (const authorization of [basic('globex', 'guess-5'), basic('GloBex', 'guess-6')]) {
      const refused = await from('198.51.100.99', authorization);
      expect(refused.status).toBe(429);
      expect(refused.json.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'AUTH_FAILURES_USER' });
      expect(refused.json.errors[0].message).toMatch(/^Too many failed logins for this user name: at most 5 in 300/);
    }
    // The customer who signed in keeps working, from any address; other users are not held back.
    expect((await from('198.51.100.99', stack.auth.globex)).json.errors).toBeUndefined();
    expect((await from('203.0.113.1', stack.auth.globex)).json.errors).toBeUndefined();
    expect((await from('198.51.100.99', stack.auth.acme)).json.errors).toBeUndefined();
    // The portal saw the five guesses, and none of the refused.
    expect(log.entries().filter((entry) => entry.status === 401)).toHaveLength(5);
    expect(await (await fetch(`${stack.origin}/metrics`)).text()).toMatch(
      /^client_requests_refused\{limit="auth_failures_user"\} 2$/m,
    );
  });

  test('twenty guesses of one user name sent at once from twenty addresses reach the portal five times', async () => {
    stack.emulator.setLatency(100);
    try {
      stack.emulator.requestLog.clear();
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => from(`192.0.2.${i + 1}`, basic('acme-ops', `guess-${i}`))),
      );
      expect(stack.emulator.requestLog.entries()).toHaveLength(5);
      expect(answers.filter((answer) => answer.status === 429)).toHaveLength(15);
      expect(
        answers.filter((answer) => answer.status === 429).map((answer) => answer.json.errors[0].extensions.reason),
      ).toEqual(Array(15).fill('AUTH_FAILURES_USER'));
    } finally {
      stack.emulator.setLatency(0);
    }
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

  test("an entry that is no address (a client reaching the server around the proxy) is counted as the socket's", async () => {
    const direct = (forwarded: string) =>
      postTo(stack.graphqlUrl, QUERY, { authorization: stack.auth.acme, 'x-forwarded-for': forwarded }, '127.0.0.18');
    const statuses = [];
    for (const forwarded of ['made-up-1', 'made-up-2', 'x'.repeat(4000)])
      statuses.push((await direct(forwarded)).status);
    expect(statuses).toEqual([200, 200, 429]);
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

  test("ten people's wrong passwords then an eleventh user's right one, all through one proxy: served; the log says so once, naming the header, the socket and TRUST_PROXY, and every forwarded request is counted", async () => {
    const before = await ignoredSoFar();
    const forwarded: Array<Record<string, string>> = [
      ...Array.from({ length: 9 }, (_, i) => ({ 'x-forwarded-for': `198.51.100.${i + 1}` })),
      { 'x-forwarded-for': '198.51.100.10', forwarded: 'for=198.51.100.10' },
    ];
    for (const [i, headers] of forwarded.entries()) {
      const answer = await postTo(
        server.graphqlUrl,
        QUERY,
        { authorization: basic(`person-${i}`, 'typo'), ...headers },
        '127.0.0.13',
      );
      expect(answer.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const eleventh = await postTo(
      server.graphqlUrl,
      QUERY,
      { authorization: emulator.account('globex').authorization, forwarded: 'for=198.51.100.11' },
      '127.0.0.13',
    );
    expect(eleventh.json.errors).toBeUndefined();
    // A request without one is not counted.
    await postTo(server.graphqlUrl, QUERY, { authorization: emulator.account('demo').authorization }, '127.0.0.13');
    expect((await ignoredSoFar()) - before).toBe(11);
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
