/**
 * The plan's rules for what only answers can tell: where one batch of records is read from, given the lists the
 * request has started, and whether a record a list lacks gets its show call. The planner (`operationPlan.ts`)
 * decides every call before any is made; the loaders (`src/loaders/portalLoaders.ts`) ask these rules as answers
 * arrive and carry out what they say, deciding nothing of their own.
 *
 * 1. A list the request has started serves its kind's records, whatever the plan chose for that kind: it costs no
 *    call, and the records agree with the list the answer shows. The grouped list serves assignments and licences.
 * 2. Otherwise a kind is read where the plan said (`OperationPlan.sources`).
 * 3. A record a list lacks is asked for by its show call when the client named its id (the plan counted that call),
 *    and otherwise (one list names it, another lacks it: lists are snapshots; or a representation of `_entities`
 *    names it) while the calls the budget leaves beyond the plan's estimate last (`OperationPlan.spareCalls`), for
 *    the whole operation.
 * 4. The representations of `_entities` that the lists lack are counted once the lists are in, before any of their
 *    show calls (`referencedShowCalls`): an operation whose count passes what the budget leaves is refused then.
 */
import type { OperationPlan, RecordKind } from './operationPlan';

/** The caller's lists a request has started (in hand, or on their way). */
export interface ListsStarted {
  grouped: boolean;
  assignments: boolean;
  licenses: boolean;
  details: boolean;
}

/** Where a batch of one kind is read from: one show call per id, or one of the caller's lists. */
export type BatchSource = 'show' | keyof ListsStarted;

/**
 * Where a batch of `kind` is read from (rules 1 and 2). For licences of assignments, `licenses` means the licence
 * list grouped by assignment, and `grouped` the grouped list, with show calls for the assignments it lacks.
 *
 *     batchSource(plan, 'license', { grouped: false, assignments: false, licenses: true, details: false }); // 'licenses'
 */
export function batchSource(plan: OperationPlan, kind: RecordKind, started: ListsStarted): BatchSource {
  const planned = plan.sources[kind];
  switch (kind) {
    case 'assignment':
    case 'license': {
      const own = kind === 'assignment' ? 'assignments' : 'licenses';
      if (started[own]) return own;
      if (started.grouped || (plan.lists.grouped && planned === 'list')) return 'grouped';
      return planned === 'list' ? own : 'show';
    }
    case 'detail':
      return started.details || planned === 'list' ? 'details' : 'show';
    case 'licensesOfAssignment':
      if (started.licenses || planned === 'licenseList') return 'licenses';
      return started.grouped || planned !== 'show' ? 'grouped' : 'show';
    default:
      throw new UnreachableKindError(kind);
  }
}

/** Where a whole list of assignments or licences is read from: the grouped list once it is started (rule 1). */
export function wholeListSource(list: 'assignments' | 'licenses', started: ListsStarted): 'grouped' | typeof list {
  return started.grouped ? 'grouped' : list;
}

/** Whether the request has a record in hand, once its lists are in. */
export type InHand = (kind: 'assignment' | 'license', id: number) => boolean;

/**
 * The show calls the ids of `_entities`' representations take once the lists are in (rule 4), by endpoint: one per id
 * of a kind read from a list that the list lacks. A kind read by show calls, and an id named at the root too, were
 * counted in the estimate.
 *
 *     referencedShowCalls(plan, (kind, id) => known.license(id) !== undefined); // { 'license.show': 2 }
 */
export function referencedShowCalls(plan: OperationPlan, inHand: InHand): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const [kind, endpoint] of [
    ['assignment', 'productAssignment.show'],
    ['license', 'license.show'],
  ] as const) {
    if (plan.sources[kind] === 'show') continue;
    let missing = 0;
    // An id also named at the root had its show call counted in the estimate.
    for (const id of plan.referencedIds[kind]) if (!plan.namedIds[kind].has(id) && !inHand(kind, id)) missing += 1;
    if (missing > 0) calls[endpoint] = missing;
  }
  return calls;
}

/** The show calls an operation may make for records a list lacks (rule 3). */
export class MissingRecordCalls {
  private spare: number;

  /** `plan` is the operation's: its spare calls are shared by everything it reads, after a write too. */
  constructor(plan: OperationPlan) {
    this.spare = plan.spareCalls;
  }

  /**
   * Whether the record `id` of `kind`, which a list lacks, is asked for by its show call under `plan` (the one being
   * carried out: a mutation's payload has its own). Counts the call when it is a spare one.
   */
  allows(plan: OperationPlan, kind: RecordKind, id: number): boolean {
    if (plan.namedIds[kind].has(id)) return true;
    if (this.spare <= 0) return false;
    this.spare -= 1;
    return true;
  }
}

class UnreachableKindError extends Error {
  constructor(value: never) {
    super(`Unreachable record kind: ${JSON.stringify(value)}`);
  }
}
