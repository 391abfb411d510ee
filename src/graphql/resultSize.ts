/**
 * The size of an operation's answer, known before the answer is built, so that no single request can exhaust
 * the server's memory: estimated before any call, from this caller's list sizes seen before and the `first`
 * arguments, and counted exactly once the plan's lists are in, before anything is resolved.
 *
 * The rule (the README's "Bounded answers"): every object of the answer counts one, and every item of a list one
 * (an object in a list counts once). Counting walks each distinct (selection, record) pair once, so it costs about
 * what the lists hold, however large the answer it counts.
 */
import { LRUCache } from 'lru-cache';
import {
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  isUnionType,
  type DocumentNode,
  type FieldNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { Selections } from '../planner/selections';
import { positiveIntegerId } from '../portal/endpoints';
import type { LicenseWire, ProductAssignmentWire } from '../portal/wireTypes';
import { readRepresentation, representationsOf } from '../schema/entities';
import { noRecordIds, type KnownRecords, type RecordIds } from '../loaders/loaders';
import { RECORD_KINDS, type ListSizes, type OneRecordKind } from '../schema/recordKinds';
import { fieldModel, holdsOneRecord, unreachable, type FieldModel, type PageField } from '../schema/schemaModel';
import {
  checkLicensePageArgs,
  checkPageArgs,
  licenseDetailOrdering,
  LicensePages,
  paginate,
  type LicensePageArgs,
  type PageArgs,
} from './connections';

export type { ListSizes };

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
  /** The selected object's shape; undefined for a list of scalars, or a union's. */
  readonly shape: AnswerShape | undefined;
  /** A union's (`_entities`'): the shape selected on each of its types. */
  readonly variants?: ReadonlyMap<string, AnswerShape>;
}

/**
 * Shapes of operations without variables, by operation: such a shape depends on nothing but the document, and Apollo
 * hands the same parsed document to every request of the same query text while its document cache holds it.
 */
const shapesOfConstantOperations = new WeakMap<OperationDefinitionNode, AnswerShape>();

/** Reads an operation's answer shape. The document must have passed validation against `schema`. */
export function answerShape(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
): AnswerShape {
  const constant = !operation.variableDefinitions?.length;
  const known = constant ? shapesOfConstantOperations.get(operation) : undefined;
  if (known) return known;
  const root = schema.getRootType(operation.operation);
  if (!root) return { typeName: 'Query', fields: [] };
  const shape = new ShapeReader(schema, new Selections(document, variables ?? {})).read(root, [operation.selectionSet]);
  if (constant) shapesOfConstantOperations.set(operation, shape);
  return shape;
}

class ShapeReader {
  /** Shapes by their selection sets' identity: a fragment spread in many places is read once per parent type. */
  private readonly bySelections = new Map<string, AnswerShape>();
  /** Shapes by their content: equal shapes become one object. */
  private readonly byContent = new Map<string, AnswerShape>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly selections: Selections,
  ) {}

  read(type: GraphQLObjectType, selectionSets: ReadonlyArray<FieldNode['selectionSet']>): AnswerShape {
    const key = `${type.name}:${selectionSets.map((set) => (set ? this.idOf(set) : 0)).join(',')}`;
    const known = this.bySelections.get(key);
    if (known) return known;
    const groups = new Map<string, FieldNode[]>();
    for (const set of selectionSets) {
      for (const field of this.selections.fields(set, type.name)) {
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
      } else if (isUnionType(named)) {
        const sets = group.map((field) => field.selectionSet);
        const variants = new Map(
          this.schema.getPossibleTypes(named).map((member) => [member.name, this.read(member, sets)]),
        );
        fields.push({ name, args: this.selections.arguments(first), shape: undefined, variants });
      } else if (isListType(nullable)) {
        fields.push({ name, args: {}, shape: undefined });
      }
    }
    const content = `${type.name}{${fields.map((field) => `${field.name}${JSON.stringify(field.args)}${this.shapeIds(field)}`).join(',')}}`;
    let shape = this.byContent.get(content);
    if (!shape) {
      shape = { typeName: type.name, fields };
      this.byContent.set(content, shape);
    }
    this.bySelections.set(key, shape);
    return shape;
  }

  /** The ids of the shapes a field selects, for its content's key. */
  private shapeIds(field: ShapeField): string {
    if (field.shape) return `#${this.idOf(field.shape)}`;
    if (field.variants) return [...field.variants].map(([type, shape]) => `#${type}${this.idOf(shape)}`).join('');
    return '';
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
  pages: LicensePages = new LicensePages(),
): AnswerCount {
  const records = new AnswerRecords(known, sizes, tried, pages);
  const objects = new AnswerCounter(records).counterOf(shape)(ROOT);
  return { objects, wanted: records.wanted, estimated: records.estimated };
}

