/**
 * The request pipeline's own stages, as Apollo plugins:
 * - planning: plan the operation's upstream calls, refuse it if it would exceed the budget, start the planned
 *   calls before any resolver runs;
 * - upstream costs: report the calls made, by endpoint with their time, in the response's `extensions` (when
 *   asked for, or in development) and in the log.
 */
import { GraphQLError } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { planOperation } from '../planner/operationPlan';
import type { UpstreamCall } from '../portal/portalClient';
import type { RequestContext } from './context';
import { ErrorCode } from './errors';
import type { AdmissionQueue } from './admission';
import { checkLicenseFilter, checkPageArgs, licenseDetailOrdering, licenseOrdering } from './connections';
import type { LicenseFilter, LicenseOrder } from '../generated/graphql';

export interface PlanningOptions {
  /** Most upstream calls one operation may make. */
  budget: number;
  /** Whether plans are followed (the planned strategy) or only estimated (the baseline). */
  prefetch: boolean;
  /** Admission of operations to execution; waiting in it counts against the operation's deadline. */
  admission: AdmissionQueue;
}

/**
 * Plans an operation, refuses it if over budget, waits for its turn to execute, then starts the planned calls.
 * Everything here happens after validation and before the first resolver, so a refusal costs no upstream call.
 */
export function planningPlugin(options: PlanningOptions): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      let release: (() => void) | undefined;
      return {
        async didResolveOperation({ document, operation, request, contextValue }) {
          if (!operation) return; // Apollo refuses a document without the named operation before execution.
          const plan = planOperation(document, operation, request.variables, { accepts: argumentsAccepted });
          contextValue.plan = plan;
          if (plan.estimatedCalls > options.budget) throw budgetError(plan.estimatedCalls, options.budget, plan.estimate);
          release = await options.admission.acquire();
          if (!release) throw overloadedError();
          if (options.prefetch) contextValue.loaders.prefetch(plan);
        },
        async willSendResponse({ contextValue }) {
          release?.();
          contextValue.dispose();
        },
      };
    },
  };
}

function overloadedError(): GraphQLError {
  return new GraphQLError('The server is busy with other requests to the Customer Portal; try again in a moment.', {
    extensions: { code: ErrorCode.UPSTREAM_UNAVAILABLE, reason: 'OVERLOADED', http: { status: 503, headers: new Map([['retry-after', '1']]) } },
  });
}

/**
 * Whether a field's resolver will accept its arguments, by the resolvers' own checks; a field it will refuse
 * costs no call, so the plan must not start one for it.
 */
export function argumentsAccepted(typeName: string, fieldName: string, args: Record<string, unknown>): boolean {
  try {
    if (fieldName === 'licenses' && (typeName === 'Query' || typeName === 'ProductAssignment')) {
      checkLicenseFilter(args.filter as LicenseFilter | undefined);
      checkPageArgs(licenseOrdering(args.orderBy as LicenseOrder | undefined), args.first as number | undefined, args.after as string | undefined);
    }
    if (typeName === 'Query' && fieldName === 'licenseDetails') {
      checkPageArgs(licenseDetailOrdering, args.first as number | undefined, args.after as string | undefined);
    }
    return true;
  } catch {
    return false;
  }
}

function budgetError(estimated: number, budget: number, byEndpoint: Record<string, number>): GraphQLError {
  const unbounded = !Number.isFinite(estimated);
  const message = unbounded
    ? `This operation would download a licence file for every item of a list of unknown length; give that list \`first\` (at most ${budget} calls to the Customer Portal are allowed per operation).`
    : `This operation would make ${estimated} calls to the Customer Portal; at most ${budget} are allowed per operation. Ask for fewer records or fewer files at once.`;
  return new GraphQLError(message, {
    extensions: {
      code: ErrorCode.BAD_USER_INPUT,
      reason: 'UPSTREAM_CALL_BUDGET',
      estimatedCalls: unbounded ? null : estimated,
      budget,
      byEndpoint: Object.fromEntries(Object.entries(byEndpoint).map(([endpoint, calls]) => [endpoint, Number.isFinite(calls) ? calls : null])),
      http: { status: 400 },
    },
  });
}

/** The upstream calls of one request, as reported. */
export interface UpstreamSummary {
  calls: number;
  estimatedCalls: number | null;
  byEndpoint: Record<string, { calls: number; totalMs: number }>;
  timeline: Array<{ endpoint: string; status: number | null; startMs: number; durationMs: number; error?: string }>;
}

export function summarizeUpstreamCalls(context: RequestContext): UpstreamSummary {
  const byEndpoint: UpstreamSummary['byEndpoint'] = {};
  for (const call of context.upstreamCalls) {
    const entry = (byEndpoint[call.endpoint] ??= { calls: 0, totalMs: 0 });
    entry.calls += 1;
    entry.totalMs = round(entry.totalMs + call.durationMs);
  }
  const estimate = context.plan?.estimatedCalls;
  return {
    calls: context.upstreamCalls.length,
    estimatedCalls: estimate === undefined || !Number.isFinite(estimate) ? null : estimate,
    byEndpoint,
    timeline: [...context.upstreamCalls]
      .sort((a, b) => a.startedAt - b.startedAt)
      .map((call: UpstreamCall) => ({
        endpoint: call.endpoint,
        status: call.status ?? null,
        startMs: round(call.startedAt - context.startedAt),
        durationMs: round(call.durationMs),
        ...(call.errorCode ? { error: call.errorCode } : {}),
      })),
  };
}

export interface OperationLogger {
  info(details: Record<string, unknown>, message: string): void;
}

/** Told of every operation once its response is ready: for metrics. Must not throw. */
export type OperationObserver = (operationName: string | null, outcome: string, seconds: number) => void;

/**
 * Logs every operation (with the request's own logger, so the line carries its request id) with its duration,
 * upstream calls and error codes, tells the metrics, and puts the upstream calls in the response when asked.
 */
export function upstreamCostsPlugin(observe: OperationObserver): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue, operationName }) {
          const upstream = summarizeUpstreamCalls(contextValue);
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          const errorCodes = [...new Set(errors.map((error) => String(error.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR)))];
          const durationMs = round(performance.now() - contextValue.startedAt);
          contextValue.log.info(
            {
              operationName: operationName ?? null,
              durationMs,
              upstreamCalls: upstream.calls,
              upstreamByEndpoint: upstream.byEndpoint,
              errorCodes,
            },
            'graphql operation',
          );
          observe(operationName ?? null, errorCodes[0] ?? 'ok', durationMs / 1000);
          if (contextValue.showUpstreamCalls && response.body.kind === 'single') {
            response.body.singleResult.extensions = { ...response.body.singleResult.extensions, upstream };
          }
        },
      };
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
