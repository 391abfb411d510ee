/**
 * `_entities` of the Federation subgraph without sockets: what a representation names, the plan and estimate of a
 * batch by the planner's rule 8, the show calls counted once the lists are in, the answer's count, and the subgraph
 * schema's description in the model.
 */
import { Kind, isObjectType, parse, type GraphQLObjectType, type OperationDefinitionNode } from 'graphql';
import { loadTypeDefs } from '../../src/graphql/apollo';
import { argumentsAccepted } from '../../src/graphql/plugins';
import { answerShape, countAnswer, type ListSizes } from '../../src/graphql/resultSize';
import { subgraphSchema } from '../../src/graphql/subgraph';
import type { KnownRecords } from '../../src/loaders/loaders';
import { planOperation, type PlanOptions } from '../../src/planner/operationPlan';
import { referencedShowCalls } from '../../src/planner/recordSources';
import { ENTITY_TYPES, readRepresentation } from '../../src/schema/entities';
import { RECORD_KINDS } from '../../src/schema/recordKinds';
import { describedFields, describedSubgraphFields } from '../../src/schema/schemaModel';
import { assignmentRecord, detailRecord, licenseRecord } from '../helpers/wireRecords';

const schema = subgraphSchema(loadTypeDefs(), {});

function operationOf(query: string) {
  const document = parse(query);
  const operation = document.definitions.find(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  )!;
  return { document, operation };
}

const ENTITIES = `query($r: [_Any!]!) {
  _entities(representations: $r) {
    ... on License { id detail { fileName } productAssignment { productName } }
    ... on ProductAssignment { id licenses { nodes { id } } }
    ... on LicenseDetail { id license { id } }
  }
}`;

const licenses = (ids: readonly number[]) => ids.map((id) => ({ __typename: 'License', id: String(id) }));
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

function plan(representations: unknown[], options: PlanOptions = {}, query = ENTITIES) {
  const { document, operation } = operationOf(query);
  return planOperation(document, operation, { r: representations }, { accepts: argumentsAccepted, ...options });
}

describe('what a representation names', () => {
  test.each([
    [
      { __typename: 'License', id: '1002' },
      { type: 'License', kind: 'license', id: 1002 },
    ],
    [
      { __typename: 'ProductAssignment', id: 4 },
      { type: 'ProductAssignment', kind: 'assignment', id: 4 },
    ],
    [
      { __typename: 'LicenseDetail', id: '88001', extra: true },
      { type: 'LicenseDetail', kind: 'detail', id: 88001 },
    ],
  ])('%j names a record', (representation, named) => {
    expect(readRepresentation(representation)).toEqual({ refused: false, ...named });
  });

  test.each([
    [{ __typename: 'License' }, 'id', "A representation's `id` must be a positive integer id, but got: nothing"],
    [
      { __typename: 'License', id: '07' },
      'id',
      'A representation\'s `id` must be a positive integer id, but got: "07"',
    ],
    [{ __typename: 'License', id: -1 }, 'id', "A representation's `id` must be a positive integer id, but got: -1"],
    [
      { __typename: 'Device', id: '1' },
      '__typename',
      'A representation\'s `__typename` must be one of ProductAssignment, License, LicenseDetail, but got: "Device"',
    ],
    [
      { id: '1' },
      '__typename',
      "A representation's `__typename` must be one of ProductAssignment, License, LicenseDetail, but got: nothing",
    ],
    ['License:1', 'representations', 'A representation must be an object with `__typename` and `id`.'],
    [null, 'representations', 'A representation must be an object with `__typename` and `id`.'],
    [
      [{ __typename: 'License', id: '1' }],
      'representations',
      'A representation must be an object with `__typename` and `id`.',
    ],
  ])('%j is refused, blaming %s', (representation, field, message) => {
    expect(readRepresentation(representation)).toEqual({ refused: true, field, message });
  });

  test('the entity types are the record kinds, each keyed by its id', () => {
    expect(new Map(ENTITY_TYPES)).toEqual(
      new Map([
        ['ProductAssignment', 'assignment'],
        ['License', 'license'],
        ['LicenseDetail', 'detail'],
      ]),
    );
    expect(Object.values(RECORD_KINDS).map((kind) => kind.idIsKey)).toEqual([true, true, false]);
  });
});

