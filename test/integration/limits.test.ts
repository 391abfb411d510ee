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

describe('variables nested too deep', () => {
  const LICENSES = 'query Q($filter: LicenseFilter) { licenses(filter: $filter, first: 1) { totalCount } }';
  /**
   * `{"filter": {"hwid": [[…]]}}`, `depth` levels of lists and objects deep in all, as JSON text: built as text, since
   * a recursive `JSON.stringify` of 5,000 levels overflows.
   */
  const deepFilter = (depth: number) => `{"filter":{"hwid":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}}`;
  const getWith = async (variables: string) => {
    // The brackets go unencoded, so that 5,000 levels fit in a request line.
    const response = await request(`${stack.graphqlUrl}?query=${encodeURIComponent(LICENSES)}&variables=${variables}`, {
      headers: { authorization: stack.auth.acme, 'apollo-require-preflight': 'true' },
    });
    return { status: response.statusCode, json: (await response.body.json()) as any };
  };
  const postWith = (variables: string) => post(`{"query":${JSON.stringify(LICENSES)},"variables":${variables}}`);

  test.each([
    ['POST', postWith],
    ['GET', getWith],
  ])('5,000 levels over %s are BAD_USER_INPUT, HTTP 400, before any upstream call', async (_method, send) => {
    const result = await send(deepFilter(5000));
    expect(result.status).toBe(400);
    expect(result.json.errors).toEqual([
      {
        message: 'Variable "$filter" nests lists and objects more than 32 levels deep; at most 32 are allowed.',
        extensions: { code: 'BAD_USER_INPUT', reason: 'VARIABLE_TOO_DEEP', maxVariableDepth: 32 },
      },
    ]);
    expect(stack.emulator.requestLog.entries()).toEqual([]);
    const after = await post(JSON.stringify({ query: '{ licenses(first: 1) { totalCount } }' }));
    expect(after.status).toBe(200);
    expect(after.json.data.licenses.totalCount).toBeGreaterThan(0);
  });

  test("the bound is 32 levels: 33 are refused, 32 reach the schema's own check of the value", async () => {
    expect((await postWith(deepFilter(33))).json.errors[0].extensions.reason).toBe('VARIABLE_TOO_DEEP');
    const at = await postWith(deepFilter(32));
    expect(at.status).toBe(400);
    expect(at.json.errors[0].message).toMatch(/^Variable "\$filter" got invalid value .* String cannot represent/);
    expect(at.json.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT' });
  });

  test('an `extensions` object 5,000 levels deep is read no further than Apollo needs: no 500', async () => {
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const result = await post(`{"query":"{ __typename }","extensions":${deep}}`);
    expect(result.status).toBe(200);
    expect(result.json.data).toEqual({ __typename: 'Query' });
  });
});

describe('introspection and field suggestions', () => {
  const ORDERED = 'query Q($o: LicenseOrder) { licenses(orderBy: $o, first: 1) { totalCount } }';
  /** An operation with a near miss of each kind of name, and its message without the suggestion. */
  const typos: Array<[string, string, Record<string, unknown>, string]> = [
    [
      'an enum value in a variable',
      ORDERED,
      { o: { field: 'EXPIRATION_DAT', direction: 'ASC' } },
      'Variable "$o" got invalid value "EXPIRATION_DAT" at "o.field"; Value "EXPIRATION_DAT" does not exist in "LicenseOrderField" enum.',
    ],
    [
      'an enum value as a literal',
      '{ licenses(orderBy: { field: EXPIRATION_DAT, direction: ASC }, first: 1) { totalCount } }',
      {},
      'Value "EXPIRATION_DAT" does not exist in "LicenseOrderField" enum.',
    ],
    [
      'an input field in a variable',
      'query Q($f: LicenseFilter) { licenses(filter: $f, first: 1) { totalCount } }',
      { f: { hwidd: 'X' } },
      'Variable "$f" got invalid value { hwidd: "X" }; Field "hwidd" is not defined by type "LicenseFilter".',
    ],
    ['an argument', '{ licenses(frist: 1) { totalCount } }', {}, 'Unknown argument "frist" on field "Query.licenses".'],
    [
      'a type',
      'query Q($o: LicenseOrdr) { licenses(orderBy: $o, first: 1) { totalCount } }',
      {},
      'Unknown type "LicenseOrdr".',
    ],
    [
      'a field',
      '{ licenses(first: 1) { totalCont } }',
      {},
      'Cannot query field "totalCont" on type "LicenseConnection".',
    ],
  ];

  describe('in production, no message suggests a name', () => {
    let production: Stack;
    beforeAll(async () => {
      production = await startStack({ env: { NODE_ENV: 'production' } });
    });
    afterAll(() => production.close());

    test.each(typos)('%s', async (_kind, query, variables, message) => {
      const result = await production.gql(query, variables);
      expect(result.status).toBe(400);
      expect(result.errors!.map((error) => error.message)).toEqual([message]);
      expect(result.errors![0]!.extensions!.code).toMatch(/^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED)$/);
    });
  });

  test.each(typos)('in development, %s is suggested', async (_kind, query, variables, message) => {
    const result = await stack.gql(query, variables);
    expect(result.errors![0]!.message).toMatch(/ Did you mean .*"\?$/);
    expect(result.errors![0]!.message.startsWith(message)).toBe(true);
  });

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
