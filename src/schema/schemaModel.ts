/**
 * The one description of the schema's data: for every field of every object type, what it is (a scalar, a scalar
 * computed here, a record reached by a key, a list or page of records and the portal list that feeds it, a licence
 * file). The planner, the answer counter, the argument checks and the resolvers of relations and computed fields
 * all read it; none of them switches on field names.
 *
 * It is keyed by graphql-codegen's types, so a field added to `schema.graphql` and generated is a compile error
 * here until it is described, and a description whose kind does not fit the field's type (an object described as
 * a scalar, a relation naming the wrong type) is one too. `test/unit/schemaModel.test.ts` walks `schema.graphql`
 * itself, for a field added and not yet generated.
 */
import type {
  GenerateLicensePayload,
  License,
  LicenseConnection,
  LicenseDetail,
  LicenseDetailConnection,
  LicenseDetailEdge,
  LicenseEdge,
  LicenseFile,
  Mutation,
  PageInfo,
  ProductAssignment,
  Query,
  Resolvers,
  ResolversParentTypes,
} from '../generated/graphql';
import { daysFromToday, todayUtc } from './calendar';
import type { OneRecordKind } from './recordKinds';

/** Most items a page (`first`) may ask for. */
export const MAX_PAGE_SIZE = 1000;

/** The schema's object types: every type the generated resolvers name but its scalars. */
export type ObjectTypeName = Exclude<keyof Resolvers, 'Date' | 'DateTime'>;

/** A scalar its record holds under the schema's name, or that its type's resolver file works out; no call. */
interface ScalarField {
  readonly kind: 'scalar';
}

/** A scalar worked out here from its parent record; its resolver is made from `compute`. No call. */
interface ComputedField<Parent, Value> {
  readonly kind: 'computed';
  compute(parent: Parent): Value;
}

/** A list of scalars its record holds: each item counts in the answer. No call. */
interface ScalarListField<Parent> {
  readonly kind: 'scalarList';
  length(parent: Parent): number;
}

/** An object made from its parent, holding no record of its own (a page's `pageInfo`). No call. */
interface PartField<Type> {
  readonly kind: 'part';
  readonly type: Type;
}

/** A record of another kind, found by its key read from the parent; resolved through the loaders. */
interface RelationField<Parent, Type> {
  readonly kind: 'relation';
  readonly type: Type;
  readonly to: OneRecordKind;
  key(parent: Parent): number;
  /** The related record's key is the parent's own (a detail is keyed by its licence's id): a parent named by id names it too. */
  readonly parentsKey: boolean;
}

/** A root field naming one record by the key in an argument: the portal answers for that id. */
interface RecordByIdField<Type> {
  readonly kind: 'recordById';
  readonly type: Type;
  readonly to: OneRecordKind;
  readonly argument: string;
}

/** Every record of a kind, from its portal list. */
interface ListField<Type> {
  readonly kind: 'list';
  readonly type: Type;
  readonly of: OneRecordKind;
}

/**
 * A page (connection) cut from a list, with `first` at most `maxFirst`: every licence (narrowed to one
 * assignment's by a filter on it), the licences of the parent assignment, or every detail.
 */
export interface PageField<Type> {
  readonly kind: 'page';
  readonly type: Type;
  readonly of: 'licenses' | 'licensesOfParent' | 'details';
  readonly maxFirst: number;
}

/** A page's records, as `nodes` or as `edges`. */
interface PageItemsField<Type> {
  readonly kind: 'pageItems';
  readonly type: Type;
}

/** An edge's record. */
interface EdgeNodeField<Type> {
  readonly kind: 'edgeNode';
  readonly type: Type;
}

/** The licence file of the record keyed by `key`: one download per record, there is no list of files. */
interface FileField<Parent, Type> {
  readonly kind: 'file';
  readonly type: Type;
  key(parent: Parent): number;
}

/** A write to the portal; its payload is read afresh after it. */
interface WriteField<Type> {
  readonly kind: 'write';
  readonly type: Type;
}

/** The record a write made, in hand with the write's answer: no call. */
interface WrittenField<Type> {
  readonly kind: 'written';
  readonly type: Type;
  readonly to: OneRecordKind;
}

/** A Federation subgraph's `_service`: its SDL, held by the schema itself. No call. */
interface ServiceField {
  readonly kind: 'service';
}

/**
 * A Federation subgraph's `_entities`: the records its representations name (`src/schema/entities.ts`), each by
 * its type's `id`, read like records named by id at the root.
 */
interface EntitiesField {
  readonly kind: 'entities';
  readonly argument: 'representations';
}