describe('the plan of a batch (rule 8)', () => {
  const sizes = { assignments: 40, licenses: 5000, details: 5000 };

  test('five licences out of 5,000 are five show calls, their details five more, started at once', () => {
    const planned = plan(licenses(range(1001, 5)), { listSizes: sizes, budget: 50 });
    expect(planned.estimate).toEqual({ 'license.show': 5, 'licenseDetail.show': 5, 'productAssignment.list': 1 });
    expect(planned.knownIds.license).toEqual(range(1001, 5));
    expect(planned.knownIds.detail).toEqual(range(1001, 5));
  });

  test('200 licences with their details and assignments are three lists, whatever the budget', () => {
    const planned = plan(licenses(range(1001, 200)), { listSizes: sizes, budget: 50 });
    expect(planned.estimate).toEqual({ 'license.list': 1, 'licenseDetail.list': 1, 'productAssignment.list': 1 });
    expect(planned.referencedIds.license.size).toBe(200);
    expect(planned.spareCalls).toBe(47);
  });

  test('an id named at the root is estimated at its possible show call; a referenced one is not', () => {
    const aliased = `{ ${range(1001, 200)
      .map((id) => `l${id}: license(id: ${id}) { id }`)
      .join(' ')} }`;
    const { document, operation } = operationOf(aliased);
    const named = planOperation(document, operation, undefined, { listSizes: sizes, budget: 50 });
    expect(named.estimatedCalls).toBe(201);
    const referenced = plan(
      licenses(range(1001, 200)),
      { listSizes: sizes, budget: 50 },
      ENTITIES.replace(/detail.*}\n/, '}\n'),
    );
    expect(referenced.estimate).toEqual({ 'license.list': 1 });
  });

  test('malformed representations cost nothing; duplicates are one record', () => {
    const planned = plan(
      [{ __typename: 'Device' }, { __typename: 'License', id: '5' }, { __typename: 'License', id: '5' }],
      {
        listSizes: sizes,
      },
    );
    expect(planned.estimate).toEqual({ 'license.show': 1, 'licenseDetail.show': 1, 'productAssignment.show': 1 });
  });

  test("assignments' licences are named by the assignments' ids; details by their own ids come from the detail list", () => {
    const planned = plan(
      [
        { __typename: 'ProductAssignment', id: '1' },
        { __typename: 'LicenseDetail', id: '88001' },
      ],
      { listSizes: sizes },
    );
    expect(planned.estimate).toEqual({
      'productAssignment.show': 1,
      'license.byAssignment.show': 1,
      'licenseDetail.list': 1,
      'license.show': 1,
    });
  });

  test('the ids a list lacks are counted once it is in: one show call each', () => {
    const planned = plan([...licenses(range(1001, 100)), { __typename: 'ProductAssignment', id: '7' }], {
      listSizes: sizes,
    });
    expect(planned.estimate).toEqual({ 'license.list': 1, 'licenseDetail.list': 1, 'productAssignment.list': 1 });
    const inHand = (kind: 'assignment' | 'license', id: number) => kind === 'license' && id < 1090;
    expect(referencedShowCalls(planned, inHand)).toEqual({ 'license.show': 11, 'productAssignment.show': 1 });
  });

  test('ids read by show calls, or named at the root too, were counted in the estimate: none is counted again', () => {
    const planned = plan(licenses([1001, 1002]), { listSizes: sizes });
    expect(planned.sources.license).toBe('show');
    expect(referencedShowCalls(planned, () => false)).toEqual({});
    const both = plan(
      licenses(range(1001, 100)),
      { listSizes: sizes },
      ENTITIES.replace('{\n', '{ license(id: 1001) { id }\n'),
    );
    expect(both.estimate['license.show']).toBe(1);
    expect(referencedShowCalls(both, (_kind, id) => id > 1002)).toEqual({ 'license.show': 1 });
  });
});

describe("the answer's count", () => {
  const assignment = assignmentRecord(1);
  const own = range(1001, 3).map((id) => licenseRecord(id, { product_assignment_id: 1 }));
  const details = own.map((license) => detailRecord(license, { id: license.id + 80000 }));
  const known: KnownRecords = {
    assignments: [assignment],
    licenses: own,
    details,
    assignment: (id) => (id === 1 ? assignment : undefined),
    license: (id) => own.find((license) => license.id === id),
    detail: (licenseId) => details.find((detail) => detail.license_id === licenseId),
    detailById: (id) => details.find((detail) => detail.id === id),
    licensesOf: (assignmentId) => (assignmentId === 1 ? own : []),
  };
  const count = (representations: unknown[], records: KnownRecords | undefined, sizes: ListSizes = {}) => {
    const { document, operation } = operationOf(ENTITIES);
    return countAnswer(answerShape(schema, document, operation, { r: representations }), records, sizes);
  };

  test('each entity counts one, and what its own type selects below it', () => {
    const counted = count(
      [
        ...licenses([1001, 1002]),
        { __typename: 'ProductAssignment', id: '1' },
        { __typename: 'LicenseDetail', id: '81003' },
        { __typename: 'Device' },
      ],
      known,
    );
    // The list: 5 items. Two licences, each with its detail and assignment: 2 × 2. The assignment's page and its
    // 3 licences: 1 + 3. The detail's licence: 1. The malformed one is null: nothing below it.
    expect(counted).toMatchObject({ objects: 5 + 4 + 4 + 1, estimated: false });
  });

  test('before any call, an estimate from the sizes seen', () => {
    const counted = count([...licenses([1001, 1002]), { __typename: 'ProductAssignment', id: '1' }], undefined, {
      assignments: 1,
      licenses: 3,
    });
    expect(counted).toMatchObject({ objects: 3 + 4 + 1 + 3, estimated: true });
  });
});

describe('the subgraph schema and the model', () => {
  test('every field the subgraph adds is described, and nothing it lacks', () => {
    const added = Object.values(schema.getTypeMap())
      .filter((type): type is GraphQLObjectType => isObjectType(type) && !type.name.startsWith('__'))
      .flatMap((type) =>
        Object.keys(type.getFields())
          .filter((field) => describedFields().get(type.name)?.get(field) === undefined)
          .map((field) => `${type.name}.${field}`),
      );
    const described = [...describedSubgraphFields()].flatMap(([type, fields]) =>
      [...fields.keys()].map((field) => `${type}.${field}`),
    );
    expect(added.sort()).toEqual(described.sort());
  });

  test('the entity union holds exactly the entity types', () => {
    const union = schema.getType('_Entity');
    expect(union && 'getTypes' in union ? union.getTypes().map((type) => type.name) : []).toEqual(
      [...ENTITY_TYPES.keys()].sort(),
    );
  });
});
