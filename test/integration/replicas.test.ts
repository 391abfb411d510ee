/**
 * Two replicas, one portal, one Redis: the promise "the same key never generates a second licence" holds across
 * processes, and a browser session started on one is good on the other. Each replica is its own server process; Redis is a real redis-server; the portal is the emulator.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { startEmulator, type Emulator } from '../../src/emulator';
import { startChildServer, type ChildServer } from '../helpers/childServer';
import { postTo } from '../helpers/http';
import { startRedisServer, type RedisServer } from '../../scripts/soak/redisServer';

const GENERATE = `mutation Generate($input: GenerateLicenseInput!) {
  generateLicense(input: $input) { license { id hwid } }
}`;
/**
 * Short timeouts, so that a lease (at least their sum and the deadline) runs out within a test: the headers' is kept
 * above the 1.5 s the portal takes to answer the killed replica's generate, the connection's and the body's are cut.
 */
const LEASE_MS = 3000;
/** Failed logins per user name, from any address, before that user's unproven credentials are refused. */
const FAILURES_PER_USER = 12;

let emulator: Emulator;
let redis: RedisServer;
let a: ChildServer;
let b: ChildServer;
let demo: string;

function replica(): Promise<ChildServer> {
  return startChildServer({
    PORTAL_URL: emulator.url,
    REDIS_URL: redis.url,
    CALLER_HASH_SECRET: 'replicas-share-this-secret-0123456789abcdef',
    SESSION_SECRET: 'replicas-seal-sessions-with-this-0123456789',
    LOG_LEVEL: 'silent',
    PORTAL_CONNECT_TIMEOUT_MS: '500',
    PORTAL_HEADERS_TIMEOUT_MS: '2000',
    PORTAL_BODY_TIMEOUT_MS: '500',
    OPERATION_TIMEOUT_MS: String(LEASE_MS),
    IDEMPOTENCY_LEASE_MS: String(LEASE_MS),
    AUTH_FAILURE_LIMIT_PER_USER: String(FAILURES_PER_USER),
  });
}

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  redis = await startRedisServer();
  [a, b] = await Promise.all([replica(), replica()]);
  await Promise.all([untilRedisUp(a), untilRedisUp(b)]);
  demo = emulator.account('demo').authorization;
}, 60_000);

/** Waits until a replica says, in /metrics, that it is connected to Redis (start-up does not wait for it). */
async function untilRedisUp(server: ChildServer): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (/^redis_up 1$/m.test(await (await fetch(new URL('/metrics', server.graphqlUrl))).text())) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the replica did not connect to Redis within 5 s');
}

afterAll(async () => {
  for (const server of [a, b]) await server?.stop();
  await redis?.dispose();
  await emulator?.close();
});

afterEach(() => {
  emulator.faults.clear();
  emulator.setLatency(0);
});

let seq = 0;
function input(key: string | undefined, hwid = `REPLICA-${Date.now()}-${(seq += 1)}`) {
  // The unlimited assignment: twenty-odd licences never exhaust it.
  const { unlimitedAssignmentId } = emulator.state.landmarks();
  const expiration = new Date(Date.parse(emulator.state.today()) + 30 * 86_400_000).toISOString().slice(0, 10);
  return {
    productAssignmentId: String(unlimitedAssignmentId),
    hwid,
    expirationDate: expiration,
    ...(key === undefined ? {} : { idempotencyKey: key }),
  };
}

const generate = (server: ChildServer, variables: { input: ReturnType<typeof input> }) =>
  postTo(server.graphqlUrl, { query: GENERATE, variables }, { authorization: demo });
const generateCalls = () => emulator.requestLog.entries({ route: 'license.generate' }).length;
const licencesWith = (hwid: string) => emulator.state.licensesOf('demo').filter((license) => license.hwid === hwid);

test('one key sent to both replicas at once, twenty times: one generate call per key, one licence in both answers', async () => {
  emulator.setLatency(300, 'license.generate');
  const before = generateCalls();
  const rounds = await Promise.all(
    Array.from({ length: 20 }, async (_, index) => {
      const variables = { input: input(`both-at-once-${Date.now()}-${index}`) };
      const [fromA, fromB] = await Promise.all([generate(a, variables), generate(b, variables)]);
      return { hwid: variables.input.hwid, fromA, fromB };
    }),
  );
  for (const { hwid, fromA, fromB } of rounds) {
    expect(fromA.json.errors).toBeUndefined();
    expect(fromB.json.errors).toBeUndefined();
    expect(fromA.json.data.generateLicense.license).toEqual(fromB.json.data.generateLicense.license);
    expect(licencesWith(hwid)).toHaveLength(1);
  }
  expect(generateCalls() - before).toBe(20);
}, 60_000);

