/**
 * The Apollo Server: the schema from `schema.graphql` and its resolvers, the validation limits, the bounded store of
 * parsed documents, the compiled executor (`compiledExecution.ts`), and the error formatter.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import type { RequestContext } from './context';
import { createErrorFormatter, type ErrorLogger } from './errors';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { resolvers } from './resolvers';
import { compiledExecution } from './compiledExecution';
import { subgraphSchema } from './subgraph';
import { planningPlugin, upstreamCostsPlugin, type OperationObserver } from './plugins';
import { tracingPlugin } from './tracingPlugin';
import { KnownOperationTypesRule } from './knownOperationTypes';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { AdmissionQueue } from './admission';
import type { OperationLimits } from '../config';
import type { ListSizeMemory } from './resultSize';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import type { DocumentNode } from 'graphql';
import { documentBytes, maxOperationsRule } from './documentSize';

/** Apollo's `KeyValueCache`, as persisted queries use it. */
export interface PersistedQueryCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, options?: { ttl?: number | null }): Promise<void>;
  delete(key: string): Promise<boolean | void>;
}

/** The schema's SDL, read from the project's `schema.graphql` (the one source of truth for codegen too). */
export function loadTypeDefs(): string {
  return readFileSync(join(__dirname, '..', '..', 'schema.graphql'), 'utf8');
}

export interface ApolloOptions {
  logger: ErrorLogger;
  /** Told of every operation: for metrics. */
  observeOperation: OperationObserver;
  introspection: boolean;
  /** Whether the schema is served as a Federation 2 subgraph (`subgraph.ts`). */
  federationSubgraph: boolean;
  /** Most upstream calls one operation may make. */
  upstreamCallBudget: number;
  limits: Pick<
    OperationLimits,
    'maxDepth' | 'maxAliases' | 'maxDirectives' | 'maxTokens' | 'maxResultObjects' | 'maxOperationsPerDocument'
  >;
  admission: AdmissionQueue;
  /** The list sizes seen per caller, for estimating an answer's size before any call. */
  listSizes: ListSizeMemory;
  /** Most portal calls that go out at once (the connection pool): how many show calls a plan may start together. */
  showCallsAtOnce: number;
  /** Whether requests may be traced: the operation's span and its stages. */
  tracing: boolean;
  /** Where automatic persisted queries are kept when not in this process (Redis, shared by the replicas). */
  persistedQueries?: PersistedQueryCache;
  plugins?: ApolloServerPlugin<RequestContext>[];
}

/**
 * Limits on an operation's shape, checked while it is parsed and validated, before anything executes.
 * Suggestions ("Did you mean …?") are the error formatter's to take out: armor's matches `Did you mean "x"` only,
 * not an enum value's (`Did you mean the enum value "X"?`), and leaves a mask in the message.
 */
function armor(options: ApolloOptions) {
  return new ApolloArmor({
    maxDepth: { n: options.limits.maxDepth, ignoreIntrospection: true, flattenFragments: true },
    maxAliases: { n: options.limits.maxAliases },
    maxDirectives: { n: options.limits.maxDirectives },
    // Counted by graphql-js's own parser (`parseOptions` below), so that too many tokens is a parse error (400).
    maxTokens: { enabled: false },
    costLimit: { enabled: false }, // The upstream-call budget of the planner is this server's cost limit.
    blockFieldSuggestion: { enabled: false },
  }).protect();
}

/**
 * Most memory the parsed documents kept for their next request may hold, by `documentBytes`: their text and their
 * AST. Apollo's own store weighs an entry by its AST's JSON alone, so documents padded with long comments (which are
 * not tokens) fit thousands to its 30 MiB and keep gigabytes of text.
 */
const DOCUMENT_CACHE_BYTES = 32 * 1024 * 1024;

export function createApolloServer(options: ApolloOptions): ApolloServer<RequestContext> {
  const protection = armor(options);
  return new ApolloServer<RequestContext>({
    validationRules: [
      KnownOperationTypesRule,
      maxOperationsRule(options.limits.maxOperationsPerDocument),
      ...protection.validationRules,
    ],
    parseOptions: { maxTokens: options.limits.maxTokens },
    documentStore: new InMemoryLRUCache<DocumentNode>({
      maxSize: DOCUMENT_CACHE_BYTES,
      sizeCalculation: documentBytes,
    }),
    // graphql-jit runs the operations (graphql-js what it does not compile); Apollo takes another executor only
    // as a gateway's.
    gateway: compiledExecution(
      options.federationSubgraph
        ? subgraphSchema(loadTypeDefs(), resolvers)
        : makeExecutableSchema({ typeDefs: loadTypeDefs(), resolvers }),
    ),
    // Suggestions go with introspection: both describe the schema.
    formatError: createErrorFormatter(options.logger, { suggestions: options.introspection }),
    includeStacktraceInErrorResponses: false,
    introspection: options.introspection,
    allowBatchedHttpRequests: false,
    // Shutdown is main.ts's: Apollo's own signal handlers would stop it a second time, concurrently, and hang.
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    // Automatic persisted queries: in this process by default, in Redis (shared by the replicas) when given.
    ...(options.persistedQueries ? { persistedQueries: { cache: options.persistedQueries, ttl: 24 * 60 * 60 } } : {}),
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // Nothing here is cacheable by HTTP caches (every answer is one caller's), and the cache-control plugin's
      // per-field hook costs every resolver of a 5,000-licence query.
      ApolloServerPluginCacheControlDisabled(),
      // A subgraph's inline traces (ftv1) would time every field for any gateway that asks; this server's traces
      // are OpenTelemetry's (`tracingPlugin`).
      ApolloServerPluginInlineTraceDisabled(),
      ...(protection.plugins as ApolloServerPlugin<RequestContext>[]),
      // Before planning: the operation's span exists when the plan starts its portal calls.
      ...(options.tracing ? [tracingPlugin()] : []),
      planningPlugin({
        budget: options.upstreamCallBudget,
        admission: options.admission,
        maxResultObjects: options.limits.maxResultObjects,
        listSizes: options.listSizes,
        showCallsAtOnce: options.showCallsAtOnce,
      }),
      upstreamCostsPlugin(options.observeOperation),
      ...(options.plugins ?? []),
    ],
  });
}