/** The objects and list items below one record. */
type RecordCount = (record: object) => number;

/**
 * Counts by a shape turned into functions once per count: each field's rule is chosen once, not once per record,
 * so that counting 5,000 records allocates next to nothing.
 */
class AnswerCounter {
  private readonly counters = new Map<AnswerShape, RecordCount>();

  constructor(private readonly records: AnswerRecords) {}

  /** Objects and list items below a record, as selected by `shape`. */
  counterOf(shape: AnswerShape): RecordCount {
    let counter = this.counters.get(shape);
    if (!counter) this.counters.set(shape, (counter = this.compile(shape)));
    return counter;
  }

  private compile(shape: AnswerShape): RecordCount {
    if (shape.fields.length === 0) return () => 0;
    const fields = shape.fields.map((field) => this.fieldCounter(shape.typeName, field));
    const countFields = (record: object) => {
      let total = 0;
      for (const field of fields) total += field(record);
      return total;
    };
    if (!readsLists(shape)) return countFields;
    // Each record is counted once per shape: the relations cycle reaches the same records again and again.
    const counted = new Map<object, number>();
    return (record) => {
      let total = counted.get(record);
      if (total === undefined) counted.set(record, (total = countFields(record)));
      return total;
    };
  }

  private fieldCounter(typeName: string, field: ShapeField): RecordCount {
    if (field.variants) return this.unionCounter(typeName, field, field.variants);
    if (!field.shape) return this.records.scalarItems(typeName, field.name);
    const below = this.counterOf(field.shape);
    const read = this.records.reader(typeName, field.name, field.args);
    return (record) => {
      const held = read(record);
      if (held === undefined) return 0;
      if (isList(held)) {
        let total = held.length;
        for (const child of held) total += below(child);
        return total;
      }
      if (held instanceof Several) return held.weight * (1 + below(held.record));
      return 1 + below(held);
    };
  }

  /** A list of a union's members (`_entities`): each item counts one, and what its own type's shape selects below it. */
  private unionCounter(typeName: string, field: ShapeField, variants: ReadonlyMap<string, AnswerShape>): RecordCount {
    const below = new Map([...variants].map(([member, shape]) => [member, this.counterOf(shape)]));
    const read = this.records.reader(typeName, field.name, field.args);
    return (record) => {
      const held = read(record);
      if (!isList(held)) return 0;
      let total = held.length;
      for (const item of held) {
        if (!(item instanceof OfType) || item.held === undefined) continue; // null at its index
        const count = below.get(item.typeName);
        if (count) total += count(item.held);
      }
      return total;
    };
  }
}

/**
 * Whether counting below a record of `shape` reads a list: any field but a list of scalars or one record. Below a
 * field that holds at most one record (found by its id or its parent), a shape that reads no list is counted in
 * steps bounded by the query's size, faster than its records could be looked up.
 */
function readsLists(shape: AnswerShape): boolean {
  return shape.fields.some(
    (field) =>
      field.variants !== undefined ||
      (field.shape !== undefined &&
        (!holdsOneRecord(describedField(shape.typeName, field.name)) || readsLists(field.shape))),
  );
}

/** A field of the answer's shape, as the schema model describes it; the shape holds no field the schema lacks. */
function describedField(typeName: string, fieldName: string): FieldModel {
  const model = fieldModel(typeName, fieldName);
  if (!model) throw new Error(`${typeName}.${fieldName} is not described in the schema model`);
  return model;
}

/** A record the counter stands in for without having it: one of a kind, counted from the sizes seen. */
class Estimated {
  constructor(readonly kind: OneRecordKind | 'root' | 'other') {}
}

