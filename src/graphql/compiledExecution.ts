/**
 * Execution of operations compiled to JavaScript by graphql-jit, handed to Apollo Server as its executor through its
 * gateway interface (`load` gives the executor; the schema is told through `onSchemaLoadOrUpdate`).
 *
 * Only running the resolvers changes: parsing, validation, persisted queries, the plugins' hooks, error formatting
 * and serialization stay Apollo's (a compiled run calls no `willResolveField`: no plugin of this server has one).
 * Compiled code awaits no promise for a plain value and builds plain objects, which `JSON.stringify` writes faster
 * than graphql-js's prototype-less ones (the README's Benchmarks give the gain).
 *
 * graphql-js still runs an operation with variables (its coercion messages are the ones clients see), one Apollo
 * could not pick out of its document, and one graphql-jit cannot compile. Otherwise the data and errors are
 * graphql-js's, messages, locations and paths included (`compiledExecution.test.ts` holds them side by side), but
 * for one case: a scalar that fails to serialize is masked as unexpected; the portal's values are checked before
 * they get here, so none fails.
 */
import {
  execute,
  GraphQLError,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { GatewayExecutor, GatewayInterface } from '@apollo/server-gateway-interface';
import { LRUCache } from 'lru-cache';
import { documentBytes } from './documentSize';

/**
 * Apollo's gateway interface over one fixed schema, with an executor that runs compiled operations.
 *
 * ```ts
 * new ApolloServer({ gateway: compiledExecution(makeExecutableSchema({ typeDefs, resolvers })), ... });
 * ```
 */
export function compiledExecution(schema: GraphQLSchema): GatewayInterface {
  const compiled = new CompiledOperations(schema);
  const executor: GatewayExecutor = async (request) => {
    const { document, operation, context, queryHash } = request;
    // The name the client asked for, not the one Apollo resolved (none when it could not resolve one).
    const { operationName, variables: variableValues } = request.request;
    // Without an operation (none named, or several and no name) graphql-js says what is wrong, in its words.
    const query =
      operation && !operation.variableDefinitions?.length
        ? compiled.get(queryHash, document, operation, operationName)
        : undefined;
    if (!query) return execute({ schema, document, contextValue: context, variableValues, operationName });
    const { data, errors } = await query.query(undefined, context, {});
    // In graphql-js's order: its errors before its data.
    return errors ? { errors: errors.map(asGraphQLJsError), data } : { data };
  };
  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => undefined;
    },
    load: async () => ({ executor }),
    stop: async () => undefined,
  };
}

/**
 * Most memory the compiled operations may hold, by their weight (fields compiled, and the document each keeps);
 * past it, the least recently run are dropped (and compiled again if they come back). A bound in operations would
 * not do: one small document of a few hundred operations, each asked by name, holds more than this (see the
 * README's bounded caches).
 */
const COMPILED_CACHE_BYTES = 32 * 1024 * 1024;

/** Bytes of heap one compiled field holds (graphql-jit's generated function and its closures), as measured. */
const BYTES_PER_COMPILED_FIELD = 300;

/**
 * Most fields an operation may select, fragments expanded, to be compiled. Compiling is linear in that count and
 * graphql-jit's code for it stays in memory: thirty aliases of a fragment nested through the relations expand to
 * thousands of fields from 2 KB of text, compile for a second (blocking every request) and hold tens of megabytes.
 * Such an operation runs with graphql-js, which walks the same selections without compiling them. The benchmark's
 * operations select 7 to 15.
 */
const MAX_COMPILED_FIELDS = 500;

/** What is known of one operation of one document: run once, compiled, or not to be compiled. */
type Compilation =
  { state: 'seen' | 'refused'; bytes: number } | { state: 'compiled'; query: CompiledQuery; bytes: number };

/** The weight of an entry that holds no compiled code: its key and the entry itself. */
const MARKER_BYTES = 200;

/**
 * Operations compiled, by the document's hash (Apollo's `queryHash`) and the operation's name, in an LRU bounded by
 * the memory they hold. An operation is compiled the second time it runs, not the first: a query sent once is not
 * worth compiling. The key is a string, so that an entry does not keep a document alive once Apollo's document cache
 * has let it go; a compiled operation does keep its document, and is weighed with it.
 */
class CompiledOperations {
  private readonly operations = new LRUCache<string, Compilation>({
    maxSize: COMPILED_CACHE_BYTES,
    sizeCalculation: (entry) => entry.bytes,
  });

  constructor(private readonly schema: GraphQLSchema) {}

  /** The compiled operation, or undefined when graphql-js runs it this time. */
  get(
    queryHash: string,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    operationName: string | null | undefined,
  ): CompiledQuery | undefined {
    const key = `${queryHash}:${operationName ?? ''}`;
    const known = this.operations.get(key);
    if (known === undefined) {
      this.operations.set(key, { state: 'seen', bytes: MARKER_BYTES });
      return undefined;
    }
    if (known.state !== 'seen') return known.state === 'compiled' ? known.query : undefined;
    const fields = fieldsSelected(document, operation, MAX_COMPILED_FIELDS);
    const result =
      fields > MAX_COMPILED_FIELDS
        ? undefined
        : compileQuery(this.schema, document, operationName ?? undefined, { disablingCapturingStackErrors: true });
    const query = result && isCompiledQuery(result) ? result : undefined;
    this.operations.set(
      key,
      query
        ? { state: 'compiled', query, bytes: fields * BYTES_PER_COMPILED_FIELD + documentBytes(document) }
        : { state: 'refused', bytes: MARKER_BYTES },
    );
    return query;
  }
}

/** How many fields an operation selects with its fragments expanded; stops counting once past `bound`. */
function fieldsSelected(document: DocumentNode, operation: OperationDefinitionNode, bound: number): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions)
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  let fields = 0;
  // Validation has refused fragment cycles, so the walk ends; the count ends it sooner.
  const walk = (selectionSet: SelectionSetNode | undefined): boolean => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        fields += 1;
        if (fields > bound || walk(selection.selectionSet)) return true;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (walk(selection.selectionSet)) return true;
      } else if (walk(fragments.get(selection.name.value)?.selectionSet)) return true;
    }
    return false;
  };
  walk(operation.selectionSet);
  return fields;
}

/**
 * graphql-jit's errors are its own kind (prototype-wise GraphQLErrors, but with no `extensions` when the original
 * error has none, where Apollo expects an object): each becomes the GraphQLError graphql-js would have made, with
 * the same message, locations, path and original error. Where graphql-jit keeps none (a null in a non-null
 * field), graphql-js's is an Error with the same message, and the error formatter masks it as unexpected.
 */
function asGraphQLJsError(error: GraphQLError): GraphQLError {
  // Its extensions are the original error's, as graphql-js takes them.
  const made = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError ?? new Error(error.message),
  });
  if (error.locations) Object.assign(made, { locations: error.locations });
  return made;
}
