/**
 * The query planner: reads an operation's shape before anything is fetched, and decides which portal calls it
 * will make. Its plan serves twice: the loaders start every call it names at once (so independent calls go out
 * together, a three-level query costs about one round trip), and its estimate is checked against the budget
 * (so one request cannot flood the portal).
 *
 * The rules, decided here and followed by `src/loaders/portalLoaders.ts`:
 *
 * 1. Each kind of record has a list endpoint and a show endpoint. Records of a kind demanded under a list whose
 *    length is unknown, or more than `SHOW_CALLS_THRESHOLD` of them, come from the one list call; up to the
 *    threshold, from parallel show calls. So `license(id: 5)` never downloads the whole list, and 500 aliased
 *    `license(id:)` fields are one list call.
 * 2. Licences of several assignments (or of assignments under a list) come from the one grouped call
 *    `license.byAssignment.list`. It carries every assignment and every licence of the caller too, so once it is
 *    planned, assignments and licences come from it and their own lists are not called.
 * 3. Licences of one or a few known assignments come from `license.byAssignment.show`, unless the licence list
 *    is fetched anyway (then they are grouped from it).
 * 4. Records whose ids the operation names (`license(id: 5) { detail }` names detail 5) are fetched at once,
 *    beside the root call, instead of after it.
 * 5. Licence files have no list endpoint: one download per licence. Under a list of unknown length that is
 *    unbounded, so the estimate is infinite and the budget refuses it; `first` bounds it.
 * 6. `generateLicense` is one call (two with an `idempotencyKey`: the assignment's licences are noted first), and
 *    its payload is read afresh after it, with show calls.
 *
 * The estimate counts calls the plan makes when every id is the caller's. An id that is not (another
 * customer's, or none) costs at most `SHOW_CALLS_THRESHOLD` more show calls per kind, to give the portal's own
 * answer for it; the estimate leaves those out, as "500 aliases are one list call" asks.
 */