const ROOT = new Estimated('root');
const ASSIGNMENT = new Estimated('assignment');
const LICENSE = new Estimated('license');
const DETAIL = new Estimated('detail');
const OTHER = new Estimated('other');
const STAND_INS: { readonly [Kind in OneRecordKind]: Estimated } = {
  assignment: ASSIGNMENT,
  license: LICENSE,
  detail: DETAIL,
};

/** A stand-in counted as `weight` records: a list not in hand. */
class Several {
  constructor(
    readonly record: Estimated,
    readonly weight: number,
  ) {}
}

/** An item of a union's list: a record (or a stand-in for one) and its type; nothing when it will be null. */
class OfType {
  constructor(
    readonly typeName: string,
    readonly held: object | undefined,
  ) {}
}

/**
 * What a field holds below one record: a record (or a stand-in for one), a list of them, several stand-ins, or
 * nothing (the field is null, or an empty list).
 */
type Held = object | readonly object[] | Several | undefined;

function isList(held: Held): held is readonly object[] {
  return Array.isArray(held);
}

/** A connection's page: the records it will hold, or a stand-in for as many as it is estimated to hold. */
class PageOf {
  constructor(readonly nodes: readonly object[] | Several) {}
}

/** What each field of the schema holds, by the same rules as its resolver, from the records in hand. */
class AnswerRecords {
  readonly wanted = noRecordIds();
  estimated = false;

  constructor(
    private readonly known: KnownRecords | undefined,
    private readonly sizes: ListSizes,
    private readonly tried: RecordIds,
    private readonly pages: LicensePages,
  ) {}

  /** What a field holds below each record of its parent type; its arguments are read once, here. */
  reader(typeName: string, fieldName: string, args: Record<string, unknown>): (record: object) => Held {
    const model = describedField(typeName, fieldName);
    switch (model.kind) {
      case 'list': {
        const { list } = RECORD_KINDS[model.of];
        const standIn = STAND_INS[model.of];
        return () => this.known?.[list] ?? this.estimate(standIn, this.sizes[list] ?? 1);
      }
      case 'recordById': {
        const id = positiveIntegerId(args[model.argument]);
        return () => this.byId(model.to, id);
      }
      case 'page':
        return this.pageReader(model.of, args);
      case 'pageItems':
        return (record) => (record as PageOf).nodes; // an edge is counted as its node's record: its own shape tells them apart
      case 'edgeNode':
        return (record) => record;
      // A wire record's keys were checked when it arrived: they are positive integers.
      case 'relation':
        return (record) => (record instanceof Estimated ? STAND_INS[model.to] : this.byId(model.to, model.key(record)));
      case 'written':
        return () => STAND_INS[model.to];
      case 'entities': {
        const references = representationsOf(args[model.argument]).map(readRepresentation);
        return () =>
          references.map((reference) =>
            reference.refused
              ? new OfType('', undefined)
              : new OfType(reference.type, this.entity(reference.kind, reference.id) as object | undefined),
          );
      }
      case 'write':
      case 'part':
      case 'file':
      case 'service':
        return () => OTHER; // one object each
      case 'scalar':
      case 'computed':
      case 'scalarList':
        throw new Error(
          `${typeName}.${fieldName} is described as a scalar in the schema model, but has an object type`,
        );
      default:
        return unreachable(model);
    }
  }

  /** A page, as its resolver cuts it from the records in hand. */
  private pageReader(of: PageField<unknown>['of'], args: Record<string, unknown>): (record: object) => Held {
    switch (of) {
      case 'licenses':
        return this.licensePage(args, () => undefined);
      case 'licensesOfParent':
        return this.licensePage(args, (record) =>
          record instanceof Estimated ? ASSIGNMENT : (record as ProductAssignmentWire),
        );
      case 'details':
        return this.detailPage(args);
      default:
        return unreachable(of);
    }
  }

  /**
   * Items of a list of scalars (a detail's products and hwids); none for a record not in hand, so that an estimate
   * stays below the count (a universal licence's detail has no hwid).
   */
  scalarItems(typeName: string, fieldName: string): RecordCount {
    const model = describedField(typeName, fieldName);
    if (model.kind !== 'scalarList')
      throw new Error(
        `${typeName}.${fieldName} is a list of scalars, but the schema model describes it as ${model.kind}`,
      );
    return (record) => (record instanceof Estimated ? 0 : model.length(record));
  }

