/**
 * The query planner, the one owner of the call policy: it reads an operation's shape before anything is fetched and
 * decides every portal call, which the loaders start at once and whose estimate the budget checks. What only answers
 * can tell (which ids a list lacks) is settled by its rules in `recordSources.ts`, which the loaders obey.
 *
 * The rules:
 *
 * 1. Each kind of record has a list endpoint and a show endpoint; the plan takes, per kind, whichever answers
 *    sooner (`showCallsCheaper`). Up to `FEW_SHOW_CALLS` ids are always show calls, so `license(id: 5)` never
 *    downloads the whole list. More ids are show calls while they all go out at once (the connection pool) and
 *    cost less than reading the list, whose length is known from this caller's earlier answers: five licences by
 *    id out of 5,000 are five show calls, five assignments out of 40 are the assignment list. A list of unknown
 *    length, or records under one (`licenses { nodes { detail } }`), come from the list.
 * 2. Licences of several assignments (or of assignments under a list) come the same way from the one grouped call
 *    `license.byAssignment.list`. It carries every assignment and every licence of the caller too, so once it is
 *    planned, assignments and licences come from it and their own lists are not called.
 * 3. Licences of a few known assignments come from `license.byAssignment.show`, unless the licence list is fetched
 *    anyway (then they are grouped from it).
 * 4. Records whose ids the operation names (`license(id: 5) { detail }` names detail 5) and that are show calls are
 *    fetched at once, beside the root call, instead of after it.
 * 5. Every id the client names gets the portal's own answer: an id a list lacks (another customer's, or none) is
 *    asked for by its show call (403 or 404). So the estimate counts, for a kind read from a list, one show call
 *    per named id besides the list: a flood of made-up ids is refused by the budget before any call.
 * 6. Licence files have no list endpoint: one download per licence. Under a list of unknown length that is
 *    unbounded, so the estimate is infinite and the budget refuses it; `first` bounds it.
 * 7. `generateLicense` is one call (two with an `idempotencyKey`: the assignment's licences are noted first), and
 *    its payload is read afresh after it, by its own plan (`afterWrite`).
 * 8. `_entities` (a Federation subgraph's) names records by its representations, read like ids named at the root by
 *    rule 1: show calls while few, the list when cheaper, and the fields below planned with them. Each also gets the
 *    portal's own answer, but not as rule 5 counts it: a gateway's batch of hundreds would be estimated at hundreds
 *    of show calls and refused, though the list serves them all. An id the list lacks (another customer's) is asked
 *    for by its show call within the calls the budget leaves beyond the estimate, counted once the list is in
 *    (`referencedShowCalls`, before any such call): only a batch that really needs too many calls is refused.
 *    A detail is referenced by its own id, which only the detail list holds.
 *
 * The estimate leaves out one case: lists are snapshots taken at different moments, so a record one list names
 * (a licence generated a moment ago) may be missing from another. Such a record gets its show call within what the
 * budget leaves beyond the estimate (`spareCalls`, rule 3 of `recordSources.ts`); no list is read twice.
 */
