/**
 * Who is calling: one key per `Authorization` header, the same for every request that sends it, and no credential
 * in it. Read off real Fastify requests, on port 0.
 */
import Fastify from 'fastify';
import { CallerKeys } from '../../src/http/callerKeys';

test('one key per Authorization header, requests without one being one caller, and no credential in it', async () => {
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
  const alice = await keyOf('Basic YWxpY2U6eA==');
  expect(alice).not.toContain('YWxpY2U');
  expect(await keyOf('Basic YWxpY2U6eA==')).toBe(alice);
  expect(await keyOf('Basic Ym9iOng=')).not.toBe(alice);
  expect(await keyOf()).toBe(await keyOf());
  expect(await keyOf()).not.toBe(alice);
  await app.close();
});