/** What a field whose GraphQL type is `Value` may be described as, below a parent record of type `Parent`. */
type FieldModelOf<Parent, Value> = [TypeNameOf<Value>] extends [never]
  ? NonNullable<Value> extends readonly unknown[]
    ? ScalarListField<Parent>
    : ScalarField | ComputedField<Parent, Value>
  : ObjectFieldModel<Parent, TypeNameOf<Value>>;

type ObjectFieldModel<Parent, Type> =
  | PartField<Type>
  | RelationField<Parent, Type>
  | RecordByIdField<Type>
  | ListField<Type>
  | PageField<Type>
  | PageItemsField<Type>
  | EdgeNodeField<Type>
  | FileField<Parent, Type>
  | WriteField<Type>
  | WrittenField<Type>;

/** Any field's description, as the planner and the counter read it. */
export type FieldModel =
  | ScalarField
  | ComputedField<object, unknown>
  | ScalarListField<object>
  | ObjectFieldModel<object, ObjectTypeName>
  | ServiceField
  | EntitiesField;

/** The object type a field's GraphQL type names (through lists and null), or never for a scalar. */
type TypeNameOf<Value> = Value extends readonly (infer Item)[]
  ? TypeNameOf<Item>
  : Value extends { __typename?: infer Name }
    ? Exclude<Name, undefined>
    : never;

/** graphql-codegen's type of each object type: its fields are what the model must describe. */
interface GeneratedTypes {
  Query: Query;
  Mutation: Mutation;
  GenerateLicensePayload: GenerateLicensePayload;
  ProductAssignment: ProductAssignment;
  License: License;
  LicenseDetail: LicenseDetail;
  LicenseFile: LicenseFile;
  PageInfo: PageInfo;
  LicenseConnection: LicenseConnection;
  LicenseEdge: LicenseEdge;
  LicenseDetailConnection: LicenseDetailConnection;
  LicenseDetailEdge: LicenseDetailEdge;
}

/** Every field of one object type, described; its parent record is the type's mapper (the portal's wire record). */
type TypeModel<Type extends ObjectTypeName> = {
  readonly [Field in Exclude<keyof GeneratedTypes[Type], '__typename'>]-?: FieldModelOf<
    ResolversParentTypes[Type],
    GeneratedTypes[Type][Field]
  >;
};

type SchemaModel = { readonly [Type in ObjectTypeName]: TypeModel<Type> };

const SCALAR: ScalarField = { kind: 'scalar' };

const SCHEMA_MODEL: SchemaModel = {
  Query: {
    productAssignments: { kind: 'list', type: 'ProductAssignment', of: 'assignment' },
    productAssignment: { kind: 'recordById', type: 'ProductAssignment', to: 'assignment', argument: 'id' },
    licenses: { kind: 'page', type: 'LicenseConnection', of: 'licenses', maxFirst: MAX_PAGE_SIZE },
    license: { kind: 'recordById', type: 'License', to: 'license', argument: 'id' },
    licenseDetails: { kind: 'page', type: 'LicenseDetailConnection', of: 'details', maxFirst: MAX_PAGE_SIZE },
    licenseDetail: { kind: 'recordById', type: 'LicenseDetail', to: 'detail', argument: 'licenseId' },
  },
  Mutation: {
    generateLicense: { kind: 'write', type: 'GenerateLicensePayload' },
  },
  GenerateLicensePayload: {
    license: { kind: 'written', type: 'License', to: 'license' },
    productAssignment: {
      kind: 'relation',
      type: 'ProductAssignment',
      to: 'assignment',
      key: (result) => result.productAssignmentId,
      parentsKey: false,
    },
  },
  ProductAssignment: {
    id: SCALAR,
    productName: SCALAR,
    productCode: SCALAR,
    totalLicenseCount: SCALAR,
    usedLicenseCount: SCALAR,
    remainingLicenseCount: {
      kind: 'computed',
      compute: (assignment) =>
        assignment.total_license_count === null
          ? null
          : Math.max(0, assignment.total_license_count - assignment.used_license_count),
    },
    validUntil: SCALAR,
    note: SCALAR,
    createdAt: SCALAR,
    licenses: { kind: 'page', type: 'LicenseConnection', of: 'licensesOfParent', maxFirst: MAX_PAGE_SIZE },
  },
  License: {
    id: SCALAR,
    hwid: SCALAR,
    expirationDate: SCALAR,
    expired: { kind: 'computed', compute: (license) => license.expiration_date < todayUtc() },
    daysUntilExpiry: { kind: 'computed', compute: (license) => daysFromToday(license.expiration_date) },
    note: SCALAR,
    createdAt: SCALAR,
    productAssignment: {
      kind: 'relation',
      type: 'ProductAssignment',
      to: 'assignment',
      key: (license) => license.product_assignment_id,
      parentsKey: false,
    },
    detail: { kind: 'relation', type: 'LicenseDetail', to: 'detail', key: (license) => license.id, parentsKey: true },
  },
  LicenseDetail: {
    id: SCALAR,
    license: {
      kind: 'relation',
      type: 'License',
      to: 'license',
      key: (detail) => detail.license_id,
      parentsKey: true,
    },
    fileName: SCALAR,
    customer: SCALAR,
    products: { kind: 'scalarList', length: (detail) => detail.products.length },
    hwids: { kind: 'scalarList', length: (detail) => detail.hwids.length },
    expirationDate: SCALAR,
    createdAt: SCALAR,
    file: { kind: 'file', type: 'LicenseFile', key: (detail) => detail.license_id },
    downloadUrl: { kind: 'computed', compute: (detail) => `/licenses/${detail.license_id}/file` },
  },
  LicenseFile: {
    fileName: SCALAR,
    contentType: SCALAR,
    byteLength: SCALAR,
    sha256: SCALAR,
    text: SCALAR,
    base64: SCALAR,
  },
  PageInfo: {
    hasNextPage: SCALAR,
    hasPreviousPage: SCALAR,
    startCursor: SCALAR,
    endCursor: SCALAR,
  },
  LicenseConnection: {
    totalCount: SCALAR,
    edges: { kind: 'pageItems', type: 'LicenseEdge' },
    nodes: { kind: 'pageItems', type: 'License' },
    pageInfo: { kind: 'part', type: 'PageInfo' },
  },
  LicenseEdge: {
    cursor: SCALAR,
    node: { kind: 'edgeNode', type: 'License' },
  },
  LicenseDetailConnection: {
    totalCount: SCALAR,
    edges: { kind: 'pageItems', type: 'LicenseDetailEdge' },
    nodes: { kind: 'pageItems', type: 'LicenseDetail' },
    pageInfo: { kind: 'part', type: 'PageInfo' },
  },
  LicenseDetailEdge: {
    cursor: SCALAR,
    node: { kind: 'edgeNode', type: 'LicenseDetail' },
  },
};

