/**
 * The HTTP face of the server: GraphQL at `/graphql` and the routes beside it (health, licence files).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyApollo from '@as-integrations/fastify';
import type { PortalClient } from '../portal/portalClient';
import { createApolloServer } from '../graphql/apollo';
import { createRequestContext, type RequestContext } from '../graphql/context';
import type { LogLevel } from '../config';
import { registerLicenseFileRoute } from './licenseFileRoute';
import { LicenseGenerator } from '../idempotency/idempotentGenerate';
import type { KeyStore } from '../idempotency/keyStore';
import type { LoaderStrategy } from '../loaders/loaders';

export interface HttpServerOptions {
  portal: PortalClient;
  /** Where idempotency keys of generateLicense are kept. */
  keyStore: KeyStore;
  logLevel: LogLevel;
  bodyLimitBytes: number;
  introspection: boolean;
  upstreamCallBudget: number;
  loaderStrategy: LoaderStrategy;
  /** Every response carries its upstream calls (development); otherwise only when asked by `x-upstream-calls: 1`. */
  alwaysShowUpstreamCalls: boolean;
  /** The GraphiQL playground; `demoAuthorization` pre-fills the demo account's header (embedded emulator only). */
  playground: { enabled: boolean; demoAuthorization?: string };
}

/** The request header that asks for the upstream calls in the response's `extensions.upstream`. */
export const SHOW_UPSTREAM_CALLS_HEADER = 'x-upstream-calls';

/** Builds the Fastify app with Apollo mounted; `listen` is the caller's. */
export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: options.logLevel, redact: ['req.headers.authorization'] },
    bodyLimit: options.bodyLimitBytes,
  });
  const apollo = createApolloServer({
    logger: { error: (details, message) => app.log.error(details, message), info: (details, message) => app.log.info(details, message) },
    introspection: options.introspection,
    upstreamCallBudget: options.loaderStrategy === 'baseline' ? Number.MAX_SAFE_INTEGER : options.upstreamCallBudget,
    prefetch: options.loaderStrategy === 'planned',
  });
  await apollo.start();
  const generator = new LicenseGenerator(options.portal, options.keyStore);

  app.get('/healthz', async () => ({ status: 'ok' }));
  registerLicenseFileRoute(app, options.portal);

  await app.register(fastifyApollo(apollo), {
    path: '/graphql',
    context: async (request): Promise<RequestContext> =>
      createRequestContext({
        portal: options.portal,
        generator,
        strategy: options.loaderStrategy,
        authorization: headerOf(request.headers.authorization),
        showUpstreamCalls: options.alwaysShowUpstreamCalls || /^(1|true|yes)$/i.test(headerOf(request.headers[SHOW_UPSTREAM_CALLS_HEADER]) ?? ''),
      }),
  });

  // `app.close()` stops accepting, lets requests in flight finish, then stops Apollo.
  app.addHook('onClose', async () => {
    await apollo.stop();
  });
  return app;
}

function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
