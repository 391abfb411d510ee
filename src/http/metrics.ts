/**
 * Prometheus metrics (`GET /metrics`), one registry per server. No label holds a credential, and no label holds
 * a value a client controls without a bound: endpoint names, statuses and error codes are closed sets, and
 * operation names are cut to a safe shape and capped in number, taken only from operations that succeeded (the rest
 * are counted as `other`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UpstreamCall } from '../portal/portalClient';
import type { BreakerState } from '../portal/circuitBreaker';
import type { ClientLimitCounts } from './clientLimits';
import type { TrustedDocumentResult } from './trustedDocuments';
import type { TrustedDocument } from '../graphql/trustedManifest';

/** Most distinct operation names kept as label values; names past them are `other`. */
export const MAX_OPERATION_NAMES = 100;

const BREAKER_LEVEL: Record<BreakerState, number> = { closed: 0, halfOpen: 1, open: 2 };

/** What `/metrics` and `/readyz` tell of the shared store. */
export interface SharedStateHealth {
  up: boolean;
  commands: number;
  errors: number;
  /** Seconds the commands took together: with `commands`, their mean latency. */
  seconds: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly operationNames = new Set<string>();
  private readonly operationDuration: Histogram<'operation' | 'outcome'>;
  private readonly upstreamCalls: Counter<'endpoint' | 'status'>;
  private readonly upstreamDuration: Histogram<'endpoint'>;
  private readonly upstreamRetries: Counter<'endpoint'>;
  private readonly batchSize: Histogram<'loader'>;
  private readonly forwardedHeadersIgnored: Counter;
  private readonly trustedDocuments: Counter<'result'>;
  private readonly trustedDocumentRequests: Counter<'id' | 'operation'>;
  private readonly untrustedOperations: Counter;

