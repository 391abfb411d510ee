/**
 * Operation limits and hostile requests: each refused before any upstream call, with a clear error.
 */
import { request } from 'undici';
import { startStack, type Stack } from '../helpers/stack';
import { postTo } from '../helpers/http';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { NODE_ENV: 'development' } });
});
afterAll(() => stack.close());
beforeEach(async () => {
  await stack.emulator.requestLog.whenIdle();
  stack.emulator.requestLog.clear();
});

function post(body: string, headers: Record<string, string> = {}, url = stack.graphqlUrl) {
  return postTo(url, body, { authorization: stack.auth.acme, ...headers });
}

/** An operation of `sets` nested selection sets, the operation's own included: { license { detail { license … { id } } } }. */
const nested = (sets: number) => {
  let inner = 'id';
  for (let level = sets - 2; level >= 1; level -= 1) inner = `${level % 2 === 1 ? 'detail' : 'license'} { ${inner} }`;
  return `{ license(id: 1001) { ${inner} } }`;
};

describe('limits on an operation', () => {
  test.each([
    ['11 nested selection sets', nested(11), /depth/i],
    [
      '31 aliases',
      `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: license(id: ${1001 + i}) { id }`).join(' ')} }`,
      /alias/i,
    ],
    ['51 directives', `{ __typename ${'@include(if: true) '.repeat(51)} }`, /directive/i],
    ['more than 2000 tokens', `{ ${'__typename '.repeat(2100)} }`, /token/i],
  ])('%s is refused before any upstream call', async (_name, query, message) => {
    const result = await post(JSON.stringify({ query }));
    expect(result.status).toBe(400);
    expect(result.json.errors[0].message).toMatch(message);
    expect(result.json.errors[0].extensions.code).toMatch(/^GRAPHQL_(VALIDATION|PARSE)_FAILED$/);
    expect(stack.emulator.requestLog.entries()).toEqual([]);
  });

  test('a query at the limits runs: 10 nested selection sets, 30 aliases', async () => {
    const result = await post(JSON.stringify({ query: nested(10) }));
    expect(result.status).toBe(200);
    expect(result.json.errors).toBeUndefined();
    const aliases = await post(
      JSON.stringify({ query: `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: __typename`).join(' ')} }` }),
    );
    expect(aliases.status).toBe(200);
    expect(aliases.json.errors).toBeUndefined();
    expect(Object.keys(aliases.json.data)).toHaveLength(30);
  });

  test('a body over 100 KB is 413, as a GraphQL response', async () => {
    const result = await post(
      JSON.stringify({ query: `{ __typename }`, variables: { padding: 'x'.repeat(110 * 1024) } }),
    );
    expect(result.status).toBe(413);
    expect(result.json.errors[0].extensions).toEqual({ code: 'BAD_REQUEST', reason: 'BODY_TOO_LARGE' });
    expect(stack.emulator.requestLog.entries()).toEqual([]);
  });

  test('HTTP batching is off', async () => {
    const result = await post(JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]));
    expect(result.status).toBe(400);
    expect(result.text).toMatch(/batch/i);
  });

  test('CSRF prevention: a GET without a preflight-forcing header is refused', async () => {
    const response = await request(`${stack.graphqlUrl}?query=${encodeURIComponent('{ productAssignments { id } }')}`, {
      headers: { authorization: stack.auth.acme },
    });
    expect(response.statusCode).toBe(400);
    await response.body.dump();
    expect(stack.emulator.requestLog.entries()).toEqual([]);
  });
});

describe('introspection and field suggestions', () => {
  test('on in development', async () => {
    const result = await post(JSON.stringify({ query: '{ __schema { queryType { name } } }' }));
    expect(result.json.data.__schema.queryType.name).toBe('Query');
    const typo = await post(JSON.stringify({ query: '{ licences { totalCount } }' }));
    expect(typo.json.errors[0].message).toMatch(/Did you mean/);
  });

  test('off when NODE_ENV=production, back on with INTROSPECTION=true', async () => {
    const production = await startStack({ env: { NODE_ENV: 'production' } });
    try {
      const result = await post(
        JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
        {},
        production.graphqlUrl,
      );
      expect(result.status).toBe(400);
      expect(result.json.errors[0].message).toMatch(/introspection/i);
      const typo = await post(JSON.stringify({ query: '{ licences { totalCount } }' }), {}, production.graphqlUrl);
      expect(typo.json.errors[0].message).not.toMatch(/Did you mean/);
      expect(result.json.extensions?.upstream).toBeUndefined();
    } finally {
      await production.close();
    }
    const opened = await startStack({ env: { NODE_ENV: 'production', INTROSPECTION: 'true' } });
    try {
      const result = await post(
        JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
        {},
        opened.graphqlUrl,
      );
      expect(result.json.data.__schema.queryType.name).toBe('Query');
    } finally {
      await opened.close();
    }
  });
});