  /**
   * A record by its key: the record in hand; none when the key is refused or the record failed to load (its field
   * is null); else a stand-in, and the record is wanted for the next count.
   */
  private byId(kind: OneRecordKind, id: number | undefined): Held {
    if (id === undefined) return undefined;
    const found = this.find(kind, id);
    if (found) return found;
    const { ids } = RECORD_KINDS[kind];
    if (this.known && this.tried[ids].has(id)) return undefined;
    if (this.known) this.wanted[ids].add(id);
    return this.estimate(STAND_INS[kind], 1);
  }

  /** The record a representation names: by its key, or a detail by its own id, which only the detail list holds. */
  private entity(kind: OneRecordKind, id: number): Held {
    if (RECORD_KINDS[kind].idIsKey) return this.byId(kind, id);
    if (!this.known?.details) return this.estimate(STAND_INS[kind], 1);
    return this.known.detailById(id);
  }

  private find(kind: OneRecordKind, id: number): object | undefined {
    switch (kind) {
      case 'assignment':
        return this.known?.assignment(id);
      case 'license':
        return this.known?.license(id);
      case 'detail':
        return this.known?.detail(id);
      default:
        return unreachable(kind);
    }
  }

  private estimate(standIn: Estimated, weight: number): Estimated | Several {
    this.estimated = true;
    return weight === 1 ? standIn : new Several(standIn, weight);
  }

  /** A licence page, as `licensesPage` makes it: nested under `parentOf(record)`, or at the root when undefined. */
  private licensePage(
    args: Record<string, unknown>,
    parentOf: (record: object) => ProductAssignmentWire | Estimated | undefined,
  ): (record: object) => Held {
    let pageArgs: LicensePageArgs;
    try {
      pageArgs = checkLicensePageArgs(args);
    } catch {
      return () => undefined; // The resolver refuses the arguments: the field is null.
    }
    const { filter, page } = pageArgs;
    const filtered = Object.keys(filter).length > 0;
    return (record) => {
      const parent = parentOf(record);
      const licenses = this.licensesFor(parent, filter.productAssignmentId);
      if (licenses === null) return undefined;
      if (licenses) return new PageOf(this.pages.of(licenses, pageArgs).nodes);
      this.estimated = true;
      const { assignments, licenses: all } = this.sizes;
      const perAssignment = all !== undefined && assignments ? all / assignments : 1;
      const seen =
        parent !== undefined || filter.productAssignmentId !== undefined ? perAssignment : filtered ? 1 : (all ?? 1);
      return new PageOf(new Several(LICENSE, page.first ?? seen));
    };
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

  private detailPage(args: Record<string, unknown>): (record: object) => Held {
    let page: PageArgs;
    try {
      page = checkPageArgs(licenseDetailOrdering, args.first as number | undefined, args.after as string | undefined);
    } catch {
      return () => undefined;
    }
    return () => {
      const details = this.known?.details;
      if (details) {
        const nodes =
          page.first === undefined && page.after === undefined
            ? details
            : paginate(details, licenseDetailOrdering, page).nodes;
        return new PageOf(nodes);
      }
      this.estimated = true;
      return new PageOf(new Several(DETAIL, page.first ?? this.sizes.details ?? 1));
    };
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
 * The list sizes last seen per caller, for estimates before any call. Keyed by the caller's key (an HMAC of its
 * credentials, `src/http/callerKeys.ts`: no credential is kept); at most `maxCallers` of them (lru-cache), the least
 * recently seen dropped first.
 */
export class ListSizeMemory {
  private readonly byCaller: LRUCache<string, ListSizes>;

  constructor(maxCallers = 10_000) {
    this.byCaller = new LRUCache<string, ListSizes>({ max: maxCallers });
  }

  get(callerKey: string): ListSizes {
    return this.byCaller.get(callerKey) ?? {};
  }

  /** Keeps the sizes a request saw, beside what was seen before of the lists it did not fetch. */
  remember(callerKey: string, seen: ListSizes): void {
    if (seen.assignments === undefined && seen.licenses === undefined && seen.details === undefined) return;
    this.byCaller.set(callerKey, { ...this.byCaller.get(callerKey), ...seen });
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
