/**
 * The size of an operation's answer, known before the answer is built, so that no single request can exhaust
 * the server's memory.
 *
 * The relations cycle (`License.productAssignment.licenses`) lets a 150-byte query ask for 40 × 100 × 100 × 100
 * objects; depth, alias and token limits do not see it, and a static cost limit would need list sizes it does not
 * know. This server knows them: nearly all data of an operation comes from a few list calls. So an answer is
 * counted twice: estimated before any call, from the list sizes seen for this caller and the `first` arguments,
 * and counted exactly once the plan's lists are in, before anything is resolved.
 *
 * The rule: every object of the answer counts one, and every item of a list one (an object in a list counts
 * once). Before any call, a list with `first` counts as `first` items and one without as many as this caller's
 * last answers held (one, when none was seen); once the lists are in, every list counts what it will hold.
 *
 * Counting walks each distinct (selection, record) pair once, so it costs about what the lists hold, however
 * large the answer it counts: the 40-million-object answer is counted in milliseconds.
 */
import {
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  type DocumentNode,
  type FieldNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { createHmac, randomBytes } from 'node:crypto';
import { Selections } from '../planner/selections';
import { positiveIntegerId } from '../portal/endpoints';
import type { LicenseDetailWire, LicenseWire, ProductAssignmentWire } from '../portal/wireTypes';
import { noRecordIds, type KnownRecords, type RecordIds } from '../loaders/loaders';
import type { LicenseFilter, LicenseOrder } from '../generated/graphql';
import {
  checkLicenseFilter,
  checkPageArgs,
  licenseDetailOrdering,
  licenseMatches,
  licenseOrdering,
  paginate,
} from './connections';

/** How many records of each list a caller's last answers held. */
export interface ListSizes {
  assignments?: number;
  licenses?: number;
  details?: number;
}

/**
 * The shape of an operation's answer: its object-valued fields (and lists of scalars), merged by response key as
 * graphql-js merges them. Equal shapes are one object, so repeated fragments are counted once per record.
 */
export interface AnswerShape {
  readonly typeName: string;
  readonly fields: readonly ShapeField[];
}

interface ShapeField {
  readonly name: string;
  readonly args: Record<string, unknown>;
  /** The selected object's shape; undefined for a list of scalars. */
  readonly shape: AnswerShape | undefined;
}

/** Reads an operation's answer shape. The document must have passed validation against `schema`. */
export function answerShape(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
): AnswerShape {
  const root = schema.getRootType(operation.operation);
  if (!root) return { typeName: 'Query', fields: [] };
  return new ShapeReader(new Selections(document, variables ?? {})).read(root, [operation.selectionSet]);
}

class ShapeReader {
  /** Shapes by their selection sets' identity: a fragment spread in many places is read once per parent type. */
  private readonly bySelections = new Map<string, AnswerShape>();
  /** Shapes by their content: equal shapes become one object. */
  private readonly byContent = new Map<string, AnswerShape>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  constructor(private readonly selections: Selections) {}

  read(type: GraphQLObjectType, selectionSets: ReadonlyArray<FieldNode['selectionSet']>): AnswerShape {
    const key = `${type.name}:${selectionSets.map((set) => (set ? this.idOf(set) : 0)).join(',')}`;
    const known = this.bySelections.get(key);
    if (known) return known;
    const groups = new Map<string, FieldNode[]>();
    for (const set of selectionSets) {
      for (const field of this.selections.fields(set)) {
        const responseKey = field.alias?.value ?? field.name.value;
        const group = groups.get(responseKey);
        if (group) group.push(field);
        else groups.set(responseKey, [field]);
      }
    }
    const fields: ShapeField[] = [];
    for (const group of groups.values()) {
      const first = group[0]!;
      const name = first.name.value;
      if (name.startsWith('__')) continue; // __typename, and introspection (bounded by the schema's size)
      const definition = type.getFields()[name];
      if (!definition) continue;
      const nullable = getNullableType(definition.type);
      const named = getNamedType(definition.type);
      if (isObjectType(named)) {
        fields.push({
          name,
          args: this.selections.arguments(first),
          shape: this.read(
            named,
            group.map((field) => field.selectionSet),
          ),
        });
      } else if (isListType(nullable)) {
        fields.push({ name, args: {}, shape: undefined });
      }
    }
    const content = `${type.name}{${fields.map((field) => `${field.name}${JSON.stringify(field.args)}${field.shape ? `#${this.idOf(field.shape)}` : ''}`).join(',')}}`;
    let shape = this.byContent.get(content);
    if (!shape) {
      shape = { typeName: type.name, fields };
      this.byContent.set(content, shape);
    }
    this.bySelections.set(key, shape);
    return shape;
  }

  private idOf(node: object): number {
    let id = this.ids.get(node);
    if (id === undefined) this.ids.set(node, (id = this.nextId++));
    return id;
  }
}

/** An answer's count, and whether it is exact or stood in for records it did not have. */
export interface AnswerCount {
  objects: number;
  /** Records by id the count needed and did not have: once loaded, a new count is closer (empty: it is exact). */
  wanted: RecordIds;
  /** Whether some part was estimated from the sizes seen (a list not in hand, or records wanted). */
  estimated: boolean;
}

/**
 * Counts the objects and list items of an answer of `shape`, from the records in hand (`known`) and, for those not
 * in hand, from the sizes seen (`sizes`). Without `known`, the whole count is the estimate made before any call.
 * Records asked for before (`tried`) and still not in hand failed to load: their fields will be null.
 */
export function countAnswer(
  shape: AnswerShape,
  known: KnownRecords | undefined,
  sizes: ListSizes,
  tried: RecordIds = noRecordIds(),
): AnswerCount {
  const records = new AnswerRecords(known, sizes, tried);
  const objects = new AnswerCounter(records).count(shape, ROOT);
  return { objects, wanted: records.wanted, estimated: records.estimated };
}

class AnswerCounter {
  private readonly counted = new Map<AnswerShape, Map<object, number>>();

  constructor(private readonly records: AnswerRecords) {}

  /** Objects and list items below `record`, as selected by `shape`. */
  count(shape: AnswerShape, record: object): number {
    let byRecord = this.counted.get(shape);
    if (!byRecord) this.counted.set(shape, (byRecord = new Map<object, number>()));
    const known = byRecord.get(record);
    if (known !== undefined) return known;
    let total = 0;
    for (const field of shape.fields) {
      if (!field.shape) {
        total += this.records.scalarItems(shape.typeName, field.name, record);
        continue;
      }
      for (const { record: child, weight } of this.records.values(shape.typeName, field.name, record, field.args)) {
        total += weight * (1 + this.count(field.shape, child));
      }
    }
    byRecord.set(record, total);
    return total;
  }
}

/** A record the counter stands in for without having it: one of a kind, counted from the sizes seen. */
class Estimated {
  constructor(readonly kind: string) {}
}

const ROOT = new Estimated('root');
const ASSIGNMENT = new Estimated('assignment');
const LICENSE = new Estimated('license');
const DETAIL = new Estimated('detail');
const OTHER = new Estimated('other');

/** A connection's page: the records it will hold, or how many it is estimated to hold. */
class PageOf {
  constructor(
    readonly records: readonly object[] | undefined,
    readonly estimated: { record: Estimated; items: number },
  ) {}

  items(): Weighted[] {
    return this.records ? this.records.map(one) : [{ record: this.estimated.record, weight: this.estimated.items }];
  }
}

/** Records a field holds, each with how many it stands for. */
interface Weighted {
  record: object;
  weight: number;
}

function one(record: object): Weighted {
  return { record, weight: 1 };
}

/** What each field of the schema holds, by the same rules as its resolver, from the records in hand. */
class AnswerRecords {
  readonly wanted = noRecordIds();
  estimated = false;

  constructor(
    private readonly known: KnownRecords | undefined,
    private readonly sizes: ListSizes,
    private readonly tried: RecordIds,
  ) {}

  values(typeName: string, fieldName: string, record: object, args: Record<string, unknown>): Weighted[] {
    const parent = record instanceof Estimated ? undefined : record;
    switch (`${typeName}.${fieldName}`) {
      case 'Query.productAssignments':
        return this.known?.assignments?.map(one) ?? [this.estimate(ASSIGNMENT, this.sizes.assignments ?? 1)];
      case 'Query.productAssignment':
        return this.byId('assignments', args.id, ASSIGNMENT, (id) => this.known?.assignment(id));
      case 'Query.license':
        return this.byId('licenses', args.id, LICENSE, (id) => this.known?.license(id));
      case 'Query.licenseDetail':
        return this.byId('details', args.licenseId, DETAIL, (id) => this.known?.detail(id));
      case 'Query.licenses':
        return this.licensePage(args, undefined);
      case 'ProductAssignment.licenses':
        return this.licensePage(args, (parent as ProductAssignmentWire | undefined) ?? ASSIGNMENT);
      case 'Query.licenseDetails':
        return this.detailPage(args);
      case 'LicenseConnection.nodes':
      case 'LicenseConnection.edges':
      case 'LicenseDetailConnection.nodes':
      case 'LicenseDetailConnection.edges':
        return (record as PageOf).items(); // an edge is counted as its node's record: its own shape tells them apart
      case 'LicenseEdge.node':
      case 'LicenseDetailEdge.node':
        return [one(record)];
      case 'License.productAssignment':
        return parent
          ? this.byId('assignments', (parent as LicenseWire).product_assignment_id, ASSIGNMENT, (id) =>
              this.known?.assignment(id),
            )
          : [one(ASSIGNMENT)];
      case 'License.detail':
        return parent
          ? this.byId('details', (parent as LicenseWire).id, DETAIL, (id) => this.known?.detail(id))
          : [one(DETAIL)];
      case 'LicenseDetail.license':
        return parent
          ? this.byId('licenses', (parent as LicenseDetailWire).license_id, LICENSE, (id) => this.known?.license(id))
          : [one(LICENSE)];
      case 'GenerateLicensePayload.license':
        return [one(LICENSE)];
      case 'GenerateLicensePayload.productAssignment':
        return [one(ASSIGNMENT)];
      default:
        return [one(OTHER)]; // pageInfo, file, generateLicense's payload: one object each
    }
  }

  /**
   * Items of a list of scalars (a detail's products and hwids); none for a record not in hand, so that an estimate
   * stays below the count (a universal licence's detail has no hwid).
   */
  scalarItems(typeName: string, fieldName: string, record: object): number {
    if (typeName !== 'LicenseDetail' || record instanceof Estimated) return 0;
    const detail = record as LicenseDetailWire;
    return fieldName === 'products' ? detail.products.length : fieldName === 'hwids' ? detail.hwids.length : 0;
  }

  /**
   * A record by id: the record in hand; none when the id is refused or the record failed to load (its field is
   * null); else a stand-in, and the record is wanted for the next count.
   */
  private byId(
    kind: keyof RecordIds,
    id: unknown,
    standIn: Estimated,
    find: (id: number) => object | undefined,
  ): Weighted[] {
    const checked = positiveIntegerId(id);
    if (checked === undefined) return [];
    const found = find(checked);
    if (found) return [one(found)];
    if (this.known && this.tried[kind].has(checked)) return [];
    if (this.known) this.wanted[kind].add(checked);
    return [this.estimate(standIn, 1)];
  }

  private estimate(standIn: Estimated, weight: number): Weighted {
    this.estimated = true;
    return { record: standIn, weight };
  }

  /** A licence page, as `licensesPage` makes it: nested under `parent`, or at the root when it is undefined. */
  private licensePage(
    args: Record<string, unknown>,
    parent: ProductAssignmentWire | Estimated | undefined,
  ): Weighted[] {
    let filter;
    let ordering;
    let page;
    try {
      filter = checkLicenseFilter(args.filter as LicenseFilter | undefined);
      ordering = licenseOrdering(args.orderBy as LicenseOrder | undefined);
      page = checkPageArgs(ordering, args.first as number | undefined, args.after as string | undefined);
    } catch {
      return []; // The resolver refuses the arguments: the field is null.
    }
    const filtered = Object.keys(filter).length > 0;
    const licenses = this.licensesFor(parent, filter.productAssignmentId);
    if (licenses === null) return [];
    if (licenses) {
      const matching = filtered ? licenses.filter((license) => licenseMatches(license, filter)) : licenses;
      const nodes =
        page.first === undefined && page.after === undefined
          ? matching
          : paginate(matching, ordering, page).edges.map((edge) => edge.node);
      return [one(new PageOf(nodes, { record: LICENSE, items: nodes.length }))];
    }
    this.estimated = true;
    const { assignments, licenses: all } = this.sizes;
    const perAssignment = all !== undefined && assignments ? all / assignments : 1;
    const seen =
      parent !== undefined || filter.productAssignmentId !== undefined ? perAssignment : filtered ? 1 : (all ?? 1);
    return [one(new PageOf(undefined, { record: LICENSE, items: page.first ?? seen }))];
  }

  /**
   * The licences a page is cut from: the parent assignment's, the filter's assignment's, or all; undefined when not
   * in hand (and wanted), null when they failed to load under a parent (the field is null; at the root, a filter
   * on a foreign assignment is an empty page, as `licensesPage` answers).
   */
  private licensesFor(
    parent: ProductAssignmentWire | Estimated | undefined,
    filterAssignmentId: number | undefined,
  ): readonly LicenseWire[] | null | undefined {
    if (parent instanceof Estimated) return undefined;
    if (parent !== undefined && filterAssignmentId !== undefined && filterAssignmentId !== parent.id) return [];
    const assignmentId = parent?.id ?? filterAssignmentId;
    if (assignmentId === undefined) return this.known?.licenses;
    const licenses = this.known?.licensesOf(assignmentId);
    if (licenses || !this.known) return licenses;
    if (!this.tried.licensesOf.has(assignmentId)) {
      this.wanted.licensesOf.add(assignmentId);
      return undefined;
    }
    return parent === undefined ? [] : null;
  }

  private detailPage(args: Record<string, unknown>): Weighted[] {
    let page;
    try {
      page = checkPageArgs(licenseDetailOrdering, args.first as number | undefined, args.after as string | undefined);
    } catch {
      return [];
    }
    const details = this.known?.details;
    if (details) {
      const nodes =
        page.first === undefined && page.after === undefined
          ? details
          : paginate(details, licenseDetailOrdering, page).edges.map((edge) => edge.node);
      return [one(new PageOf(nodes, { record: DETAIL, items: nodes.length }))];
    }
    this.estimated = true;
    return [one(new PageOf(undefined, { record: DETAIL, items: page.first ?? this.sizes.details ?? 1 }))];
  }
}

/** The list sizes a request's records show, for the next estimate. */
export function listSizesOf(known: KnownRecords | undefined): ListSizes {
  const sizes: ListSizes = {};
  if (known?.assignments) sizes.assignments = known.assignments.length;
  if (known?.licenses) sizes.licenses = known.licenses.length;
  if (known?.details) sizes.details = known.details.length;
  return sizes;
}

/**
 * The list sizes last seen per caller, for estimates before any call. Keyed by an HMAC of the caller's
 * `Authorization` header under a per-process secret (no credential is kept); at most `maxCallers` of them, the
 * least recently seen dropped first.
 */
export class ListSizeMemory {
  private readonly byCaller = new Map<string, ListSizes>();
  private readonly secret = randomBytes(32);

  constructor(private readonly maxCallers = 10_000) {}

  /** The key of a caller's sizes. */
  callerKey(authorization: string | undefined): string {
    return createHmac('sha256', this.secret)
      .update(authorization ?? '')
      .digest('base64url');
  }

  get(callerKey: string): ListSizes {
    const sizes = this.byCaller.get(callerKey);
    if (!sizes) return {};
    this.byCaller.delete(callerKey);
    this.byCaller.set(callerKey, sizes); // most recently seen last
    return sizes;
  }

  /** Keeps the sizes a request saw, beside what was seen before of the lists it did not fetch. */
  remember(callerKey: string, seen: ListSizes): void {
    if (seen.assignments === undefined && seen.licenses === undefined && seen.details === undefined) return;
    const sizes = { ...this.byCaller.get(callerKey), ...seen };
    this.byCaller.delete(callerKey);
    this.byCaller.set(callerKey, sizes);
    if (this.byCaller.size > this.maxCallers) this.byCaller.delete(this.byCaller.keys().next().value!);
  }

  size(): number {
    return this.byCaller.size;
  }
}

/**
 * The last line behind the count: list items handed out while resolving, for answers the count could not see
 * in full (a mutation's payload, records no list brought). Past the limit, lists resolve empty and the operation
 * is answered RESULT_TOO_LARGE, so that resolving stops growing the answer at once.
 */
export class ItemAllowance {
  private taken = 0;
  private exceeded = false;

  constructor(readonly limit: number) {}

  /** Whether `items` more list items fit; once a list did not, none does. */
  take(items: number): boolean {
    if (this.exceeded) return false;
    this.taken += items;
    this.exceeded = this.taken > this.limit;
    return !this.exceeded;
  }

  /** The items handed out or refused so far, when the limit was passed; undefined while it holds. */
  overrun(): number | undefined {
    return this.exceeded ? this.taken : undefined;
  }
}
