/**
 * The Apollo Server: the schema from `schema.graphql`, the resolvers, and the error formatter.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { RequestContext } from './context';
import { createErrorFormatter, type ErrorLogger } from './errors';
import { resolvers } from './resolvers';
import { planningPlugin, upstreamCostsPlugin, type OperationLogger } from './plugins';

/** The schema's SDL, read from the project's `schema.graphql` (the one source of truth for codegen too). */
export function loadTypeDefs(): string {
  return readFileSync(join(__dirname, '..', '..', 'schema.graphql'), 'utf8');
}

export interface ApolloOptions {
  logger: ErrorLogger & OperationLogger;
  introspection: boolean;
  /** Most upstream calls one operation may make. */
  upstreamCallBudget: number;
  /** Whether the loaders follow the plan (false for the baseline strategy, which only estimates). */
  prefetch: boolean;
  plugins?: ApolloServerPlugin<RequestContext>[];
}

export function createApolloServer(options: ApolloOptions): ApolloServer<RequestContext> {
  return new ApolloServer<RequestContext>({
    typeDefs: loadTypeDefs(),
    resolvers: resolvers as never,
    formatError: createErrorFormatter(options.logger),
    includeStacktraceInErrorResponses: false,
    introspection: options.introspection,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      planningPlugin({ budget: options.upstreamCallBudget, prefetch: options.prefetch }),
      upstreamCostsPlugin(options.logger),
      ...(options.plugins ?? []),
    ],
  });
}