import {
  OperationTypeNode,
  type DocumentNode,
  type FieldNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { positiveIntegerId } from '../portal/endpoints';
import { RECORD_KINDS, type ListSizes, type OneRecordKind, type RecordKind } from '../schema/recordKinds';
import { readRepresentation, representationsOf } from '../schema/entities';
import { fieldModel, unreachable, type FieldModel, type PageField } from '../schema/schemaModel';
import { Selections } from './selections';

export type { RecordKind };

/** Ids of one kind that are always show calls: cheaper than any list worth having. */
export const FEW_SHOW_CALLS = 3;

/**
 * What one show call costs, in records of a list read: its own round trip through the portal and this server
 * (request, headers, a small body), against reading, checking and indexing one record of a list (measured: see the
 * README's "How it plans its upstream calls").
 */
const RECORDS_PER_SHOW_CALL = 64;

/** How many records a selection stands for: a number, or `many` under a list of unknown length. */
type Count = number | 'many';

/** Where the records of one kind come from. */
type RecordSource =
  /** One show call per id. */
  | 'show'
  /** The kind's own list (for licences of assignments, the grouped list). */
  | 'list'
  /** Licences of assignments only: grouped from the licence list, fetched anyway. */
  | 'licenseList';

/** The plan of one operation. */
export interface OperationPlan {
  /** List calls to start as the operation starts. */
  lists: { grouped: boolean; assignments: boolean; licenses: boolean; details: boolean };
  /** Where each kind of record comes from. */
  sources: Record<RecordKind, RecordSource>;
  /** Records the operation names by id, to start as the operation starts (only kinds served by show calls). */
  knownIds: Record<RecordKind, number[]>;
  /** Ids the client named, per kind: one a list lacks is asked for by its show call (counted in the estimate). */
  namedIds: Record<RecordKind, ReadonlySet<number>>;
  /**
   * Ids of `_entities`' representations, per kind (rule 8): one a list lacks is asked for by its show call, counted
   * once the list is in.
   */
  referencedIds: Record<RecordKind, ReadonlySet<number>>;
  /** Upstream calls the plan makes at most, by endpoint. `Infinity` when unbounded. */
  estimate: Record<string, number>;
  /** The sum of `estimate`. */
  estimatedCalls: number;
  /**
   * Calls the budget leaves beyond the estimate: for records one list names and another lacks (lists are
   * snapshots), asked for by their show calls.
   */
  spareCalls: number;
  /** A mutation's: the plan of its payload, read afresh after the write. */
  afterWrite?: OperationPlan;
}

/** How long this caller's lists were when last seen; undefined when never seen. */
export type KnownListSizes = ListSizes;

interface KindDemand {
  /** Ids named by the operation, directly or through another record's id. */
  ids: Set<number>;
  /** Ids the client named at a root field (or a filter): each gets the portal's own answer. */
  named: Set<number>;
  /** Ids of `_entities`' representations: each gets the portal's own answer, counted once the lists are in. */
  referenced: Set<number>;
  /** Records whose ids are known only once a parent is fetched. */
  unknown: Count;
}

/** What one operation (or one mutation payload, read afresh after its write) asks of the portal. */
class Demand {
  readonly kinds: Record<RecordKind, KindDemand> = {
    assignment: { ids: new Set(), named: new Set(), referenced: new Set(), unknown: 0 },
    license: { ids: new Set(), named: new Set(), referenced: new Set(), unknown: 0 },
    detail: { ids: new Set(), named: new Set(), referenced: new Set(), unknown: 0 },
    licensesOfAssignment: { ids: new Set(), named: new Set(), referenced: new Set(), unknown: 0 },
  };
  /** Kinds whose every record a root field asks for (`productAssignments`, `licenses`, `licenseDetails`). */
  readonly everyRecord: Record<OneRecordKind, boolean> = { assignment: false, license: false, detail: false };
  files: Count = 0;

  /** Records of `kind`: `count` of them, with their ids when known; `by` says who named the ids, if anyone. */
  add(kind: RecordKind, count: Count, ids: readonly number[] | undefined, by?: 'named' | 'referenced'): void {
    const demand = this.kinds[kind];
    if (!ids) {
      demand.unknown = plus(demand.unknown, count);
      return;
    }
    for (const id of ids) {
      demand.ids.add(id);
      if (by !== undefined) demand[by].add(id);
    }
  }
}

/** A selection's place: the type it selects on, how many records it stands for, and their ids when known. */
interface Place {
  count: Count;
  ids: number[] | undefined;
}

export interface PlanOptions {
  /**
   * Whether a field's arguments will be accepted by its resolver. A field whose arguments will be refused is left
   * out of the plan with everything below it, so that input refused before any call costs no call at all.
   */
  accepts?: (typeName: string, fieldName: string, args: Record<string, unknown>) => boolean;
  /** This caller's list lengths, as last seen: what a list would cost. */
  listSizes?: KnownListSizes;
  /** Most show calls that go out at once (the portal connection pool); more would wait for each other. */
  showCallsAtOnce?: number;
  /**
   * Most calls the operation may make. Show calls chosen for speed never push a plan over it: a plan that would
   * pass it is made again with lists wherever they save calls.
   */
  budget?: number;
}

/**
 * Plans an operation. Never throws on a document that passed validation; arguments that do not parse are left
 * out (their resolver refuses them before any call).
 *
 *     const plan = planOperation(document, operation, variables, { listSizes: { licenses: 5000 } });
 *     plan.sources.license; // 'show' for five licences by id, 'list' under `licenses { nodes }`
 */
export function planOperation(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  options: PlanOptions = {},
): OperationPlan {
  const costs: Costs = { sizes: options.listSizes ?? {}, showCallsAtOnce: options.showCallsAtOnce ?? 32 };
  let plan = planWithCosts(document, operation, variables, options, costs);
  if (options.budget === undefined) return plan;
  if (plan.estimatedCalls > options.budget)
    plan = planWithCosts(document, operation, variables, options, { ...costs, showCallsAtOnce: FEW_SHOW_CALLS });
  const spareCalls = Math.max(0, options.budget - plan.estimatedCalls);
  return { ...plan, spareCalls, ...(plan.afterWrite ? { afterWrite: { ...plan.afterWrite, spareCalls } } : {}) };
}

function planWithCosts(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  options: PlanOptions,
  costs: Costs,
): OperationPlan {
  const walker = new Walker(document, variables ?? {}, options.accepts ?? (() => true));
  const reads = new Demand();
  const estimate: Record<string, number> = {};
  const addCalls = (calls: Record<string, number>) => {
    for (const [endpoint, count] of Object.entries(calls))
      if (count > 0) estimate[endpoint] = (estimate[endpoint] ?? 0) + count;
  };

  let afterWrite: OperationPlan | undefined;
  if (operation.operation === OperationTypeNode.MUTATION) {
    // Each payload is read after its write, from emptied loaders: its own small demand, planned on its own; the
    // loaders follow the plan of them all together, which makes no more calls than the sum of each.
    const payloads = new Demand();
    for (const field of walker.fields(operation.selectionSet)) {
      const model = fieldModel('Mutation', field.name.value);
      if (model?.kind !== 'write') continue; // __typename
      addCalls({ 'license.generate': 1 });
      const input = walker.argument(field, 'input');
      if (isRecord(input) && input.idempotencyKey != null) addCalls({ 'license.byAssignment.show': 1 });
      const payload = new Demand();
      walker.walkPayload(model.type, field, payload);
      walker.walkPayload(model.type, field, payloads);
      addCalls(resolveDemand(payload, costs).estimate);
    }
    afterWrite = completePlan(resolveDemand(payloads, costs));
  } else {
    walker.walkRoot(operation.selectionSet, reads);
  }

  const plan = resolveDemand(reads, costs);
  addCalls(plan.estimate);
  return { ...completePlan({ ...plan, estimate }), ...(afterWrite ? { afterWrite } : {}) };
}

/** A plan that reads nothing and calls one show call per id: what loaders follow before they are given a plan. */
export function showCallsPlan(): OperationPlan {
  return completePlan(resolveDemand(new Demand(), { sizes: {}, showCallsAtOnce: 0 }));
}

/** Without a budget, records that one list names and another lacks get a few show calls. */
function completePlan(plan: Omit<OperationPlan, 'estimatedCalls' | 'spareCalls'>): OperationPlan {
  const estimatedCalls = Object.values(plan.estimate).reduce((sum, calls) => sum + calls, 0);
  return { ...plan, estimatedCalls, spareCalls: FEW_SHOW_CALLS };
}

interface Costs {
  sizes: KnownListSizes;
  showCallsAtOnce: number;
}

/**
 * Whether `calls` show calls answer sooner than reading a list of `listSize` records (undefined: never seen), when
 * each show call brings `recordsPerCall` records. A few always do; more do while they all go out at once and cost
 * less than the list's records.
 */
function showCallsCheaper(
  calls: Count,
  listSize: number | undefined,
  showCallsAtOnce: number,
  recordsPerCall = 1,
): boolean {
  if (calls === 'many') return false;
  if (calls <= FEW_SHOW_CALLS) return true;
  if (listSize === undefined || calls > showCallsAtOnce) return false;
  return calls * (RECORDS_PER_SHOW_CALL + recordsPerCall) < listSize;
}

/** Applies the rules of this module's header to a demand. */
function resolveDemand(demand: Demand, costs: Costs): Omit<OperationPlan, 'estimatedCalls' | 'spareCalls'> {
  const estimate: Record<string, number> = {};
  const knownIds: Record<RecordKind, number[]> = { assignment: [], license: [], detail: [], licensesOfAssignment: [] };
  const namedIds: Record<RecordKind, ReadonlySet<number>> = {
    assignment: demand.kinds.assignment.named,
    license: demand.kinds.license.named,
    detail: demand.kinds.detail.named,
    licensesOfAssignment: demand.kinds.licensesOfAssignment.named,
  };
  const referencedIds: Record<RecordKind, ReadonlySet<number>> = {
    assignment: demand.kinds.assignment.referenced,
    license: demand.kinds.license.referenced,
    detail: demand.kinds.detail.referenced,
    licensesOfAssignment: demand.kinds.licensesOfAssignment.referenced,
  };
  const count = (kind: KindDemand): Count => plus(kind.ids.size, kind.unknown);
  const demanded = (kind: KindDemand) => count(kind) !== 0;
  const { sizes, showCallsAtOnce } = costs;
  const cheaper = (kind: KindDemand, listSize: number | undefined, recordsPerCall?: number) =>
    showCallsCheaper(count(kind), listSize, showCallsAtOnce, recordsPerCall);
  const addCalls = (endpoint: string, calls: number) => {
    if (calls > 0) estimate[endpoint] = (estimate[endpoint] ?? 0) + calls;
  };
  /** Show calls for a kind: one per id, all started at once when known. */
  const shows = (kind: RecordKind, endpoint: string) => {
    const { ids, unknown } = demand.kinds[kind];
    knownIds[kind] = [...ids];
    addCalls(endpoint, ids.size + (unknown as number));
  };

  const { assignment, license, detail, licensesOfAssignment } = demand.kinds;
  // The grouped list holds every assignment with its licences; one assignment's call, its share of them.
  const groupedSize = sizes.licenses === undefined ? undefined : sizes.licenses + (sizes.assignments ?? 0);
  const licensesPerAssignment = sizes.licenses === undefined ? undefined : sizes.licenses / (sizes.assignments || 1);
  const grouped = demanded(licensesOfAssignment) && !cheaper(licensesOfAssignment, groupedSize, licensesPerAssignment);
  const licenses = !grouped && (demand.everyRecord.license || (demanded(license) && !cheaper(license, sizes.licenses)));
  const assignments =
    !grouped && (demand.everyRecord.assignment || (demanded(assignment) && !cheaper(assignment, sizes.assignments)));
  const details = demand.everyRecord.detail || (demanded(detail) && !cheaper(detail, sizes.details));

  // A list first; then, for a kind read from one, a show call for each id the client named that it may lack.
  if (grouped) addCalls('license.byAssignment.list', 1);
  if (licenses) addCalls('license.list', 1);
  if (assignments) addCalls('productAssignment.list', 1);
  if (details) addCalls('licenseDetail.list', 1);
  if (grouped) addCalls('license.byAssignment.show', licensesOfAssignment.named.size);
  if (grouped || licenses) addCalls('license.show', license.named.size);
  if (grouped || assignments) addCalls('productAssignment.show', assignment.named.size);
  if (details) addCalls('licenseDetail.show', detail.named.size);
  if (!grouped && !licenses && demanded(licensesOfAssignment))
    shows('licensesOfAssignment', 'license.byAssignment.show');
  if (!grouped && !licenses && demanded(license)) shows('license', 'license.show');
  if (!grouped && !assignments && demanded(assignment)) shows('assignment', 'productAssignment.show');
  if (!details && demanded(detail)) shows('detail', 'licenseDetail.show');
  if (demand.files !== 0) estimate['licenseDetail.download'] = demand.files === 'many' ? Infinity : demand.files;

  const sources: Record<RecordKind, RecordSource> = {
    assignment: grouped || assignments ? 'list' : 'show',
    license: grouped || licenses ? 'list' : 'show',
    detail: details ? 'list' : 'show',
    licensesOfAssignment: grouped ? 'list' : licenses ? 'licenseList' : 'show',
  };
  return { lists: { grouped, assignments, licenses, details }, sources, knownIds, namedIds, referencedIds, estimate };
}

/** Walks selection sets by the schema model's types, expanding fragments and honouring `@skip` and `@include`. */
class Walker extends Selections {
  constructor(
    document: DocumentNode,
    variables: Record<string, unknown>,
    private readonly accepts: NonNullable<PlanOptions['accepts']>,
  ) {
    super(document, variables);
  }

  walkRoot(selectionSet: SelectionSetNode, demand: Demand): void {
    this.walkType('Query', selectionSet, { count: 1, ids: undefined }, demand);
  }

  /** The payload of one write, read afresh after it: the new record (in hand with the answer) and what it names. */
  walkPayload(typeName: string, field: FieldNode, demand: Demand): void {
    this.walkType(typeName, field.selectionSet, { count: 1, ids: undefined }, demand);
  }

  private walkType(typeName: string, selectionSet: SelectionSetNode | undefined, place: Place, demand: Demand): void {
    if (place.count === 0) return;
    for (const field of this.fields(selectionSet, typeName)) {
      const model = fieldModel(typeName, field.name.value);
      if (model) this.walkField(typeName, model, field, place, demand); // else __typename or introspection: no call
    }
  }

  /** `_entities`: each entity type's records, by the ids its representations give (rule 8), and what is below them. */
  private walkEntities(field: FieldNode, argument: string, demand: Demand): void {
    const idsByKind = new Map<OneRecordKind, Set<number>>();
    for (const representation of representationsOf(this.argument(field, argument))) {
      const reference = readRepresentation(representation);
      if (reference.refused) continue; // Refused at its index, with no call.
      const ids = idsByKind.get(reference.kind) ?? new Set();
      idsByKind.set(reference.kind, ids.add(reference.id));
    }
    for (const [kind, idSet] of idsByKind) {
      const ids = [...idSet];
      const { type, idIsKey } = RECORD_KINDS[kind];
      if (idIsKey) demand.add(kind, ids.length, ids, 'referenced');
      else demand.everyRecord[kind] = true; // Only the kind's list holds its records' own ids.
      this.walkType(type, field.selectionSet, { count: ids.length, ids: idIsKey ? ids : undefined }, demand);
    }
  }

  /** What one field demands below each record of `place`, as its model describes it. */
  private walkField(typeName: string, model: FieldModel, field: FieldNode, place: Place, demand: Demand): void {
    switch (model.kind) {
      case 'scalar':
      case 'computed':
      case 'scalarList':
      case 'service':
      case 'write': // planned by `planWithCosts`, payload and all
        return;
      case 'entities':
        return this.walkEntities(field, model.argument, demand);
      case 'part':
      case 'pageItems':
      case 'edgeNode':
        return this.walkType(model.type, field.selectionSet, place, demand);
      case 'written':
        return this.walkType(model.type, field.selectionSet, { count: place.count, ids: undefined }, demand);
      case 'relation': {
        // A record keyed by its parent's own key is named when its parent is.
        const ids = model.parentsKey ? place.ids : undefined;
        demand.add(model.to, place.count, ids);
        return this.walkType(model.type, field.selectionSet, { count: place.count, ids }, demand);
      }
      case 'recordById': {
        const id = positiveIntegerId(this.argument(field, model.argument));
        if (id === undefined) return; // The resolver refuses the id before any call.
        demand.add(model.to, 1, [id], 'named');
        return this.walkType(model.type, field.selectionSet, { count: 1, ids: [id] }, demand);
      }
      case 'list':
        demand.everyRecord[model.of] = true;
        return this.walkType(model.type, field.selectionSet, { count: 'many', ids: undefined }, demand);
      case 'file':
        demand.files = plus(demand.files, place.count);
        return;
      case 'page': {
        if (!this.accepts(typeName, field.name.value, this.arguments(field))) return;
        this.demandPage(model, field, place, demand);
        const count = times(place.count, this.pageCount(model, field));
        return this.walkType(model.type, field.selectionSet, { count, ids: undefined }, demand);
      }
      default:
        return unreachable(model);
    }
  }

  /** The records a page is cut from, below each record of `place`. */
  private demandPage(model: PageField<unknown>, field: FieldNode, place: Place, demand: Demand): void {
    switch (model.of) {
      case 'licenses': {
        // A filter on one assignment reads only that assignment's licences, and names it.
        const assignmentId = this.filterAssignmentId(field);
        if (assignmentId === undefined) demand.everyRecord.license = true;
        else demand.add('licensesOfAssignment', 1, [assignmentId], 'named');
        return;
      }
      case 'licensesOfParent': {
        const known = place.ids !== undefined && place.count !== 'many';
        return demand.add('licensesOfAssignment', place.count, known ? place.ids : undefined);
      }
      case 'details':
        demand.everyRecord.detail = true;
        return;
      default:
        return unreachable(model.of);
    }
  }

  private filterAssignmentId(field: FieldNode): number | undefined {
    const filter = this.argument(field, 'filter');
    return isRecord(filter) ? positiveIntegerId(filter.productAssignmentId) : undefined;
  }

  /** `first` bounds a page; without it (or with a value the resolver refuses), the page holds every item. */
  private pageCount(model: PageField<unknown>, field: FieldNode): Count {
    const first = this.argument(field, 'first');
    const bounded = typeof first === 'number' && Number.isInteger(first) && first >= 0 && first <= model.maxFirst;
    return bounded ? first : 'many';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function plus(a: Count, b: Count): Count {
  return a === 'many' || b === 'many' ? 'many' : a + b;
}

function times(a: Count, b: Count): Count {
  if (a === 0 || b === 0) return 0;
  return a === 'many' || b === 'many' ? 'many' : a * b;
}