/**
 * The fields a Federation subgraph adds to the schema (`FEDERATION_SUBGRAPH`, `src/graphql/subgraph.ts`), which
 * `schema.graphql` does not have; `schemaModel.test.ts` holds them to the subgraph schema.
 */
const SUBGRAPH_MODEL: { readonly [Type: string]: { readonly [Field: string]: FieldModel } } = {
  Query: {
    _service: { kind: 'service' },
    _entities: { kind: 'entities', argument: 'representations' },
  },
  _Service: { sdl: SCALAR },
};

/** The model by type and field name, made once: what the planner and the counter look fields up in, per request. */
const FIELDS: ReadonlyMap<string, ReadonlyMap<string, FieldModel>> = new Map(
  Object.entries(SCHEMA_MODEL).map(([type, fields]) => [
    type,
    new Map(Object.entries(fields as Record<string, FieldModel>)),
  ]),
);

const SUBGRAPH_FIELDS: ReadonlyMap<string, ReadonlyMap<string, FieldModel>> = new Map(
  Object.entries(SUBGRAPH_MODEL).map(([type, fields]) => [type, new Map(Object.entries(fields))]),
);

/**
 * A field's description; undefined for a field the model does not describe, which after validation is only
 * `__typename` and introspection (`schemaModel.test.ts` holds every other field of the schema to being described).
 *
 *     fieldModel('License', 'detail'); // { kind: 'relation', to: 'detail', parentsKey: true, … }
 */
export function fieldModel(typeName: string, fieldName: string): FieldModel | undefined {
  return FIELDS.get(typeName)?.get(fieldName) ?? SUBGRAPH_FIELDS.get(typeName)?.get(fieldName);
}

/** The fields the subgraph adds, described, as the model's test walks them. */
export function describedSubgraphFields(): ReadonlyMap<string, ReadonlyMap<string, FieldModel>> {
  return SUBGRAPH_FIELDS;
}

/** Every described field of every type, as the model's test walks them. */
export function describedFields(): ReadonlyMap<string, ReadonlyMap<string, FieldModel>> {
  return FIELDS;
}

/** Whether a field holds at most one record (or none), found by its parent or by an id: no list is read below it. */
export function holdsOneRecord(field: FieldModel): boolean {
  switch (field.kind) {
    case 'relation':
    case 'recordById':
    case 'edgeNode':
    case 'written':
    case 'part':
    case 'file':
    case 'write':
    case 'service':
      return true;
    case 'entities':
    case 'list':
    case 'page':
    case 'pageItems':
    case 'scalar':
    case 'computed':
    case 'scalarList':
      return false;
    default:
      return unreachable(field);
  }
}

/** The `never` check at the end of a switch over a union: a new member is a compile error there. */
export function unreachable(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}