import {
  OperationTypeNode,
  type DocumentNode,
  type FieldNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { positiveIntegerId } from '../portal/endpoints';
import { Selections } from './selections';

/** Most ids of one kind fetched by parallel show calls; past it, one list call serves them all. */
export const SHOW_CALLS_THRESHOLD = 3;

/** How many records a selection stands for: a number, or `many` under a list of unknown length. */
type Count = number | 'many';

/** The kinds of record the portal serves by id. */
type RecordKind = 'assignment' | 'license' | 'detail' | 'licensesOfAssignment';

/** The plan of one operation. */
export interface OperationPlan {
  /** List calls to start as the operation starts. */
  lists: { grouped: boolean; assignments: boolean; licenses: boolean; details: boolean };
  /** Records the operation names by id, to start as the operation starts (only kinds served by show calls). */
  knownIds: Record<RecordKind, number[]>;
  /** Upstream calls the plan makes, by endpoint. `Infinity` when unbounded. */
  estimate: Record<string, number>;
  /** The sum of `estimate`. */
  estimatedCalls: number;
}

interface KindDemand {
  /** Ids named by the operation. */
  ids: Set<number>;
  /** Records whose ids are known only once a parent is fetched. */
  unknown: Count;
}

/** What one operation (or one mutation payload, read afresh after its write) asks of the portal. */
class Demand {
  readonly kinds: Record<RecordKind, KindDemand> = {
    assignment: { ids: new Set(), unknown: 0 },
    license: { ids: new Set(), unknown: 0 },
    detail: { ids: new Set(), unknown: 0 },
    licensesOfAssignment: { ids: new Set(), unknown: 0 },
  };
  rootAssignments = false;
  rootLicenses = false;
  rootDetails = false;
  files: Count = 0;

  add(kind: RecordKind, count: Count, ids: readonly number[] | undefined): void {
    const demand = this.kinds[kind];
    if (ids) for (const id of ids) demand.ids.add(id);
    else demand.unknown = plus(demand.unknown, count);
  }
}

/** A selection's place: the type it selects on, how many records it stands for, and their ids when known. */
interface Place {
  count: Count;
  ids: number[] | undefined;
}

export interface PlanOptions {
  threshold?: number;
  /**
   * Whether a field's arguments will be accepted by its resolver. A field whose arguments will be refused is left
   * out of the plan with everything below it, so that input refused before any call costs no call at all.
   */
  accepts?: (typeName: string, fieldName: string, args: Record<string, unknown>) => boolean;
}

/**
 * Plans an operation. Never throws on a document that passed validation; arguments that do not parse are left
 * out (their resolver refuses them before any call).
 */
export function planOperation(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  options: PlanOptions = {},
): OperationPlan {
  const threshold = options.threshold ?? SHOW_CALLS_THRESHOLD;
  const walker = new Walker(document, variables ?? {}, options.accepts ?? (() => true));
  const reads = new Demand();
  const estimate: Record<string, number> = {};
  const addCalls = (endpoint: string, calls: number) => {
    if (calls > 0) estimate[endpoint] = (estimate[endpoint] ?? 0) + calls;
  };

  if (operation.operation === OperationTypeNode.MUTATION) {
    for (const field of walker.fields(operation.selectionSet)) {
      if (field.name.value !== 'generateLicense') continue;
      addCalls('license.generate', 1);
      const input = walker.argument(field, 'input');
      if (isRecord(input) && input.idempotencyKey != null) addCalls('license.byAssignment.show', 1);
      // The payload is read after the write, from emptied loaders: its own small demand, planned on its own.
      const payload = new Demand();
      walker.walkPayload(field, payload);
      const resolved = resolveDemand(payload, threshold);
      for (const [endpoint, calls] of Object.entries(resolved.estimate)) addCalls(endpoint, calls);
    }
  } else {
    walker.walkRoot(operation.selectionSet, reads);
  }

  const plan = resolveDemand(reads, threshold);
  for (const [endpoint, calls] of Object.entries(plan.estimate)) addCalls(endpoint, calls);
  const estimatedCalls = Object.values(estimate).reduce((sum, calls) => sum + calls, 0);
  return { lists: plan.lists, knownIds: plan.knownIds, estimate, estimatedCalls };
}

/** Applies the rules of this module's header to a demand. */
function resolveDemand(demand: Demand, threshold: number): Omit<OperationPlan, 'estimatedCalls'> {
  const estimate: Record<string, number> = {};
  const knownIds: Record<RecordKind, number[]> = { assignment: [], license: [], detail: [], licensesOfAssignment: [] };
  const exceeds = (kind: KindDemand) => kind.unknown === 'many' || kind.ids.size + kind.unknown > threshold;
  const demanded = (kind: KindDemand) => kind.unknown === 'many' || kind.ids.size + kind.unknown > 0;
  const shows = (kind: RecordKind, endpoint: string) => {
    const { ids, unknown } = demand.kinds[kind];
    knownIds[kind] = [...ids];
    if (ids.size + (unknown as number) > 0) estimate[endpoint] = ids.size + (unknown as number);
  };

  const { assignment, license, detail, licensesOfAssignment } = demand.kinds;
  const grouped = exceeds(licensesOfAssignment);
  const licenses = !grouped && (demand.rootLicenses || exceeds(license));
  const assignments = !grouped && (demand.rootAssignments || exceeds(assignment));
  const details = demand.rootDetails || exceeds(detail);

  if (grouped) estimate['license.byAssignment.list'] = 1;
  if (licenses) estimate['license.list'] = 1;
  if (assignments) estimate['productAssignment.list'] = 1;
  if (details) estimate['licenseDetail.list'] = 1;
  if (!grouped && !licenses && demanded(licensesOfAssignment))
    shows('licensesOfAssignment', 'license.byAssignment.show');
  if (!grouped && !licenses && demanded(license)) shows('license', 'license.show');
  if (!grouped && !assignments && demanded(assignment)) shows('assignment', 'productAssignment.show');
  if (!details && demanded(detail)) shows('detail', 'licenseDetail.show');
  if (demand.files !== 0) estimate['licenseDetail.download'] = demand.files === 'many' ? Infinity : demand.files;

  return { lists: { grouped, assignments, licenses, details }, knownIds, estimate };
}

/** Walks selection sets by the schema's types, expanding fragments and honouring `@skip` and `@include`. */
class Walker extends Selections {
  constructor(
    document: DocumentNode,
    variables: Record<string, unknown>,
    private readonly accepts: NonNullable<PlanOptions['accepts']>,
  ) {
    super(document, variables);
  }

  walkRoot(selectionSet: SelectionSetNode, demand: Demand): void {
    for (const field of this.fields(selectionSet)) {
      if (!this.accepted('Query', field)) continue;
      switch (field.name.value) {
        case 'productAssignments':
          demand.rootAssignments = true;
          this.walkType('ProductAssignment', field.selectionSet, { count: 'many', ids: undefined }, demand);
          break;
        case 'productAssignment':
          this.named(demand, 'assignment', 'ProductAssignment', field, this.idArgument(field, 'id'));
          break;
        case 'licenses': {
          const assignmentId = this.filterAssignmentId(field);
          if (assignmentId === undefined) demand.rootLicenses = true;
          else demand.add('licensesOfAssignment', 1, [assignmentId]);
          this.walkType(
            'LicenseConnection',
            field.selectionSet,
            { count: this.pageCount(field, 'many'), ids: undefined },
            demand,
          );
          break;
        }
        case 'license':
          this.named(demand, 'license', 'License', field, this.idArgument(field, 'id'));
          break;
        case 'licenseDetails':
          demand.rootDetails = true;
          this.walkType(
            'LicenseDetailConnection',
            field.selectionSet,
            { count: this.pageCount(field, 'many'), ids: undefined },
            demand,
          );
          break;
        case 'licenseDetail':
          this.named(demand, 'detail', 'LicenseDetail', field, this.idArgument(field, 'licenseId'));
          break;
        default:
          break; // __typename and introspection cost nothing.
      }
    }
  }

  /** The payload of one `generateLicense`: the new licence (its id unknown until then) and the assignment. */
  walkPayload(field: FieldNode, demand: Demand): void {
    for (const child of this.fields(field.selectionSet)) {
      if (child.name.value === 'license')
        this.walkType('License', child.selectionSet, { count: 1, ids: undefined }, demand);
      if (child.name.value === 'productAssignment') {
        demand.add('assignment', 1, undefined);
        this.walkType('ProductAssignment', child.selectionSet, { count: 1, ids: undefined }, demand);
      }
    }
  }

  private accepted(typeName: string, field: FieldNode): boolean {
    return this.accepts(typeName, field.name.value, this.arguments(field));
  }

  private walkType(typeName: string, selectionSet: SelectionSetNode | undefined, place: Place, demand: Demand): void {
    if (place.count === 0) return;
    for (const field of this.fields(selectionSet)) {
      const name = field.name.value;
      switch (typeName) {
        case 'LicenseConnection':
        case 'LicenseDetailConnection': {
          const nodeType = typeName === 'LicenseConnection' ? 'License' : 'LicenseDetail';
          if (name === 'nodes') this.walkType(nodeType, field.selectionSet, place, demand);
          if (name === 'edges') this.walkType(`${nodeType}Edge`, field.selectionSet, place, demand);
          break;
        }
        case 'LicenseEdge':
        case 'LicenseDetailEdge':
          if (name === 'node')
            this.walkType(typeName === 'LicenseEdge' ? 'License' : 'LicenseDetail', field.selectionSet, place, demand);
          break;
        case 'ProductAssignment':
          if (name === 'licenses' && this.accepted(typeName, field)) {
            const known = place.ids !== undefined && place.count !== 'many';
            demand.add('licensesOfAssignment', place.count, known ? place.ids : undefined);
            const count = times(place.count, this.pageCount(field, 'many'));
            this.walkType('LicenseConnection', field.selectionSet, { count, ids: undefined }, demand);
          }
          break;
        case 'License':
          if (name === 'productAssignment') {
            demand.add('assignment', place.count, undefined);
            this.walkType('ProductAssignment', field.selectionSet, { count: place.count, ids: undefined }, demand);
          }
          if (name === 'detail') {
            // A detail is keyed by its licence's id, so a licence named by id names its detail too.
            demand.add('detail', place.count, place.ids);
            this.walkType('LicenseDetail', field.selectionSet, place, demand);
          }
          break;
        case 'LicenseDetail':
          if (name === 'license') {
            demand.add('license', place.count, place.ids);
            this.walkType('License', field.selectionSet, place, demand);
          }
          if (name === 'file') demand.files = plus(demand.files, place.count);
          break;
        default:
          break;
      }
    }
  }

  /** A root field that names its record by id; `ids` of a License or LicenseDetail place are licence ids. */
  private named(demand: Demand, kind: RecordKind, typeName: string, field: FieldNode, id: number | undefined): void {
    if (id === undefined) return; // The resolver refuses the id before any call.
    demand.add(kind, 1, [id]);
    this.walkType(typeName, field.selectionSet, { count: 1, ids: [id] }, demand);
  }

  private idArgument(field: FieldNode, name: string): number | undefined {
    return positiveIntegerId(this.argument(field, name));
  }

  private filterAssignmentId(field: FieldNode): number | undefined {
    const filter = this.argument(field, 'filter');
    return isRecord(filter) ? positiveIntegerId(filter.productAssignmentId) : undefined;
  }

  /** `first` bounds a connection's page; without it (or with a value the resolver refuses), `fallback`. */
  private pageCount(field: FieldNode, fallback: Count): Count {
    const first = this.argument(field, 'first');
    return typeof first === 'number' && Number.isInteger(first) && first >= 0 && first <= 1000 ? first : fallback;
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
