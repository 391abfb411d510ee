/**
 * A caller is its credentials, not their spelling: the portal reads `basic`, `BASIC` and two spaces as one user,
 * and so does every per-caller part of this server (fair admission, idempotency keys). Basic credentials that do not
 * decode to `user:password` are refused before any portal call. Over real sockets, against the emulator.
 */
import { request } from 'undici';
import { startStack, type Stack } from '../helpers/stack';
import { postTo } from '../helpers/http';
import type { RequestLogEntry } from '../../src/emulator/requestLog';

const TOKEN = Buffer.from('demo:demo').toString('base64');

/** `count` spellings of the demo user's credentials: the scheme in every case, one space, two, or a tab. */
function spellings(count: number): string[] {
  const all: string[] = [];
  for (const gap of [' ', '  ', '\t', ' \t ']) {
    for (let mask = 0; mask < 32; mask += 1) {
      const scheme = [...'basic'].map((letter, i) => (mask & (1 << i) ? letter.toUpperCase() : letter)).join('');
      all.push(`${scheme}${gap}${TOKEN}`);
    }
  }
  return all.slice(0, count);
}

/** The most calls that were at the portal at the same moment. */
function mostAtOnce(entries: RequestLogEntry[]): number {
  const edges = entries.flatMap((entry) => [
    { at: entry.startedAt, step: 1 },
    // The emulator notes a call's end when its response closes, a few milliseconds after the server has read it.
    { at: entry.endedAt - 5, step: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let most = 0;
  for (const edge of edges) {
    now += edge.step;
    most = Math.max(most, now);
  }
  return most;
}

describe('one user under fifty spellings of its credentials', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      emulator: { latencyMs: 150 },
      // Each operation makes its own call (PORTAL_SHARE_READS=false), so that the portal's log shows how many of the
      // caller's ran at once; shared, they would be fewer calls still, as one caller's.
      env: { NODE_ENV: 'production', MAX_CONCURRENT_OPERATIONS_PER_CALLER: '4', PORTAL_SHARE_READS: 'false' },
    });
  });
  afterAll(() => stack.close());

  test('is one caller to fair admission: at most 4 of its operations at the portal at once', async () => {
    stack.emulator.requestLog.clear();
    const answers = await Promise.all(
      spellings(50).map((authorization) =>
        postTo(stack.graphqlUrl, { query: '{ productAssignments { id } }' }, { authorization }),
      ),
    );
    expect(answers.map((answer) => answer.json.errors)).toEqual(answers.map(() => undefined));
    const calls = stack.emulator.requestLog.entries({ route: 'productAssignment.list' });
    // Every spelling reached the portal as the demo user, and was answered: they are the same credentials.
    expect(calls).toHaveLength(50);
    expect(new Set(calls.map((call) => call.username))).toEqual(new Set(['demo']));
    expect(mostAtOnce(calls)).toBeLessThanOrEqual(4);
    expect(mostAtOnce(calls)).toBeGreaterThanOrEqual(2); // the bound, not a queue of one, held them
  }, 60_000);

  test('is one caller to idempotency keys: a keyed generate replayed under another spelling returns the same licence', async () => {
    const { generatableAssignmentId } = stack.emulator.state.landmarks();
    const today = new Date(`${stack.emulator.state.today()}T00:00:00Z`);
    today.setUTCDate(today.getUTCDate() + 30);
    const generate = (authorization: string) =>
      postTo(
        stack.graphqlUrl,
        {
          query: 'mutation G($input: GenerateLicenseInput!) { generateLicense(input: $input) { license { id hwid } } }',
          variables: {
            input: {
              productAssignmentId: String(generatableAssignmentId),
              hwid: 'SPELLING-REPLAY-1',
              expirationDate: today.toISOString().slice(0, 10),
              idempotencyKey: 'replay-under-another-spelling',
            },
          },
        },
        { authorization },
      );
    stack.emulator.requestLog.clear();
    const [first, ...replays] = spellings(5);
    const made = await generate(first!);
    expect(made.json.errors).toBeUndefined();
    for (const spelling of replays) {
      const replayed = await generate(spelling);
      expect(replayed.json).toEqual(made.json);
    }
    expect(stack.emulator.requestLog.entries({ route: 'license.generate' })).toHaveLength(1);
  });
});

describe('Basic credentials that do not decode to user:password', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { NODE_ENV: 'production' } });
  });
  afterAll(() => stack.close());

  const unreadable = [
    'Basic',
    'Basic !!!not-base64!!!',
    `Basic ${Buffer.from('no-colon').toString('base64')}`,
    `Basic ${TOKEN.replace(/=+$/, '')}x`,
    `basic ${Buffer.from([0x64, 0x3a, 0xff, 0xfe]).toString('base64')}`,
  ];

  const QUERY = '{ productAssignments { id } license(id: 1002) { id } }';

  test.each(unreadable)(
    '%j is answered as a wrong password is, UNAUTHENTICATED, with no portal call',
    async (authorization) => {
      const wrongPassword = await postTo(
        stack.graphqlUrl,
        { query: QUERY },
        { authorization: `Basic ${Buffer.from('demo:wrong').toString('base64')}` },
      );
      expect(wrongPassword.json.errors.map((error: { extensions: { code: string } }) => error.extensions.code)).toEqual(
        ['UNAUTHENTICATED', 'UNAUTHENTICATED'],
      );
      stack.emulator.requestLog.clear();
      const answer = await postTo(stack.graphqlUrl, { query: QUERY }, { authorization });
      expect(answer.status).toBe(wrongPassword.status);
      // The same answer, but for the portal's status: the portal was not asked.
      for (const error of wrongPassword.json.errors) delete error.extensions.upstreamStatus;
      expect(answer.json).toEqual(wrongPassword.json);
      const file = await request(new URL('/licenses/1002/file', stack.graphqlUrl), { headers: { authorization } });
      expect(file.statusCode).toBe(401);
      await file.body.text();
      expect(stack.emulator.requestLog.entries()).toEqual([]);
    },
  );

  test('readable credentials of another scheme still reach the portal, byte for byte', async () => {
    stack.emulator.requestLog.clear();
    const answer = await postTo(
      stack.graphqlUrl,
      { query: '{ productAssignments { id } }' },
      { authorization: 'Bearer abc' },
    );
    expect(answer.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(stack.emulator.requestLog.count()).toBe(1);
  });
});
