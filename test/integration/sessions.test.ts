/**
 * Browser sessions, over real sockets against the emulator: a sign-in with a portal user's name and password gives
 * an HttpOnly cookie, and a request with that cookie alone acts with the user's credentials (the emulator's log
 * names the user). The cookie holds nothing of them; an id sent with a sign-in is never taken over; signing out,
 * idling, the maximum age and a password changed at the portal each end a session; a page of another origin cannot
 * use it; a request's own Authorization wins; failed sign-ins count against the login limits; SESSIONS=off turns it
 * all off. Sessions shared by replicas through Redis are in `replicas.test.ts`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { startEmulator } from '../../src/emulator';
import { Tracing } from '../../src/tracing/tracing';
import { startChildServer } from '../helpers/childServer';
import { ManualClock } from '../helpers/clock';
import { sendTo } from '../helpers/http';
import { startStack, type Stack } from '../helpers/stack';

const LISTED_ORIGIN = 'https://app.example.com';
const QUERY = { query: '{ productAssignments { id } }' };
const ID = /^[A-Za-z0-9_-]{43}$/;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
  /** The `portal_session` cookie the answer set: its value ('' when it expires it), and its attributes. */
  cookie: { value: string; attributes: string[] } | undefined;
}

/** One request to `origin + path` over a real socket, from `from` (a loopback address) when given. */
async function send(
  origin: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: { body?: unknown; cookie?: string; headers?: Record<string, string>; from?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {
    ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(options.cookie === undefined ? {} : { cookie: `portal_session=${options.cookie}` }),
    ...options.headers,
  };
  const answer = await sendTo(`${origin}${path}`, method, {
    body: options.body,
    headers,
    ...(options.from === undefined ? {} : { from: options.from }),
  });
  return {
    status: answer.status,
    headers: answer.headers,
    text: answer.text,
    json: answer.json,
    cookie: sessionCookieOf(answer.headers),
  };
}

function sessionCookieOf(headers: IncomingHttpHeaders): Answer['cookie'] {
  const setCookie = headers['set-cookie'];
  const lines = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  const line = lines.find((candidate) => candidate.startsWith('portal_session='));
  if (line === undefined) return undefined;
  const [pair, ...attributes] = line.split(';').map((part) => part.trim());
  return { value: pair!.slice('portal_session='.length), attributes };
}

/** Every spelling of a secret a careless store or cookie might hold: as it is, base64, base64url and hex. */
function encodingsOf(...secrets: string[]): string[] {
  return secrets.flatMap((secret) => {
    const bytes = Buffer.from(secret, 'utf8');
    return [secret, bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url'), bytes.toString('hex')];
  });
}

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

describe('sessions', () => {
  let stack: Stack;
  const exporter = new InMemorySpanExporter();
  beforeAll(async () => {
    stack = await startStack({
      env: { CORS_ORIGINS: LISTED_ORIGIN, AUTH_FAILURE_LIMIT: '3' },
      parts: { tracing: Tracing.withExporter(exporter) },
    });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.emulator.reset();
    exporter.reset();
  });

  const signIn = (username: string, password: string, options: Parameters<typeof send>[3] = {}) =>
    send(stack.origin, 'POST', '/auth/session', { ...options, body: options.body ?? { username, password } });
  const query = (cookie: string | undefined, options: Parameters<typeof send>[3] = {}) =>
    send(stack.origin, 'POST', '/graphql', { body: QUERY, ...options, ...(cookie === undefined ? {} : { cookie }) });
  /** Signs in and answers the new session's cookie value. */
  const sessionOf = async (username: string, password = username, from?: string): Promise<string> => {
    const answer = await signIn(username, password, from === undefined ? {} : { from });
    expect(answer.status).toBe(200);
    return answer.cookie!.value;
  };
  const portalCalls = () => stack.emulator.requestLog.entries();

  describe('signing in', () => {
    test("the cookie alone acts with the user's credentials: the portal sees the user; one call checked the sign-in", async () => {
      const before = Date.now();
      const signedIn = await signIn('acme-ops', 'acme-ops');
      expect(signedIn.status).toBe(200);
      expect(signedIn.json.username).toBe('acme-ops');
      const expiresAt = Date.parse(signedIn.json.expiresAt);
      // The idle timeout (30 minutes by default) from now.
      expect(expiresAt).toBeGreaterThanOrEqual(before + 1_800_000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 1_800_000);
      expect(signedIn.headers['cache-control']).toBe('no-store');
      expect(portalCalls().map((entry) => [entry.route, entry.username])).toEqual([
        ['productAssignment.list', 'acme-ops'],
      ]);

      stack.emulator.requestLog.clear();
      const answer = await query(signedIn.cookie!.value);
      expect(answer.json.errors).toBeUndefined();
      expect(answer.json.data.productAssignments).toHaveLength(stack.emulator.state.assignmentsOf('acme-ops').length);
      expect(portalCalls().length).toBeGreaterThan(0);
      expect(portalCalls().every((entry) => entry.username === 'acme-ops')).toBe(true);

      const asked = await send(stack.origin, 'GET', '/auth/session', { cookie: signedIn.cookie!.value });
      expect(asked.status).toBe(200);
      expect(asked.json).toEqual({ username: 'acme-ops', expiresAt: expect.any(String) });
      expect(Date.parse(asked.json.expiresAt)).toBeGreaterThanOrEqual(expiresAt);
    });

    test('the cookie is HttpOnly, Secure, SameSite=Strict, Path=/, and a random id holding nothing of the user name or password', async () => {
      const password = 'Correct-Horse-Battery-Staple-9';
      stack.emulator.setPassword('globex', password);
      const first = await signIn('globex', password);
      const second = await signIn('globex', password);
      for (const { cookie } of [first, second]) {
        expect(cookie!.value).toMatch(ID); // 256 random bits
        expect(cookie!.attributes).toEqual(
          expect.arrayContaining(['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/', 'Max-Age=43200']),
        );
        expect(cookie!.attributes.some((attribute) => /^Domain=/i.test(attribute))).toBe(false);
        for (const secret of encodingsOf('globex', password, `globex:${password}`, basic('globex', password)))
          expect(cookie!.value).not.toContain(secret);
      }
      expect(second.cookie!.value).not.toBe(first.cookie!.value);
      // Each is a session of its own.
      expect((await query(first.cookie!.value)).json.errors).toBeUndefined();
      expect((await query(second.cookie!.value)).json.errors).toBeUndefined();
    });

    test('a cookie sent with the sign-in is never taken over: a new id each time, and the old session ends', async () => {
      const old = await sessionOf('demo');
      const again = await signIn('demo', 'demo', { cookie: old });
      expect(again.status).toBe(200);
      expect(again.cookie!.value).toMatch(ID);
      expect(again.cookie!.value).not.toBe(old);
      expect((await query(old)).json.errors[0].extensions).toEqual({
        code: 'UNAUTHENTICATED',
        reason: 'SESSION_ENDED',
      });
      expect((await query(again.cookie!.value)).json.errors).toBeUndefined();

      // An id chosen by someone else (planted in the victim's browser) is not the one the sign-in gives.
      const planted = 'A'.repeat(43);
      const fixated = await signIn('demo', 'demo', { cookie: planted });
      expect(fixated.cookie!.value).not.toBe(planted);
      expect((await query(planted)).status).toBe(401);
    });

    test('wrong password: 401 UNAUTHENTICATED and no cookie; counted by the login limits, past AUTH_FAILURE_LIMIT a sign-in is 429', async () => {
      const from = '127.0.0.40';
      const cookie = await sessionOf('demo', 'demo', '127.0.0.41');
      stack.emulator.requestLog.clear();
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const refused = await signIn('demo', `guess-${attempt}`, { from });
        expect(refused.status).toBe(401);
        expect(refused.json).toEqual({
          errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }],
        });
        expect(refused.cookie).toBeUndefined();
        expect(refused.headers['www-authenticate']).toBeUndefined();
      }
      // A fourth password the portal never accepted is refused before it reaches the portal.
      const blocked = await signIn('demo', 'guess-3', { from });
      expect(blocked.status).toBe(429);
      expect(blocked.json.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'AUTH_FAILURES' });
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(blocked.cookie).toBeUndefined();
      // The right password, accepted by the portal within the window, is never held back: neither a sign-in nor a
      // request acting with a session of it (the sessions' hook ran first, so the limits saw those credentials).
      expect((await signIn('demo', 'demo', { from })).status).toBe(200);
      expect((await query(cookie, { from })).status).toBe(200);
      // The portal saw the three wrong passwords and, of the rest, only the accepted ones.
      expect(portalCalls().map((entry) => entry.username)).toEqual([null, null, null, 'demo', 'demo']);
      expect(await (await fetch(`${stack.origin}/metrics`)).text()).toMatch(/^client_auth_failures [3-9]$/m);
      // Another address signs in.
      expect((await signIn('demo', 'demo', { from: '127.0.0.43' })).status).toBe(200);
    });

    test.each([
      ['a body that is not JSON', 400, 'MALFORMED_JSON', '{"username": "demo"'],
      ['an empty body', 400, 'EMPTY_BODY', ''],
      ['an array', 400, 'MALFORMED_SIGN_IN', []],
      ['no password', 400, 'MALFORMED_SIGN_IN', { username: 'demo' }],
      ['a number for the user name', 400, 'MALFORMED_SIGN_IN', { username: 7, password: 'demo' }],
      ['an empty password', 400, 'MALFORMED_SIGN_IN', { username: 'demo', password: '' }],
      ['a colon in the user name', 400, 'MALFORMED_SIGN_IN', { username: 'de:mo', password: 'demo' }],
      ['a control character in the user name', 400, 'MALFORMED_SIGN_IN', { username: 'de\nmo', password: 'demo' }],
      ['a user name of 257 characters', 400, 'MALFORMED_SIGN_IN', { username: 'u'.repeat(257), password: 'demo' }],
      ['a password of 1025 characters', 400, 'MALFORMED_SIGN_IN', { username: 'demo', password: 'p'.repeat(1025) }],
      ['a body over 4096 bytes', 413, 'BODY_TOO_LARGE', { username: 'demo', password: 'demo', pad: 'x'.repeat(5000) }],
    ])('%s: %i BAD_REQUEST %s, before any portal call', async (_case, status, reason, body) => {
      const answer = await signIn('', '', { body });
      expect(answer.status).toBe(status);
      expect(answer.json.errors[0].extensions).toEqual({ code: 'BAD_REQUEST', reason });
      expect(answer.cookie).toBeUndefined();
      expect(portalCalls()).toEqual([]);
    });

    test('a sign-in that is not application/json: 415 BAD_REQUEST, before any portal call', async () => {
      const answer = await signIn('demo', 'demo', { headers: { 'content-type': 'text/plain' } });
      expect(answer.status).toBe(415);
      expect(answer.json.errors[0].extensions).toEqual({ code: 'BAD_REQUEST', reason: 'UNSUPPORTED_MEDIA_TYPE' });
      expect(portalCalls()).toEqual([]);
    });
  });

  describe('requests with the cookie', () => {
    test('a request with both: its own Authorization wins over the cookie', async () => {
      const cookie = await sessionOf('globex');
      stack.emulator.requestLog.clear();
      const answer = await query(cookie, { headers: { authorization: stack.auth.acme } });
      expect(answer.json.data.productAssignments).toHaveLength(stack.emulator.state.assignmentsOf('demo').length);
      expect(new Set(portalCalls().map((entry) => entry.username))).toEqual(new Set(['demo']));
    });

    test("the licence-file route serves the session's user their file with the cookie alone", async () => {
      const cookie = await sessionOf('demo');
      const { hwidBoundLicenseId } = stack.emulator.state.landmarks();
      stack.emulator.requestLog.clear();
      const file = await send(stack.origin, 'GET', `/licenses/${hwidBoundLicenseId}/file`, { cookie });
      expect(file.status).toBe(200);
      expect(file.text).toBe(stack.emulator.state.licenseFile(hwidBoundLicenseId)!.toString('utf8'));
      expect(portalCalls().map((entry) => [entry.route, entry.username])).toEqual([['licenseDetail.download', 'demo']]);
    });

    test("a request from another origin with the cookie is refused 403 before any portal call; this server's own origin and CORS_ORIGINS pass", async () => {
      const cookie = await sessionOf('demo');
      stack.emulator.requestLog.clear();
      for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.example', 'null']) {
        const refused = await query(cookie, { headers: { origin } });
        expect(refused.status).toBe(403);
        expect(refused.json.errors[0].extensions).toEqual({ code: 'FORBIDDEN', reason: 'CROSS_ORIGIN' });
        const file = await send(stack.origin, 'GET', '/licenses/1/file', { cookie, headers: { origin } });
        expect(file.status).toBe(403);
        expect(file.headers['content-type']).toBe('text/plain; charset=utf-8');
        for (const method of ['GET', 'DELETE'] as const)
          expect((await send(stack.origin, method, '/auth/session', { cookie, headers: { origin } })).status).toBe(403);
        // A sign-in from another site (which would sign the browser into the sender's account) too.
        expect((await signIn('demo', 'demo', { headers: { origin } })).status).toBe(403);
      }
      expect(portalCalls()).toEqual([]);

      const own = await query(cookie, { headers: { origin: stack.origin } });
      expect(own.json.errors).toBeUndefined();
      const listed = await query(cookie, { headers: { origin: LISTED_ORIGIN } });
      expect(listed.json.errors).toBeUndefined();
      expect(listed.headers['access-control-allow-origin']).toBe(LISTED_ORIGIN);
      expect(listed.headers['access-control-allow-credentials']).toBe('true');
      // A request that brings its own Authorization uses no cookie: CORS governs it as before.
      const withHeader = await query(cookie, {
        headers: { origin: 'https://evil.example.com', authorization: stack.auth.acme },
      });
      expect(withHeader.json.errors).toBeUndefined();
      // Still the session is the session (a refused origin did not end it).
      expect((await send(stack.origin, 'GET', '/auth/session', { cookie })).status).toBe(200);
    });

    test('signed out: 204 and the cookie expired; the cookie is refused from then on (401 SESSION_ENDED), before any portal call', async () => {
      const cookie = await sessionOf('demo');
      const signedOut = await send(stack.origin, 'DELETE', '/auth/session', { cookie });
      expect(signedOut.status).toBe(204);
      expect(signedOut.cookie!.value).toBe('');
      expect(signedOut.cookie!.attributes).toEqual(
        expect.arrayContaining(['Max-Age=0', 'Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'Path=/']),
      );
      stack.emulator.requestLog.clear();
      const refused = await query(cookie);
      expect(refused.status).toBe(401);
      expect(refused.json.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'SESSION_ENDED' });
      expect(refused.cookie!.value).toBe('');
      const file = await send(stack.origin, 'GET', '/licenses/1/file', { cookie });
      expect(file.status).toBe(401);
      expect(file.text).toMatch(/session has ended/);
      const asked = await send(stack.origin, 'GET', '/auth/session', { cookie });
      expect(asked.json.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'SESSION_ENDED' });
      expect(portalCalls()).toEqual([]);
      // Without a cookie there is no session to tell, and signing out again is no error.
      const none = await send(stack.origin, 'GET', '/auth/session');
      expect(none.status).toBe(401);
      expect(none.json.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'NO_SESSION' });
      expect((await send(stack.origin, 'DELETE', '/auth/session')).status).toBe(204);
    });

    test('a password changed at the portal ends the session: that request is UNAUTHENTICATED and expires the cookie; later ones are refused', async () => {
      const from = '127.0.0.42';
      const cookie = await sessionOf('acme-ops', 'acme-ops', from);
      stack.emulator.setPassword('acme-ops', 'changed-in-the-portal');
      const refused = await query(cookie, { from });
      expect(refused.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(refused.cookie!.value).toBe('');
      stack.emulator.requestLog.clear();
      const after = await query(cookie, { from });
      expect(after.status).toBe(401);
      expect(after.json.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'SESSION_ENDED' });
      expect(portalCalls()).toEqual([]);
      // Signing in with the new password starts a new session.
      const renewed = await sessionOf('acme-ops', 'changed-in-the-portal', from);
      expect((await query(renewed, { from })).json.errors).toBeUndefined();
    });

    test("no span holds the password, the credentials or the cookie's id", async () => {
      const password = 'Span-Secret-Passphrase-77';
      stack.emulator.setPassword('globex', password);
      const cookie = await sessionOf('globex', password);
      expect((await query(cookie)).json.errors).toBeUndefined();
      await signIn('globex', 'Wrong-Span-Passphrase-88');
      const spans = exporter.getFinishedSpans();
      expect(spans.map((span) => span.name)).toEqual(expect.arrayContaining(['POST /auth/session', 'POST /graphql']));
      const exported = JSON.stringify(
        spans.map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })),
      );
      for (const secret of [
        cookie,
        ...encodingsOf(password, 'Wrong-Span-Passphrase-88', `globex:${password}`, basic('globex', password)),
      ])
        expect(exported).not.toContain(secret);
    });
  });
});

