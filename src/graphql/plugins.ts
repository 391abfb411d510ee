/**
 * The request pipeline's own stages, as Apollo plugins:
 * - planning: plan the operation's upstream calls, check its arguments, refuse it over the call budget or the bound
 *   on its answer, admit it by weight, and start the planned calls before any resolver runs;
 * - upstream costs: report the calls made, by endpoint with their time, in the response's `extensions` (when
 *   asked for, or in development) and in the log.
 */
import { GraphQLError, OperationTypeNode } from 'graphql';
import type { ApolloServerPlugin, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import { endWithError, type Span } from '../tracing/tracing';
import { planOperation, type OperationPlan } from '../planner/operationPlan';
import { referencedShowCalls } from '../planner/recordSources';
import type { UpstreamCall } from '../portal/portalClient';
import type { RequestContext } from './context';
import { ErrorCode } from './errors';
import type { AdmissionQueue } from './admission';
import { checkLicenseFilter, checkPageArgs, licenseDetailOrdering, licenseOrdering } from './connections';
import type { LicenseFilter, LicenseOrder } from '../generated/graphql';
import {
  answerShape,
  countAnswer,
  listSizesOf,
  type AnswerCount,
  type AnswerShape,
  type ListSizeMemory,
  type ListSizes,
} from './resultSize';
import { noRecordIds } from '../loaders/loaders';
import { checkVariableDepth } from './inputs';
import { fieldModel, unreachable } from '../schema/schemaModel';

export interface PlanningOptions {
  /** Most upstream calls one operation may make. */
  budget: number;
  /** Admission of operations to execution; waiting in it counts against the operation's deadline. */
  admission: AdmissionQueue;
  /** Most objects and list items one answer may hold. */
  maxResultObjects: number;
  /** The list sizes seen per caller: for the plan's choice of show calls or lists, and the answer's estimate. */
  listSizes: ListSizeMemory;
  /** Most portal calls that go out at once (the connection pool). */
  showCallsAtOnce: number;
}

/**
 * Refuses variables nested too deep, plans an operation, refuses it if over budget or if its answer would be too
 * large, waits for its turn to execute, starts the planned calls, and once they are in counts the answer exactly.
 * Everything here happens after validation and before the first resolver, so a refusal costs no more upstream calls
 * than the plan's lists.
 */
export function planningPlugin(options: PlanningOptions): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      let release: (() => void) | undefined;
      let callerKey: string | undefined;
      /** Plans, admits, starts the calls and counts the answer; `span`, when traced, gets what was decided. */
      const planAndAdmit = async (
        {
          document,
          operation,
          request,
          contextValue,
          schema,
        }: GraphQLRequestContextDidResolveOperation<RequestContext>,
        span: Span | undefined,
      ): Promise<void> => {
        // This stage is the first to read the variables, and graphql-js's coercion comes after it.
        checkVariableDepth(request.variables);
        if (!operation) return; // Apollo refuses a document without the named operation before execution.
        contextValue.operationType = operation.operation;
        callerKey = contextValue.callerKey;
        const sizesSeen = options.listSizes.get(callerKey);
        const plan = planOperation(document, operation, request.variables, {
          accepts: argumentsAccepted,
          listSizes: sizesSeen,
          showCallsAtOnce: options.showCallsAtOnce,
          budget: options.budget,
        });
        contextValue.plan = plan;
        span?.setAttributes({
          'graphql.plan.estimate': JSON.stringify(plan.estimate),
          ...(Number.isFinite(plan.estimatedCalls) ? { 'graphql.plan.estimated_calls': plan.estimatedCalls } : {}),
        });
        if (plan.estimatedCalls > options.budget) throw budgetError(plan.estimatedCalls, options.budget, plan.estimate);
        const shape = answerShape(schema, document, operation, request.variables);
        const estimated = countAnswer(shape, undefined, sizesSeen);
        span?.setAttribute('graphql.result.estimated_objects', estimated.objects);
        if (estimated.objects > options.maxResultObjects)
          throw resultTooLargeError(estimated.objects, options.maxResultObjects, 'about');
        const weight = admissionWeight(plan, shape, sizesSeen, estimated.objects);
        const waitStarted = performance.now();
        release = await options.admission.acquire(callerKey, contextValue.caller.signal, weight);
        span?.setAttributes({
          'graphql.admission.weight': Number.isFinite(weight) ? weight : -1,
          'graphql.admission.wait_ms': Math.round((performance.now() - waitStarted) * 10) / 10,
        });
        if (!release) throw overloadedError();
        await contextValue.loaders.prefetch(plan);
        const known = contextValue.loaders.known();
        // Representations of `_entities` the lists lack each take a show call: counted now that the lists are in. A
        // list that failed takes none: its records all fail with it.
        if (known) {
          const referenced = referencedShowCalls(plan, (kind, id) =>
            kind === 'license'
              ? known.licenses === undefined || known.license(id) !== undefined
              : known.assignments === undefined || known.assignment(id) !== undefined,
          );
          const calls = plan.estimatedCalls + Object.values(referenced).reduce((sum, count) => sum + count, 0);
          span?.setAttribute('graphql.plan.referenced_show_calls', calls - plan.estimatedCalls);
          if (calls > options.budget) throw budgetError(calls, options.budget, mergeCalls(plan.estimate, referenced));
        }
        // A mutation's payload is read after its write: only its estimate and the allowance can bound it.
        if (operation.operation !== OperationTypeNode.QUERY || !known) return;
        // What is not in hand is estimated from this request's own lists first, then from those seen before; the
        // memory is told once the response is sent.
        const sizes = { ...sizesSeen, ...listSizesOf(known) };
        const counted = await countExactly(shape, contextValue, sizes);
        span?.setAttribute('graphql.result.objects', counted.objects);
        if (counted.objects > options.maxResultObjects) {
          throw resultTooLargeError(counted.objects, options.maxResultObjects, counted.estimated ? 'about' : 'exactly');
        }
      };
      return {
        async didResolveOperation(requestContext) {
          const { tracing, operationSpan } = requestContext.contextValue;
          // A span that is not recorded would only be told what it drops.
          const span =
            tracing && operationSpan?.isRecording() ? tracing.startChild(operationSpan, 'graphql.plan') : undefined;
          try {
            await planAndAdmit(requestContext, span);
            span?.end();
          } catch (error) {
            if (span) endWithError(span, codeOf((error as GraphQLError).extensions?.code));
            throw error;
          }
        },
        async willSendResponse({ contextValue, response }) {
          release?.();
          contextValue.dispose();
          if (callerKey !== undefined) options.listSizes.remember(callerKey, listSizesOf(contextValue.loaders.known()));
          const overrun = contextValue.allowance.overrun();
          if (overrun === undefined || response.body.kind !== 'single') return;
          const refusal = resultTooLargeError(overrun, options.maxResultObjects, 'at least');
          const formatted = { message: refusal.message, extensions: { ...refusal.extensions, http: undefined } };
          if (contextValue.operationType === 'mutation') {
            // A licence may have been generated: its answer is kept, with lists cut, and the refusal beside it.
            const result = response.body.singleResult;
            result.errors = [...(result.errors ?? []), formatted];
          } else {
            response.body.singleResult = { errors: [formatted] };
            response.http.status = 400;
          }
        },
      };
    },
  };
}

