/**
 * The per-request context: who is calling, and the loaders that fetch for them.
 * Built fresh for every GraphQL request, so that no caller's data outlives the request or reaches another caller.
 */
import type { PortalCaller, PortalClient, UpstreamCall } from '../portal/portalClient';
import { PortalLoaders } from '../loaders/portalLoaders';
import type { Loaders, LoadersFactory } from '../loaders/loaders';
import type { LicenseGenerator } from '../idempotency/idempotentGenerate';
import type { OperationPlan } from '../planner/operationPlan';
import { ItemAllowance } from './resultSize';
import { LicensePages } from './connections';
import type { Span, Tracing } from '../tracing/tracing';

export interface RequestContext {
  /** The caller's credentials and the request's call observer, passed to every portal call. */
  caller: PortalCaller;
  /** Who is calling, as the per-caller parts name them: an HMAC of the credentials (`src/http/callerKeys.ts`). */
  callerKey: string;
  portal: PortalClient;
  loaders: Loaders;
  /** Generates licences once, with idempotency keys; shared by every request, scoped by caller inside. */
  generator: LicenseGenerator;
  /** Every upstream call made for this request, in the order they ended. */
  upstreamCalls: UpstreamCall[];
  /** When the request started (`performance.now()`), to place its upstream calls in time. */
  startedAt: number;
  /** Whether the response carries its upstream calls in `extensions.upstream`. */
  showUpstreamCalls: boolean;
  /** The operation's plan, once it is known. */
  plan?: OperationPlan;
  /** The operation's type, once it is known: a mutation's answer is never dropped, whatever its size. */
  operationType?: 'query' | 'mutation' | 'subscription';
  /** List items the resolvers may still hand out: the last line behind the answer's count. */
  allowance: ItemAllowance;
  /** The licence pages cut so far, for the resolvers and the answer's count alike. */
  licensePages: LicensePages;
  /** The request's logger: its lines carry the request id (and, when traced, the trace's ids). */
  log: RequestLogger;
  /** Tracing, when on and this request is traced: its HTTP span, and the operation's once it started. */
  tracing?: Tracing;
  requestSpan?: Span;
  operationSpan?: Span;
  /** Ends the operation's timers; called once its response is sent. */
  dispose(): void;
}

interface RequestLogger {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export interface RequestContextOptions {
  portal: PortalClient;
  generator: LicenseGenerator;
  /** How the request's loaders are made; the planned `PortalLoaders` unless given. */
  loaders?: LoadersFactory;
  authorization: string | undefined;
  /** The caller's key (an HMAC of the credentials `authorization` names). */
  callerKey: string;
  showUpstreamCalls: boolean;
  /** The operation's overall deadline: reads still running then are aborted as UPSTREAM_TIMEOUT. */
  timeoutMs: number;
  /** Most objects and list items the answer may hold. */
  maxResultObjects: number;
  /** Aborts when the client goes away. */
  clientGone?: AbortSignal;
  log: RequestLogger;
  /** Told of every upstream call once it has ended (metrics, readiness). Must not throw. */
  onUpstreamCall?: (call: UpstreamCall) => void;
  /** Told of every loader batch (metrics). Must not throw. */
  onBatch?: (loader: string, size: number) => void;
  /** When this request is traced: the tracing, and the request's HTTP span. */
  trace?: { tracing: Tracing; span: Span };
}

/** Makes the context of one request from its `Authorization` header (forwarded unchanged, kept nowhere else). */
export function createRequestContext(options: RequestContextOptions): RequestContext {
  const upstreamCalls: UpstreamCall[] = [];
  const startedAt = performance.now();
  const signals = operationSignals(options.timeoutMs, options.clientGone);
  const caller: PortalCaller = {
    authorization: options.authorization,
    callerKey: options.callerKey,
    onCall: (call) => {
      upstreamCalls.push(call);
      options.onUpstreamCall?.(call);
      if (call.errorCode === 'INVALID_RESPONSE' || call.errorCode === 'OUTCOME_UNKNOWN') {
        options.log.warn(
          {
            endpoint: call.endpoint,
            status: call.status ?? null,
            errorCode: call.errorCode,
            reason: call.errorMessage,
          },
          'portal answer not read',
        );
      }
    },
    signal: signals.ended,
    deadlineSignal: signals.deadline,
    deadline: startedAt + options.timeoutMs,
    // Set by the tracing plugin: present from the start, so that every caller has one shape, traced or not.
    span: undefined,
  };
  const loaders = (options.loaders ?? plannedLoaders)(options.portal, caller, options.onBatch);
  return {
    caller,
    callerKey: options.callerKey,
    portal: options.portal,
    generator: options.generator,
    loaders,
    upstreamCalls,
    startedAt,
    showUpstreamCalls: options.showUpstreamCalls,
    log: options.log,
    // Every field present from the start, those set later too: a context that gained fields as the request went
    // on would change shape each time, and every reader of it would slow down.
    plan: undefined,
    operationType: undefined,
    tracing: options.trace?.tracing,
    requestSpan: options.trace?.span,
    operationSpan: undefined,
    allowance: new ItemAllowance(options.maxResultObjects),
    licensePages: new LicensePages(),
    dispose: () => signals.end(),
  };
}

/** The server's own loaders, which follow the operation's plan. */
const plannedLoaders: LoadersFactory = (portal, caller, onBatch) => new PortalLoaders(portal, caller, onBatch);

/**
 * The operation's deadline, and its end by the deadline or by the client going away, as abort signals.
 *
 * Made from a timer and controllers held here, not from `AbortSignal.timeout` and `AbortSignal.any`: Node 20
 * holds the sources of `AbortSignal.any` weakly, so a timeout signal that nothing else references is collected
 * under memory pressure and never fires. That is how a portal streaming an endless body kept a request (and
 * the memory it buffered) past its deadline. `end` clears the timer once the response is sent.
 */
function operationSignals(timeoutMs: number, clientGone: AbortSignal | undefined) {
  const deadline = new AbortController();
  const ended = new AbortController();
  const timer = setTimeout(() => {
    const reason = new DOMException(`The operation's deadline of ${timeoutMs} ms passed.`, 'TimeoutError');
    deadline.abort(reason);
    ended.abort(reason);
  }, timeoutMs);
  timer.unref(); // A deadline never keeps the process alive (nor a test run) on its own.
  const onClientGone = () => ended.abort(clientGone?.reason);
  if (clientGone?.aborted) onClientGone();
  else clientGone?.addEventListener('abort', onClientGone, { once: true });
  return {
    deadline: deadline.signal,
    ended: ended.signal,
    end() {
      clearTimeout(timer);
      clientGone?.removeEventListener('abort', onClientGone);
    },
  };
}