test('the answer lost on replica A: the retry on replica B returns the licence A made, and the portal holds one', async () => {
  const variables = { input: input(`lost-on-a-${Date.now()}`) };
  emulator.faults.add({ route: 'license.generate', kind: 'resetAfterEffect', times: 1 });
  const lost = await generate(a, variables);
  expect(lost.json.errors[0].extensions.code).toBe('OUTCOME_UNKNOWN');
  const retry = await generate(b, variables);
  expect(retry.json.errors).toBeUndefined();
  const made = licencesWith(variables.input.hwid);
  expect(made).toHaveLength(1);
  expect(retry.json.data.generateLicense.license.id).toBe(String(made[0]!.id));
});

test('a key reused with other input on the other replica is BAD_USER_INPUT on idempotencyKey', async () => {
  const key = `reused-${Date.now()}`;
  expect((await generate(a, { input: input(key) })).json.errors).toBeUndefined();
  const before = generateCalls();
  const reused = await generate(b, { input: input(key, 'ANOTHER-HWID') });
  expect(reused.json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'idempotencyKey' });
  expect(generateCalls()).toBe(before);
});

test('a persisted query registered through replica A is found by hash alone on replica B', async () => {
  const query = `{ productAssignments { id productName } } # apq ${Date.now()}`;
  const sha256Hash = createHash('sha256').update(query).digest('hex');
  const extensions = { persistedQuery: { version: 1, sha256Hash } };
  const registered = await postTo(a.graphqlUrl, { query, extensions }, { authorization: demo });
  expect(registered.json.errors).toBeUndefined();
  const byHash = await postTo(b.graphqlUrl, { extensions }, { authorization: demo });
  expect(byHash.json.errors).toBeUndefined();
  expect(byHash.json.data).toEqual(registered.json.data);
});

test('Redis down: reads answer, a keyed generate is refused before any portal call, one without a key goes on; back, all works', async () => {
  await redis.stop();
  try {
    const read = await postTo(a.graphqlUrl, { query: '{ productAssignments { id } }' }, { authorization: demo });
    expect(read.json.errors).toBeUndefined();
    emulator.requestLog.clear();
    const keyed = await generate(b, { input: input(`while-down-${Date.now()}`) });
    expect(keyed.json.errors[0].extensions).toEqual({
      code: 'UPSTREAM_UNAVAILABLE',
      reason: 'IDEMPOTENCY_STORE_UNAVAILABLE',
    });
    expect(emulator.requestLog.entries()).toEqual([]);
    const unkeyed = await generate(b, { input: input(undefined) });
    expect(unkeyed.json.errors).toBeUndefined();
    // A persisted query is a cache: down, it misses (the client sends the query again), it never fails.
    const missed = await postTo(
      b.graphqlUrl,
      { extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } },
      { authorization: demo },
    );
    expect(missed.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    // The replica stays ready (reads work) and says how the store is; /metrics counts it.
    const ready = await fetch(new URL('/readyz', b.graphqlUrl));
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { sharedState: string }).sharedState).toMatch(/^redis down/);
    const metrics = await (await fetch(new URL('/metrics', b.graphqlUrl))).text();
    expect(metrics).toMatch(/^redis_up 0$/m);
    expect(metrics).toMatch(/^redis_commands\{result="error"\} [1-9]/m);
    expect(metrics).toMatch(/^redis_command_seconds \d/m);
    // The per-address limits fail open: their counters could not be read, the requests went through, counted.
    expect(metrics).toMatch(/^client_limit_checks_failed_open [1-9]/m);
  } finally {
    await redis.start();
  }
  // No restart: each replica reconnects by itself.
  const variables = { input: input(`after-${Date.now()}`) };
  let answer = await generate(a, variables);
  for (let attempt = 0; attempt < 50 && answer.json.errors; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    answer = await generate(a, variables);
  }
  expect(answer.json.errors).toBeUndefined();
  expect(licencesWith(variables.input.hwid)).toHaveLength(1);
}, 30_000);