describe('expiry', () => {
  let stack: Stack;
  /** The sessions' clock: the tests move it on instead of waiting. */
  const clock = new ManualClock();
  beforeAll(async () => {
    stack = await startStack({
      env: { SESSION_IDLE_TIMEOUT_MS: '1000', SESSION_MAX_AGE_MS: '2500' },
      parts: { now: clock.now },
    });
  });
  afterAll(() => stack.close());
  const signIn = () => send(stack.origin, 'POST', '/auth/session', { body: { username: 'demo', password: 'demo' } });
  const query = (cookie: string) => send(stack.origin, 'POST', '/graphql', { body: QUERY, cookie });

  test('a session unused for SESSION_IDLE_TIMEOUT_MS ends; each request begins its idle time again', async () => {
    const before = clock.now();
    const signedIn = await signIn();
    expect(Date.parse(signedIn.json.expiresAt)).toBeGreaterThanOrEqual(before + 1000);
    expect(Date.parse(signedIn.json.expiresAt)).toBeLessThanOrEqual(clock.now() + 1000);
    const cookie = signedIn.cookie!.value;
    for (let i = 0; i < 2; i += 1) {
      clock.advance(600);
      expect((await query(cookie)).json.errors).toBeUndefined();
    }
    clock.advance(1300);
    const idle = await query(cookie);
    expect(idle.status).toBe(401);
    expect(idle.json.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'SESSION_ENDED' });
  });

  test('a session in use ends SESSION_MAX_AGE_MS after its sign-in, and says so in its expiry', async () => {
    const signedInAt = clock.now();
    const cookie = (await signIn()).cookie!.value;
    while (clock.now() < signedInAt + 2000) {
      clock.advance(400);
      expect((await query(cookie)).json.errors).toBeUndefined();
    }
    const asked = await send(stack.origin, 'GET', '/auth/session', { cookie });
    expect(Date.parse(asked.json.expiresAt)).toBeLessThanOrEqual(signedInAt + 2500 + 100);
    clock.advance(signedInAt + 2700 - clock.now());
    const old = await query(cookie);
    expect(old.status).toBe(401);
    expect(old.json.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'SESSION_ENDED' });
  });
});

