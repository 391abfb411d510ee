import { createHash } from 'node:crypto';
import { execute, getOperationAST, GraphQLError, parse, type ExecutionResult } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GatewayExecutor, GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import { compiledExecution } from '../../src/graphql/compiledExecution';

class PlainError extends Error {}

const schema = makeExecutableSchema({
  typeDefs: /* GraphQL */ `
    type Query {
      item(id: Int!): Item
      items: [Item!]
      failing: String
      refused: String
      late: String
      missing: String!
      holder: Holder
    }
    type Holder {
      missing: String!
      name: String
    }
    type Item {
      id: Int!
      name: String
      twice: Int
    }
  `,
  resolvers: {
    Query: {
      item: (_parent: unknown, { id }: { id: number }) => ({ id, name: `item ${id}` }),
      items: () => [1, 2, 3].map((id) => ({ id, name: id === 2 ? null : `item ${id}` })),
      failing: () => {
        throw new PlainError('plain failure');
      },
      refused: () => {
        throw new GraphQLError('refused', { extensions: { code: 'BAD_USER_INPUT', field: 'id' } });
      },
      late: () => Promise.reject(new PlainError('late failure')),
      missing: () => null,
      holder: () => ({}),
    },
    Item: { twice: (item: { id: number }) => item.id * 2 },
  },
});

async function executor(): Promise<GatewayExecutor> {
  const { executor } = await compiledExecution(schema).load({ apollo: {} });
  return executor!;
}

/** Runs a request through the executor as Apollo would hand it over. */
function run(
  execute: GatewayExecutor,
  query: string,
  variables?: Record<string, unknown>,
  operationName?: string,
): Promise<ExecutionResult> {
  const document = documents.get(query) ?? parse(query);
  documents.set(query, document);
  const operation = getOperationAST(document, operationName) ?? undefined;
  return execute({
    document,
    operation,
    operationName: operation?.name?.value ?? null,
    request: { query, variables, operationName },
    queryHash: createHash('sha256').update(query).digest('hex'), // as Apollo names the document
    context: {},
  } as unknown as GatewayGraphQLRequestContext) as Promise<ExecutionResult>;
}

/** Apollo's document cache hands the same document for the same text: so does this test. */
const documents = new Map<string, ReturnType<typeof parse>>();

/** What a client would see of a result: its JSON, and each error's original error. */
function seen(result: ExecutionResult) {
  return {
    json: JSON.stringify(result),
    errors: (result.errors ?? []).map((error) => ({
      isGraphQLError: error instanceof GraphQLError,
      extensions: { ...error.extensions },
      original: error.originalError?.constructor.name,
    })),
  };
}

describe('compiled execution', () => {
  test.each([
    ['fields, arguments and lists', '{ item(id: 7) { id name twice } items { id name } }'],
    [
      'fragments and directives',
      '{ items { ...F id @skip(if: true) } } fragment F on Item { name @include(if: false) twice }',
    ],
    ['a resolver that throws a plain error', '{ failing item(id: 1) { id } }'],
    ['a resolver that throws a GraphQLError with extensions', '{ refused }'],
    ['a rejected promise', '{ late }'],
    ['null for a non-null field', '{ missing }'],
    ['null for a non-null field, nested', '{ holder { name missing } }'],
    ['__typename', '{ __typename items { __typename } }'],
  ])('answers %s as graphql-js does, compiled or not', async (_name, query) => {
    const compiled = await executor();
    const document = parse(query);
    const expected = seen(await execute({ schema, document, contextValue: {} }));
    // The first run is graphql-js's; the second and third, the compiled operation's.
    for (let round = 0; round < 3; round += 1) expect(seen(await run(compiled, query))).toEqual(expected);
  });

  test('leaves an operation with variables to graphql-js, and its messages', async () => {
    const compiled = await executor();
    const query = 'query Q($id: Int!) { item(id: $id) { id } }';
    for (let round = 0; round < 2; round += 1) {
      expect(seen(await run(compiled, query, { id: 3 }))).toEqual(seen({ data: { item: { id: 3 } } }));
      const refused = await run(compiled, query, { id: 'three' });
      expect(refused.errors![0]!.message).toBe(
        'Variable "$id" got invalid value "three"; Int cannot represent non-integer value: "three"',
      );
    }
  });

  test('compiles an operation of a few fields, not one whose fragments expand to hundreds', async () => {
    // graphql-js's result objects have no prototype; graphql-jit's are plain objects: which ran shows in the data.
    const compiledRan = (result: ExecutionResult) => Object.getPrototypeOf(result.data) !== null;
    const compiled = await executor();
    const small = '{ items { id name } }';
    const large = `{ ${Array.from({ length: 200 }, (_, i) => `a${i}: items { ...F }`).join(' ')} } fragment F on Item { id name twice }`;
    const runs = async (query: string) => [
      compiledRan(await run(compiled, query)),
      compiledRan(await run(compiled, query)),
      compiledRan(await run(compiled, query)),
    ];
    expect(await runs(small)).toEqual([false, true, true]);
    expect(await runs(large)).toEqual([false, false, false]);
    expect(JSON.stringify(await run(compiled, large))).toBe(
      JSON.stringify(await execute({ schema, document: parse(large), contextValue: {} })),
    );
  });

  test('names a missing or unknown operation as graphql-js does', async () => {
    const compiled = await executor();
    const query = 'query A { __typename } query B { __typename }';
    for (let round = 0; round < 2; round += 1) {
      expect((await run(compiled, query)).errors![0]!.message).toBe(
        'Must provide operation name if query contains multiple operations.',
      );
      expect((await run(compiled, query, undefined, 'C')).errors![0]!.message).toBe('Unknown operation named "C".');
      expect((await run(compiled, query, undefined, 'B')).data).toEqual({ __typename: 'Query' });
    }
  });
});