const READ = { query: '{ productAssignments { id } }' };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('failed logins are counted by both replicas together: ten spread over them hold back that user name from that address on each', async () => {
  const wrong = basic('demo', 'not-the-password');
  // The customer signs in (on A) before the guessing starts.
  expect((await postTo(a.graphqlUrl, READ, { authorization: demo }, '127.0.0.22')).json.errors).toBeUndefined();
  emulator.requestLog.clear();
  for (let i = 0; i < 10; i += 1) {
    const answer = await postTo((i % 2 === 0 ? a : b).graphqlUrl, READ, { authorization: wrong }, '127.0.0.20');
    expect(answer.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  }
  for (const replica of [a, b]) {
    const refused = await postTo(replica.graphqlUrl, READ, { authorization: wrong }, '127.0.0.20');
    expect(refused.status).toBe(429);
    expect(refused.json.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'AUTH_FAILURES' });
    // The customer's accepted credentials are served by either, from the same address.
    expect((await postTo(replica.graphqlUrl, READ, { authorization: demo }, '127.0.0.20')).json.errors).toBeUndefined();
  }
  expect(emulator.requestLog.entries().filter((entry) => entry.status === 401)).toHaveLength(10);
  // Another user from the same address is served by either.
  const other = emulator.account('acme-ops').authorization;
  expect((await postTo(b.graphqlUrl, READ, { authorization: other }, '127.0.0.20')).json.errors).toBeUndefined();
});

test('one user name guessed from many addresses over both replicas is counted once: past the limit both refuse its unproven credentials; the credentials accepted on A are served by B', async () => {
  const globex = emulator.account('globex').authorization;
  expect((await postTo(a.graphqlUrl, READ, { authorization: globex }, '127.0.0.30')).json.errors).toBeUndefined();
  for (let i = 0; i < FAILURES_PER_USER; i += 1) {
    const guess = await postTo(
      (i % 2 === 0 ? a : b).graphqlUrl,
      READ,
      { authorization: basic('globex', `guess-${i}`) },
      `127.0.0.${31 + i}`,
    );
    expect(guess.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  }
  for (const replica of [a, b]) {
    const refused = await postTo(
      replica.graphqlUrl,
      READ,
      { authorization: basic('globex', 'one-more-guess') },
      '127.0.0.60',
    );
    expect(refused.status).toBe(429);
    expect(refused.json.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'AUTH_FAILURES_USER' });
  }
  // B never saw globex's own credentials: it knows them as accepted from the shared store.
  const onB = await postTo(b.graphqlUrl, READ, { authorization: globex }, '127.0.0.60');
  expect(onB.json.errors).toBeUndefined();
  expect(onB.json.data.productAssignments.length).toBeGreaterThan(0);
});

describe('browser sessions, shared through Redis', () => {
  const password = 'Replica-Distinct-Passphrase-42';
  const QUERY = { query: '{ productAssignments { id } }' };
  // A user no other test here guesses: the per-user limit those tests reach would hold back its sign-in.
  const user = 'acme-ops';
  let seeded: string;
  beforeEach(() => {
    seeded = emulator.account(user).password;
    emulator.setPassword(user, password);
  });
  afterEach(() => emulator.setPassword(user, seeded));
  const signIn = (server: ChildServer) =>
    postTo(new URL('/auth/session', server.graphqlUrl).href, { username: user, password });
  const cookieOf = (answer: { headers: Record<string, unknown> }) =>
    /^portal_session=([^;]*)/.exec(String(answer.headers['set-cookie']))![1]!;
  const withCookie = (server: ChildServer, cookie: string) =>
    postTo(server.graphqlUrl, QUERY, { cookie: `portal_session=${cookie}` });

  test('a session started on one replica is good on the other, ended there it is refused here; Redis holds no password, no credentials and no cookie id', async () => {
    const cookie = cookieOf(await signIn(a));
    emulator.requestLog.clear();
    const onB = await withCookie(b, cookie);
    expect(onB.json.errors).toBeUndefined();
    expect(new Set(emulator.requestLog.entries().map((entry) => entry.username))).toEqual(new Set([user]));

    const held = await everythingIn(redis);
    const sessions = Object.keys(held).filter((key) => key.startsWith('portal-graphql:session:'));
    expect(sessions.length).toBeGreaterThan(0);
    const dump = JSON.stringify(held);
    const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    for (const secret of [password, `${user}:${password}`, basic.slice(6)]) {
      const bytes = Buffer.from(secret, 'utf8');
      for (const spelling of [
        secret,
        bytes.toString('base64').replace(/=+$/, ''),
        bytes.toString('base64url'),
        bytes.toString('hex'),
      ])
        expect(dump).not.toContain(spelling);
    }
    expect(dump).not.toContain(cookie);

    const signedOut = await fetch(new URL('/auth/session', b.graphqlUrl), {
      method: 'DELETE',
      headers: { cookie: `portal_session=${cookie}` },
    });
    expect(signedOut.status).toBe(204);
    const onA = await withCookie(a, cookie);
    expect(onA.status).toBe(401);
    expect(onA.json.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'SESSION_ENDED' });
  });

  test('Redis down: a request with the cookie is refused (503 UNAUTHENTICATED, SESSION_STORE_UNAVAILABLE) before any portal call, one with its own Authorization is served', async () => {
    const cookie = cookieOf(await signIn(a));
    await redis.stop();
    try {
      emulator.requestLog.clear();
      const refused = await withCookie(a, cookie);
      expect(refused.status).toBe(503);
      expect(refused.json.errors[0].extensions).toEqual({
        code: 'UNAUTHENTICATED',
        reason: 'SESSION_STORE_UNAVAILABLE',
      });
      expect(emulator.requestLog.entries()).toEqual([]);
      const served = await postTo(a.graphqlUrl, QUERY, { authorization: demo });
      expect(served.json.errors).toBeUndefined();
      // No session can be started either: the portal accepts the password, the store cannot keep the session.
      const signIn503 = await signIn(b);
      expect(signIn503.status).toBe(503);
      expect(signIn503.headers['set-cookie']).toBeUndefined();
    } finally {
      await redis.start();
    }
    // Redis kept the session (its append-only file): once the replica has reconnected, the cookie is good again.
    let answer = await withCookie(a, cookie);
    for (let attempt = 0; attempt < 50 && answer.status !== 200; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await withCookie(a, cookie);
    }
    expect(answer.json.errors).toBeUndefined();
  }, 30_000);
});