  constructor(sources: {
    /** Undefined where the store cannot tell cheaply (Redis): the gauge is then left out. */
    keyStoreSize: () => number | undefined;
    admission: () => { active: number; queued: number };
    breaker: () => BreakerState;
    /** The shared store (Redis), when there is one: whether it is up, and its commands and failures so far. */
    sharedState?: () => SharedStateHealth;
    /** Lookups of the list cache so far (zero while it is off). */
    cacheLookups: () => { hit: number; miss: number };
    /** Reads of a portal list that joined a call of the same caller's under way, so far. */
    readsShared: () => number;
    /** Reads that found a list kept in this process: served from it, or not, since it could not be trusted. */
    keptReads: () => { served: number; distrusted: number };
    /** The per-address limits' counts so far. */
    clientLimits: () => ClientLimitCounts;
    /** Spans exported and dropped so far, when traces are exported. */
    traceSpans?: () => { sent: number; dropped: number };
  }) {
    collectDefaultMetrics({ register: this.registry });
    this.operationDuration = new Histogram({
      name: 'graphql_operation_duration_seconds',
      help: 'GraphQL operations by operation name and outcome (ok, or the first error code).',
      labelNames: ['operation', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.upstreamCalls = new Counter({
      name: 'portal_calls_total',
      help: 'Calls to the Customer Portal by endpoint and HTTP status (none: no answer).',
      labelNames: ['endpoint', 'status'],
      registers: [this.registry],
    });
    this.upstreamDuration = new Histogram({
      name: 'portal_call_duration_seconds',
      help: 'Duration of calls to the Customer Portal by endpoint.',
      labelNames: ['endpoint'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.upstreamRetries = new Counter({
      name: 'portal_retries_total',
      help: 'Retries of safe reads by endpoint.',
      labelNames: ['endpoint'],
      registers: [this.registry],
    });
    this.batchSize = new Histogram({
      name: 'loader_batch_size',
      help: 'Keys per DataLoader batch, by loader.',
      labelNames: ['loader'],
      buckets: [1, 2, 3, 5, 10, 25, 50, 100, 500, 1000, 5000],
      registers: [this.registry],
    });
    this.forwardedHeadersIgnored = new Counter({
      name: 'client_forwarded_headers_ignored_total',
      help: 'Requests that carried X-Forwarded-For or Forwarded while TRUST_PROXY is off: a proxy in front, not trusted, makes every client its one address.',
      registers: [this.registry],
    });
    this.trustedDocuments = new Counter({
      name: 'graphql_trusted_documents_total',
      help: 'Requests to /graphql checked against the trusted documents, by result: found in the manifest, not_in_list (refused), or reported (run under TRUSTED_DOCUMENTS_MODE=report).',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.trustedDocumentRequests = new Counter({
      name: 'graphql_trusted_document_requests_total',
      help: "Requests by trusted document: the manifest's id and its operations' names (as many series as the manifest has documents).",
      labelNames: ['id', 'operation'],
      registers: [this.registry],
    });
    this.untrustedOperations = new Counter({
      name: 'graphql_untrusted_operations_total',
      help: 'Requests whose operation is not among the trusted documents and ran anyway (TRUSTED_DOCUMENTS_MODE=report).',
      registers: [this.registry],
    });
    new Gauge({
      name: 'portal_circuit_breaker_state',
      help: 'Circuit breaker towards the portal: 0 closed, 1 half-open, 2 open.',
      registers: [this.registry],
      collect() {
        this.set(BREAKER_LEVEL[sources.breaker()]);
      },
    });
    new Gauge({
      name: 'idempotency_keys',
      help: 'Idempotency keys held by the key store.',
      registers: [this.registry],
      collect() {
        const size = sources.keyStoreSize();
        if (size !== undefined) this.set(size);
      },
    });
    const sharedState = sources.sharedState;
    if (sharedState) {
      new Gauge({
        name: 'redis_up',
        help: 'Whether the Redis shared by the replicas answers (1) or not (0): reads go on either way; keyed generateLicense needs it.',
        registers: [this.registry],
        collect() {
          this.set(sharedState().up ? 1 : 0);
        },
      });
      new Gauge({
        name: 'redis_commands',
        help: 'Redis commands sent since start (result=ok or error); an error is a refused keyed generate or a cache miss.',
        labelNames: ['result'],
        registers: [this.registry],
        collect() {
          const { commands, errors } = sharedState();
          this.set({ result: 'ok' }, commands - errors);
          this.set({ result: 'error' }, errors);
        },
      });
      new Gauge({
        name: 'redis_command_seconds',
        help: 'Seconds all Redis commands took together since start; divided by the sum of redis_commands, their mean latency.',
        registers: [this.registry],
        collect() {
          this.set(sharedState().seconds);
        },
      });
    }
    const traceSpans = sources.traceSpans;
    if (traceSpans) {
      new Gauge({
        name: 'trace_spans',
        help: 'Spans since start by outcome: sent to the OTLP endpoint, or dropped (the export failed or could not keep up).',
        labelNames: ['outcome'],
        registers: [this.registry],
        collect() {
          const { sent, dropped } = traceSpans();
          this.set({ outcome: 'sent' }, sent);
          this.set({ outcome: 'dropped' }, dropped);
        },
      });
    }
    new Gauge({
      name: 'portal_cache_lookups',
      help: 'Lookups of the read cache (PORTAL_CACHE_TTL_MS) since start, by result: hit or miss.',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        const { hit, miss } = sources.cacheLookups();
        this.set({ result: 'hit' }, hit);
        this.set({ result: 'miss' }, miss);
      },
    });
    new Gauge({
      name: 'portal_cache_kept_reads',
      help: "Reads since start that found the caller's list kept parsed in this process, by outcome: served from it, or distrusted (with REDIS_URL, while this replica does not hear the other replicas' writes: read from Redis or the portal instead).",
      labelNames: ['outcome'],
      registers: [this.registry],
      collect() {
        const { served, distrusted } = sources.keptReads();
        this.set({ outcome: 'served' }, served);
        this.set({ outcome: 'distrusted' }, distrusted);
      },
    });
    new Gauge({
      name: 'portal_reads_shared',
      help: "Reads of a portal list since start that joined a call of the same caller's already under way (PORTAL_SHARE_READS), making none of their own.",
      registers: [this.registry],
      collect() {
        this.set(sources.readsShared());
      },
    });
    new Gauge({
      name: 'client_auth_failures',
      help: "Failed logins since start: the portal's 401 to a request that carried credentials (one per request).",
      registers: [this.registry],
      collect() {
        this.set(sources.clientLimits().authFailures);
      },
    });
    new Gauge({
      name: 'client_requests_refused',
      help: 'Requests refused with 429 RATE_LIMITED since start, by limit (the reason, lower case): auth_failures (address and user name), auth_failures_address, auth_failures_user or request_rate.',
      labelNames: ['limit'],
      registers: [this.registry],
      collect() {
        for (const [reason, count] of Object.entries(sources.clientLimits().refused))
          this.set({ limit: reason.toLowerCase() }, count);
      },
    });
    new Gauge({
      name: 'client_limit_checks_failed_open',
      help: 'Limit checks that let a request through because their counters could not be read (Redis down).',
      registers: [this.registry],
      collect() {
        this.set(sources.clientLimits().failedOpen);
      },
    });
    new Gauge({
      name: 'graphql_operations_in_flight',
      help: 'GraphQL operations executing (state=active) and waiting for their turn (state=queued).',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const { active, queued } = sources.admission();
        this.set({ state: 'active' }, active);
        this.set({ state: 'queued' }, queued);
      },
    });
  }

  /**
   * Counts one operation. `operationName` must be the name of the operation the document resolved to (Apollo's,
   * not the client's `operationName` field, which may name nothing); `outcome` is `ok` or the first error code.
   */
  observeOperation(operationName: string | null | undefined, outcome: string, seconds: number): void {
    this.operationDuration.observe({ operation: this.operationLabel(operationName, outcome), outcome }, seconds);
  }

  observeUpstreamCall(call: UpstreamCall): void {
    this.upstreamCalls.inc({
      endpoint: call.endpoint,
      status: call.status === undefined ? 'none' : String(call.status),
    });
    this.upstreamDuration.observe({ endpoint: call.endpoint }, call.durationMs / 1000);
    if (call.attempt > 0) this.upstreamRetries.inc({ endpoint: call.endpoint });
  }

  /** A request checked against the trusted documents; `document` when the manifest holds it. */
  observeTrustedDocument(result: TrustedDocumentResult, document: TrustedDocument | undefined): void {
    this.trustedDocuments.inc({ result });
    if (document) this.trustedDocumentRequests.inc({ id: document.id, operation: document.name ?? 'anonymous' });
    if (result === 'reported') this.untrustedOperations.inc();
  }

  observeBatch(loader: string, size: number): void {
    this.batchSize.observe({ loader }, size);
  }

  /** Counts a request whose forwarding header was ignored (`TRUST_PROXY` off). */
  observeIgnoredForwardedHeader(): void {
    this.forwardedHeadersIgnored.inc();
  }

  /**
   * An operation name's label: the name once it holds one of the `MAX_OPERATION_NAMES` slots, `other` else. A name
   * takes a slot only from an operation that succeeded, so that names made up in failing requests never take one;
   * a name with a slot keeps it, its failures included.
   */
  private operationLabel(name: string | null | undefined, outcome: string): string {
    if (!name) return 'anonymous';
    if (this.operationNames.has(name)) return name;
    if (outcome !== 'ok' || this.operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return 'other';
    this.operationNames.add(name);
    return name;
  }
}
