/**
 * Who is calling: one key per set of credentials, however the header spells them, the same for every request that
 * sends them, and no credential in it. Read off real Fastify requests, on port 0.
 */
import Fastify from 'fastify';
import { CallerKeys, actWith, authorizationOf } from '../../src/http/callerKeys';
import { credentialsOf } from '../../src/portal/credentials';

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

test('one key per credentials, requests without any being one caller, and no credential in it', async () => {
  const callers = new CallerKeys(Buffer.from('a-secret-of-at-least-thirty-two-characters'));
  const app = Fastify();
  app.get('/', async (request) => ({ key: callers.of(request), again: callers.of(request) }));
  const origin = await app.listen({ port: 0, host: '127.0.0.1' });
  const keyOf = async (authorization?: string) => {
    const answer = await fetch(origin, { headers: authorization === undefined ? {} : { authorization } });
    const { key, again } = (await answer.json()) as { key: string; again: string };
    expect(again).toBe(key);
    return key;
  };
  try {
    const alice = await keyOf('Basic YWxpY2U6eA==');
    expect(alice).not.toContain('YWxpY2U');
    for (const spelling of [
      'basic YWxpY2U6eA==',
      'BASIC YWxpY2U6eA==',
      'bAsIc \t  YWxpY2U6eA==',
      ' Basic YWxpY2U6eA==  ',
    ])
      expect(await keyOf(spelling)).toBe(alice);
    expect(await keyOf('Basic Ym9iOng=')).not.toBe(alice);
    expect(await keyOf(`Basic ${base64('alice:y')}`)).not.toBe(alice);
    expect(await keyOf()).toBe(await keyOf());
    expect(await keyOf()).not.toBe(alice);
    // Another scheme is its exact bytes: its spellings are other callers (the portal refuses them all).
    expect(await keyOf('Bearer abc')).not.toBe(await keyOf('bearer abc'));
    // Basic credentials that cannot be read are one caller, never a reader's own.
    expect(await keyOf('Basic !!!')).toBe(await keyOf('Basic bm8tY29sb24='));
    expect(await keyOf('Basic !!!')).not.toBe(await keyOf());
  } finally {
    await app.close();
  }
});

test("a request given credentials to act with (a browser session's) acts with them: its Authorization and its key", async () => {
  const callers = new CallerKeys(Buffer.from('a-secret-of-at-least-thirty-two-characters'));
  const session = `Basic ${base64('alice:x')}`;
  const app = Fastify();
  app.addHook('onRequest', async (request) => {
    if (request.headers['x-session'] !== undefined) actWith(request, session);
  });
  app.get('/', async (request) => ({ authorization: authorizationOf(request) ?? null, key: callers.of(request) }));
  const origin = await app.listen({ port: 0, host: '127.0.0.1' });
  const ask = async (headers: Record<string, string>) =>
    (await (await fetch(origin, { headers })).json()) as { authorization: string | null; key: string };
  try {
    const own = await ask({ authorization: session });
    expect(await ask({ 'x-session': '1' })).toEqual(own);
    expect(await ask({})).toEqual({ authorization: null, key: expect.any(String) });
    expect((await ask({})).key).not.toBe(own.key);
  } finally {
    await app.close();
  }
});

test.each([
  ['Basic ZGVtbzpkZW1v', { kind: 'basic', canonical: 'basic:demo:demo', user: 'demo' }],
  ['basic ZGVtbzpkZW1v', { kind: 'basic', canonical: 'basic:demo:demo', user: 'demo' }],
  ['BASIC\tZGVtbzpkZW1v', { kind: 'basic', canonical: 'basic:demo:demo', user: 'demo' }],
  ['Basic    ZGVtbzpkZW1v  ', { kind: 'basic', canonical: 'basic:demo:demo', user: 'demo' }],
  [
    `Basic ${base64('user:pass:with:colons')}`,
    { kind: 'basic', canonical: 'basic:user:pass:with:colons', user: 'user' },
  ],
  [`Basic ${base64('zoë:pässwörd')}`, { kind: 'basic', canonical: 'basic:zoë:pässwörd', user: 'zoë' }],
  [`Basic ${base64(':')}`, { kind: 'basic', canonical: 'basic::', user: '' }],
  [undefined, { kind: 'none', canonical: '' }],
  ['Bearer token', { kind: 'other', canonical: 'raw:Bearer token' }],
  ['Basicfoo ZGVtbzpkZW1v', { kind: 'other', canonical: 'raw:Basicfoo ZGVtbzpkZW1v' }],
  ['Basic', { kind: 'unreadable' }],
  ['Basic ', { kind: 'unreadable' }],
  ['Basic bm8tY29sb24=', { kind: 'unreadable' }], // "no-colon"
  ['Basic ZGVtbzpkZW1v ZGVtbzpkZW1v', { kind: 'unreadable' }],
  ['Basic ZGVtbzpkZW1', { kind: 'unreadable' }], // not padded to four
  ['Basic ZGVt*zpkZW1v', { kind: 'unreadable' }],
  [`Basic ${Buffer.from([0x75, 0x3a, 0xff]).toString('base64')}`, { kind: 'unreadable' }], // not UTF-8
])('credentialsOf(%j)', (header, expected) => {
  expect(credentialsOf(header)).toEqual(expected);
});