/** Objects of an answer per admission slot: an operation resolving 15,000 takes the most one may, half a caller's share. */
const OBJECTS_PER_SLOT = 1000;

/** How long a list this caller was never seen to have is taken to be, for weighing an operation that reads it. */
const ASSUMED_LIST_SIZE = 1000;

/**
 * The admission slots an operation takes: one per `OBJECTS_PER_SLOT` objects its answer is estimated to hold. A list
 * this caller was never seen to have counts one item in the estimate (which refuses nothing it should not); for the
 * weight it counts `ASSUMED_LIST_SIZE`, so that a fresh replica's first burst of nested queries does not run sixteen
 * at a time, while a new user's first page of small queries still runs at once.
 */
function admissionWeight(plan: OperationPlan, shape: AnswerShape, seen: ListSizes, estimatedObjects: number): number {
  const { lists } = plan;
  const unseen =
    ((lists.licenses || lists.grouped) && seen.licenses === undefined) ||
    (lists.details && seen.details === undefined) ||
    (lists.assignments && seen.assignments === undefined);
  if (!unseen) return estimatedObjects / OBJECTS_PER_SLOT;
  const assumed = { assignments: ASSUMED_LIST_SIZE, licenses: ASSUMED_LIST_SIZE, details: ASSUMED_LIST_SIZE };
  return countAnswer(shape, undefined, { ...assumed, ...seen }).objects / OBJECTS_PER_SLOT;
}

/** Most rounds of loading records a count wants: one per level of records named through another (depth-bounded). */
const MAX_COUNT_ROUNDS = 10;

/**
 * Counts an answer from the records in hand once the plan's calls are in. Records reached through others (a
 * licence named by id, then its assignment) are known only once their parent is: each round loads, through the
 * loaders and as the resolvers would, what the last count wanted, until the count wants nothing (it is exact).
 */
async function countExactly(shape: AnswerShape, context: RequestContext, sizes: ListSizes): Promise<AnswerCount> {
  const tried = noRecordIds();
  for (let round = 0; ; round += 1) {
    const counted = countAnswer(shape, context.loaders.known(), sizes, tried, context.licensePages);
    const { wanted } = counted;
    const wants = wanted.assignments.size + wanted.licenses.size + wanted.details.size + wanted.licensesOf.size;
    if (wants === 0 || round === MAX_COUNT_ROUNDS) return counted;
    await context.loaders.load(wanted);
    for (const kind of ['assignments', 'licenses', 'details', 'licensesOf'] as const)
      for (const id of wanted[kind]) tried[kind].add(id);
  }
}

