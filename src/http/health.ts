/**
 * Health for probes. `GET /healthz`: the process is alive. `GET /readyz`: it can serve, that is, it is not
 * shutting down and the portal answered recently or answers now. The answer is cached briefly, so that probes
 * do not load the portal: a probe asks the portal at most once per `cacheMs`, and only when no real call has
 * shown it up within that time.
 */
import type { FastifyInstance } from 'fastify';
import type { PortalClient } from '../portal/portalClient';

export interface ReadinessOptions {
  portal: PortalClient;
  /** How long an answer of the portal (a real call's, or a probe's) counts as "recently". */
  cacheMs: number;
  /** True once the server is shutting down. */
  closing: () => boolean;
}

export class Readiness {
  private lastAnswerAt = -Infinity;
  private probe: Promise<boolean> | undefined;

  constructor(private readonly options: ReadinessOptions) {}

  /** Notes that the portal answered (any HTTP status: it is up). */
  portalAnswered(): void {
    this.lastAnswerAt = performance.now();
  }

  async check(): Promise<{ ready: boolean; reason: string }> {
    if (this.options.closing()) return { ready: false, reason: 'shutting down' };
    if (performance.now() - this.lastAnswerAt < this.options.cacheMs)
      return { ready: true, reason: 'the portal answered recently' };
    this.probe ??= this.options.portal.ping().finally(() => {
      this.probe = undefined;
    });
    if (await this.probe) {
      this.portalAnswered();
      return { ready: true, reason: 'the portal answers' };
    }
    return { ready: false, reason: 'the portal does not answer' };
  }
}

/**
 * `/readyz` does not depend on the shared store: reads work without Redis, so a replica stays in the balancer.
 * Its body says how the store is, for people.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  readiness: Readiness,
  sharedState?: () => { up: boolean },
): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, reason } = await readiness.check();
    const body: Record<string, string> = { status: ready ? 'ready' : 'not ready', reason };
    if (sharedState) {
      body.sharedState = sharedState().up
        ? 'redis up'
        : 'redis down: reads go on; a generateLicense with an idempotencyKey is refused until it is back';
    }
    return reply.status(ready ? 200 : 503).send(body);
  });
}