/** Every key this server wrote in Redis, with what it holds, whatever its type. */
async function everythingIn(server: RedisServer): Promise<Record<string, unknown>> {
  const client = new Redis(server.url);
  try {
    const held: Record<string, unknown> = {};
    for (const key of await client.keys('portal-graphql:*')) {
      const type = await client.type(key);
      held[key] =
        type === 'string'
          ? await client.get(key)
          : type === 'hash'
            ? await client.hgetall(key)
            : type === 'zset'
              ? await client.zrange(key, '0', '-1', 'WITHSCORES')
              : type === 'list'
                ? await client.lrange(key, 0, -1)
                : type === 'set'
                  ? await client.smembers(key)
                  : `(${type})`;
    }
    return held;
  } finally {
    client.disconnect();
  }
}

test('a replica killed while its generate call is in flight: the retry on the other, after the lease, yields exactly one licence', async () => {
  const variables = { input: input(`killed-${Date.now()}`) };
  // The portal makes the licence at once and answers 1.5 s later: A dies in between.
  emulator.setLatency(1500, 'license.generate');
  const inFlight = generate(a, variables).catch(() => undefined);
  // The licence exists as soon as the portal has the request; its answer is still on its way.
  for (let waited = 0; licencesWith(variables.input.hwid).length === 0; waited += 10) {
    if (waited > 10_000) throw new Error('replica A never sent its generate call');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  a.process.kill('SIGKILL');
  const killedAt = Date.now();
  await a.exited;
  await inFlight;
  emulator.setLatency(0);
  expect(licencesWith(variables.input.hwid)).toHaveLength(1);
  // Within the lease, B would wait for A's outcome; after it, B reconciles: it finds the licence A's call made.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, killedAt + LEASE_MS + 200 - Date.now())));
  const retry = await generate(b, variables);
  expect(retry.json.errors).toBeUndefined();
  const made = licencesWith(variables.input.hwid);
  expect(made).toHaveLength(1);
  expect(retry.json.data.generateLicense.license.id).toBe(String(made[0]!.id));
}, 30_000);

describe('with the read cache on (PORTAL_CACHE_TTL_MS), shared through Redis', () => {
  let c: ChildServer;
  let d: ChildServer;
  beforeAll(async () => {
    const cached = (): Promise<ChildServer> =>
      startChildServer({
        PORTAL_URL: emulator.url,
        REDIS_URL: redis.url,
        CALLER_HASH_SECRET: 'replicas-share-this-secret-0123456789abcdef',
        SESSION_SECRET: 'replicas-seal-sessions-with-this-0123456789',
        LOG_LEVEL: 'silent',
        PORTAL_CACHE_TTL_MS: '60000',
      });
    [c, d] = await Promise.all([cached(), cached()]);
    await Promise.all([untilRedisUp(c), untilRedisUp(d)]);
  }, 60_000);
  afterAll(async () => {
    for (const server of [c, d]) await server?.stop();
  });

  const COUNT = '{ licenses { totalCount } }';
  const read = (server: ChildServer, authorization = demo) =>
    postTo(server.graphqlUrl, { query: COUNT }, { authorization });
  const listCalls = () => emulator.requestLog.entries({ route: 'license.list' }).length;

  test('a list read through one replica is served to the same caller by the other without a portal call', async () => {
    const before = listCalls();
    const first = await read(c);
    const second = await read(d);
    expect(second.json.data).toEqual(first.json.data);
    expect(listCalls() - before).toBe(1);
    expect(await (await fetch(new URL('/metrics', d.graphqlUrl))).text()).toMatch(
      /^portal_cache_lookups\{result="hit"\} [1-9]/m,
    );
  });

  test('concurrent identical misses of one caller make one portal call', async () => {
    const before = listCalls();
    const reads = await Promise.all(
      Array.from({ length: 5 }, () => read(c, emulator.account('acme-ops').authorization)),
    );
    for (const answer of reads) expect(answer.json.data).toEqual(reads[0]!.json.data);
    expect(listCalls() - before).toBe(1);
  });

  test('a licence generated through one replica is in the next read through the other', async () => {
    const first = await read(c);
    const made = await postTo(
      d.graphqlUrl,
      { query: GENERATE, variables: { input: input(undefined) } },
      { authorization: demo },
    );
    expect(made.json.errors).toBeUndefined();
    const after = await read(c);
    expect(after.json.data.licenses.totalCount).toBe(first.json.data.licenses.totalCount + 1);
  });

  test('a licence generated through one replica is in the next read through the other, every time: fifty rounds, each served from a kept copy until then', async () => {
    const LIST = '{ licenses(orderBy: { field: ID, direction: DESC }, first: 1) { totalCount nodes { id hwid } } }';
    const latest = async (server: ChildServer) =>
      (await postTo(server.graphqlUrl, { query: LIST }, { authorization: demo })).json.data.licenses;
    const servedFromKept = async (server: ChildServer) =>
      Number(
        /^portal_cache_kept_reads\{outcome="served"\} (\d+)/m.exec(
          await (await fetch(new URL('/metrics', server.graphqlUrl))).text(),
        )?.[1],
      );
    for (let round = 0; round < 50; round += 1) {
      const [writer, reader] = round % 2 === 0 ? [c, d] : [d, c];
      // The reader keeps the list (read twice: the second read is served from its kept copy).
      await latest(reader);
      const kept = await servedFromKept(reader);
      const before = await latest(reader);
      expect(await servedFromKept(reader)).toBe(kept + 1);
      const hwid = `KEPT-${round}-${Date.now()}`;
      const made = await postTo(
        writer.graphqlUrl,
        { query: GENERATE, variables: { input: input(undefined, hwid) } },
        { authorization: demo },
      );
      expect(made.json.errors).toBeUndefined();
      const after = await latest(reader);
      expect(after.nodes[0]).toEqual(made.json.data.generateLicense.license);
      expect(after.nodes[0].hwid).toBe(hwid);
      expect(after.totalCount).toBe(before.totalCount + 1);
    }
  }, 120_000);

  test('a list call in flight on one replica across a generate through the other is neither joined nor cached', async () => {
    const before = (await read(c)).json.data.licenses.totalCount;
    // Made through d, so c's next read misses and its list call takes the portal's snapshot before the licence.
    const primer = await postTo(
      d.graphqlUrl,
      { query: GENERATE, variables: { input: input(undefined) } },
      { authorization: demo },
    );
    expect(primer.json.errors).toBeUndefined();
    emulator.faults.add({ kind: 'slowHeaders', ms: 800, route: 'license.list', times: 1 });
    const stale = read(c);
    while (emulator.requestLog.inFlight() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const made = await postTo(
      d.graphqlUrl,
      { query: GENERATE, variables: { input: input(undefined) } },
      { authorization: demo },
    );
    expect(made.json.errors).toBeUndefined();
    // Starts on c after the generate answered, while c's older call is still in flight.
    expect((await read(c)).json.data.licenses.totalCount).toBe(before + 2);
    expect((await stale).json.data.licenses.totalCount).toBe(before + 1);
    const calls = listCalls();
    expect((await read(d)).json.data.licenses.totalCount).toBe(before + 2);
    expect((await read(c)).json.data.licenses.totalCount).toBe(before + 2);
    expect(listCalls()).toBe(calls); // both from the shared cache, which holds the fresh list
  });

  test("a caller's entry is never served to another customer, nor to a wrong password", async () => {
    await read(c); // cached for demo
    const globex = await read(d, emulator.account('globex').authorization);
    expect(globex.json.data.licenses.totalCount).toBe(emulator.state.licensesOf('globex').length);
    const before = listCalls();
    const wrong = await read(d, `Basic ${Buffer.from('demo:not-the-password').toString('base64')}`);
    expect(wrong.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(listCalls() - before).toBe(1); // it asked the portal, which refused it
  });
});