test('SESSIONS=off: the routes answer 404 and the cookie is ignored', async () => {
  const on = await startStack();
  const off = await startStack({ env: { SESSIONS: 'off' } });
  try {
    const cookie = (await send(on.origin, 'POST', '/auth/session', { body: { username: 'demo', password: 'demo' } }))
      .cookie!.value;
    for (const method of ['POST', 'GET', 'DELETE'] as const) {
      const answer = await send(off.origin, method, '/auth/session', {
        cookie,
        ...(method === 'POST' ? { body: { username: 'demo', password: 'demo' } } : {}),
      });
      expect(answer.status).toBe(404);
      expect(answer.json.errors[0].extensions).toEqual({ code: 'NOT_FOUND', reason: 'ROUTE_NOT_FOUND' });
    }
    // The cookie is no credential here: the request goes to the portal without any, which refuses it.
    off.emulator.requestLog.clear();
    const answer = await send(off.origin, 'POST', '/graphql', { body: QUERY, cookie });
    expect(answer.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(off.emulator.requestLog.entries().map((entry) => entry.username)).toEqual([null]);
  } finally {
    await off.close();
    await on.close();
  }
});

test('no log line holds the password, the credentials or a cookie id, at log level trace', async () => {
  const emulator = await startEmulator({ port: 0 });
  const password = 'Logged-Never-Passphrase-31';
  const wrong = 'Wrong-Logged-Passphrase-32';
  emulator.setPassword('globex', password);
  const server = await startChildServer({ PORTAL_URL: emulator.url, LOG_LEVEL: 'trace', NODE_ENV: 'production' });
  const origin = new URL(server.graphqlUrl).origin;
  let cookie: string | undefined;
  try {
    const signedIn = await send(origin, 'POST', '/auth/session', { body: { username: 'globex', password } });
    cookie = signedIn.cookie!.value;
    expect((await send(origin, 'POST', '/graphql', { body: QUERY, cookie })).json.errors).toBeUndefined();
    expect((await send(origin, 'GET', '/auth/session', { cookie })).status).toBe(200);
    expect((await send(origin, 'DELETE', '/auth/session', { cookie })).status).toBe(204);
    expect((await send(origin, 'POST', '/graphql', { body: QUERY, cookie })).status).toBe(401);
    expect(
      (await send(origin, 'POST', '/auth/session', { body: { username: 'globex', password: wrong } })).status,
    ).toBe(401);
  } finally {
    await server.stop();
    await emulator.close();
  }
  const { stdout, stderr } = server.output();
  expect(stdout).toMatch(/session started/);
  expect(cookie).toMatch(ID);
  for (const secret of [cookie, ...encodingsOf(password, wrong, basic('globex', password), basic('globex', wrong))]) {
    expect(stdout).not.toContain(secret);
    expect(stderr).not.toContain(secret);
  }
}, 60_000);