/**
 * An answer over `maxResultObjects`, with its count: `about` estimated before any call, `exactly` counted from the
 * lists, `at least` when resolving passed the bound (the count is what had been handed out by then).
 */
function resultTooLargeError(count: number, bound: number, how: 'about' | 'exactly' | 'at least'): GraphQLError {
  const objects = Math.round(count);
  const message =
    `This operation's answer would hold ${how === 'exactly' ? '' : `${how} `}${objects.toLocaleString('en-US')} objects and list items; ` +
    `at most ${bound.toLocaleString('en-US')} are allowed. Ask for less: give lists \`first\`, or leave out lists nested in lists ` +
    '(such as License.productAssignment.licenses).';
  return new GraphQLError(message, {
    extensions: {
      code: ErrorCode.BAD_USER_INPUT,
      reason: 'RESULT_TOO_LARGE',
      resultObjects: objects,
      maxResultObjects: bound,
      counted: how === 'about' ? 'ESTIMATE' : how === 'exactly' ? 'EXACT' : 'AT_LEAST',
      http: { status: 400 },
    },
  });
}

function overloadedError(): GraphQLError {
  return new GraphQLError('The server is busy with other requests to the Customer Portal; try again in a moment.', {
    extensions: {
      code: ErrorCode.UPSTREAM_UNAVAILABLE,
      reason: 'OVERLOADED',
      http: { status: 503, headers: new Map([['retry-after', '1']]) },
    },
  });
}

/**
 * Whether a field's resolver will accept its arguments, by the resolvers' own checks; a field it will refuse
 * costs no call, so the plan must not start one for it. Only pages take arguments a check refuses; a record's id
 * the planner reads itself.
 */
export function argumentsAccepted(typeName: string, fieldName: string, args: Record<string, unknown>): boolean {
  const model = fieldModel(typeName, fieldName);
  if (model?.kind !== 'page') return true;
  const first = args.first as number | undefined;
  const after = args.after as string | undefined;
  const { of } = model;
  try {
    switch (of) {
      case 'licenses':
      case 'licensesOfParent':
        checkLicenseFilter(args.filter as LicenseFilter | undefined);
        checkPageArgs(licenseOrdering(args.orderBy as LicenseOrder | undefined), first, after);
        return true;
      case 'details':
        checkPageArgs(licenseDetailOrdering, first, after);
        return true;
    }
  } catch {
    return false;
  }
  return unreachable(of);
}

/** Calls by endpoint, added up. */
function mergeCalls(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const merged = { ...a };
  for (const [endpoint, calls] of Object.entries(b)) merged[endpoint] = (merged[endpoint] ?? 0) + calls;
  return merged;
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
      byEndpoint: Object.fromEntries(
        Object.entries(byEndpoint).map(([endpoint, calls]) => [endpoint, Number.isFinite(calls) ? calls : null]),
      ),
      http: { status: 400 },
    },
  });
}

/** The upstream calls of one request, as reported. */
interface UpstreamSummary {
  calls: number;
  estimatedCalls: number | null;
  byEndpoint: Record<string, { calls: number; totalMs: number }>;
  timeline: Array<{ endpoint: string; status: number | null; startMs: number; durationMs: number; error?: string }>;
}

function summarizeUpstreamCalls(context: RequestContext): UpstreamSummary {
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

/**
 * Told of every operation once its response is ready: for metrics. `operationName` is the name of the operation the
 * document resolved to, null when it has none or none was resolved (a document that did not validate, or one
 * without the operation the client named); `outcome` is `ok` or the first error code. Must not throw.
 */
export type OperationObserver = (operationName: string | null, outcome: string, seconds: number) => void;

/**
 * Logs every operation (with the request's own logger, so the line carries its request id) with its duration,
 * upstream calls and error codes, tells the metrics, and puts the upstream calls in the response when asked.
 */
export function upstreamCostsPlugin(observe: OperationObserver): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        // `operationName` is Apollo's: the resolved operation's name, never the client's field as sent.
        async willSendResponse({ response, contextValue, operationName }) {
          const upstream = summarizeUpstreamCalls(contextValue);
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          const errorCodes = [...new Set(errors.map((error) => codeOf(error.extensions?.code)))];
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

/** An error's code as reported: a string, or INTERNAL_SERVER_ERROR when it has none. */
function codeOf(code: unknown): string {
  return typeof code === 'string' ? code : ErrorCode.INTERNAL_SERVER_ERROR;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
