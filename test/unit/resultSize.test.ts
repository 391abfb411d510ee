/**
 * The size of an answer, counted in-process from records in hand (no sockets): the rule (objects and list items),
 * how selections merge, what the estimate before any call assumes, and the caller-size memory's bound.
 */
import { Kind, buildSchema, parse, type OperationDefinitionNode } from 'graphql';
import { loadTypeDefs } from '../../src/graphql/apollo';
import { answerShape, countAnswer, ListSizeMemory, ItemAllowance, type ListSizes } from '../../src/graphql/resultSize';
import type { KnownRecords } from '../../src/loaders/loaders';
import type { LicenseDetailWire, LicenseWire, ProductAssignmentWire } from '../../src/portal/wireTypes';
import { assignmentRecord, detailRecord, licenseRecord } from '../helpers/wireRecords';

const schema = buildSchema(loadTypeDefs());

function assignment(id: number): ProductAssignmentWire {
  return assignmentRecord(id, { product_name: 'IFace SDK', product_code: 'iface' });
}
function license(id: number, assignmentId: number, hwid: string | null): LicenseWire {
  return licenseRecord(id, { product_assignment_id: assignmentId, hwid, expiration_date: '2027-06-30' });
}
function detail(of: LicenseWire): LicenseDetailWire {
  return detailRecord(of, { id: of.id + 80000, products: ['iface', 'ilive'], expiration_date: null });
}

/** Records of a customer with `perAssignment[i]` licences in assignment i + 1; every other licence universal. */
function customer(perAssignment: number[]): KnownRecords {
  const assignments = perAssignment.map((_, index) => assignment(index + 1));
  const licenses = perAssignment.flatMap((count, index) =>
    Array.from({ length: count }, (_, n) => license((index + 1) * 1000 + n, index + 1, n % 2 === 0 ? `HW${n}` : null)),
  );
  const details = licenses.map(detail);
  return {
    assignments,
    licenses,
    details,
    assignment: (id) => assignments.find((candidate) => candidate.id === id),
    license: (id) => licenses.find((candidate) => candidate.id === id),
    detail: (licenseId) => details.find((candidate) => candidate.license_id === licenseId),
    detailById: (id) => details.find((candidate) => candidate.id === id),
    licensesOf: (assignmentId) => licenses.filter((candidate) => candidate.product_assignment_id === assignmentId),
  };
}

function count(
  query: string,
  known: KnownRecords | undefined,
  sizes: ListSizes = {},
  variables?: Record<string, unknown>,
) {
  const document = parse(query);
  const operation = document.definitions.find(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  )!;
  return countAnswer(answerShape(schema, document, operation, variables), known, sizes);
}

describe('the rule: every object counts one, every list item one', () => {
  const records = customer([3, 1]);

  test.each([
    ['a list of objects', '{ productAssignments { id } }', 2],
    [
      'a connection, its nodes, and their relations',
      '{ productAssignments { licenses { nodes { id detail { fileName } } } } }',
      2 + 2 + 4 + 4,
    ],
    [
      'edges count as objects, each with its node',
      '{ licenses { edges { cursor node { id } } pageInfo { hasNextPage } } }',
      1 + 4 * 2 + 1,
    ],
    ['lists of scalars count their items', '{ licenseDetails { nodes { products hwids } } }', 1 + 4 + 4 * 2 + 3],
    [
      'a page counts what it holds',
      '{ productAssignments { licenses(first: 2) { totalCount nodes { id } } } }',
      2 + 2 + 2 + 1,
    ],
    ['a filter counts what matches', '{ licenses(filter: { universal: true }) { nodes { id } } }', 1 + 1],
    [
      'a filter on another assignment than the parent is an empty page',
      '{ productAssignments { licenses(filter: { productAssignmentId: 2 }) { nodes { id } } } }',
      2 + 2 + 1,
    ],
    [
      'arguments the resolver refuses make the field null',
      '{ licenses(first: -1) { nodes { id } } license(id: "x") { id } }',
      0,
    ],
    [
      'a record named by id',
      '{ license(id: 1000) { productAssignment { licenses { nodes { id } } } } }',
      1 + 1 + 1 + 3,
    ],
    [
      'the relations cycle, each record counted once per selection',
      '{ productAssignments { licenses { nodes { productAssignment { licenses { nodes { id } } } } } } }',
      2 + 2 + 3 * (1 + 1 + 1 + 3) + 1 * (1 + 1 + 1 + 1),
    ],
  ])('%s', (_what, query, expected) => {
    expect(count(query, records)).toEqual({ objects: expected, wanted: expect.anything(), estimated: false });
  });

  test('selections merge by response key, as graphql-js merges them; aliases count apart', () => {
    const merged = '{ productAssignments { id } productAssignments { licenses { totalCount } } }';
    expect(count(merged, records).objects).toBe(2 + 2);
    const aliased = '{ a: productAssignments { id } b: productAssignments { licenses { totalCount } } }';
    expect(count(aliased, records).objects).toBe(2 + 2 + 2);
  });

  test('fragments, inline fragments, @skip and @include', () => {
    const query = `query($skip: Boolean!) {
      productAssignments { ...L ... on ProductAssignment { id } }
      licenses @skip(if: $skip) { nodes { id } }
      licenseDetails @include(if: $skip) { totalCount }
    }
    fragment L on ProductAssignment { licenses { nodes { id } } }`;
    expect(count(query, records, {}, { skip: true }).objects).toBe(2 + 2 + 4 + 1);
    expect(count(query, records, {}, { skip: false }).objects).toBe(2 + 2 + 4 + 1 + 4);
  });

  test('a record not in hand is wanted, and counted as one until it is', () => {
    const partial: KnownRecords = { ...records, assignment: () => undefined };
    const result = count('{ license(id: 1000) { productAssignment { licenses { nodes { id } } } } }', partial);
    expect(result.estimated).toBe(true);
    expect([...result.wanted.assignments]).toEqual([1]);
  });

  test('forty million objects are counted at once from forty assignments of a hundred licences', () => {
    const large = customer(Array.from({ length: 40 }, () => 100));
    const cycle =
      '{ productAssignments { licenses { nodes { productAssignment { licenses { nodes { productAssignment { licenses { nodes { id } } } } } } } } } }';
    // 40 assignments; each: its connection, 100 nodes; each node: its assignment, that one's connection and 100 nodes; …
    const level3 = 1 + 1 + 100;
    const level2 = 1 + 1 + 100 * (1 + level3);
    expect(count(cycle, large).objects).toBe(40 * (1 + 1 + 100 * (1 + level2)));
  });
});

describe('the estimate before any call', () => {
  test('with nothing seen, a list counts one; with sizes seen, their averages', () => {
    const query = '{ productAssignments { licenses { nodes { id } } } }';
    expect(count(query, undefined)).toMatchObject({ objects: 1 + 1 + 1, estimated: true });
    expect(count(query, undefined, { assignments: 40, licenses: 4000 }).objects).toBe(40 * (1 + 1 + 100));
  });

  test('a list under `first` counts as its `first`, whatever was seen', () => {
    const query = '{ licenses(first: 1000) { nodes { productAssignment { licenses(first: 5) { nodes { id } } } } } }';
    expect(count(query, undefined, { assignments: 2, licenses: 4 }).objects).toBe(1 + 1000 * (1 + 1 + 1 + 5));
  });

  test("one parsed operation is counted by each request's own variables, and without variables alike each time", () => {
    const document = parse('query Q($first: Int) { licenses(first: $first) { nodes { id } } }');
    const operation = document.definitions[0] as OperationDefinitionNode;
    const countWith = (first: number) =>
      countAnswer(answerShape(schema, document, operation, { first }), undefined, { licenses: 100 }).objects;
    expect([countWith(3), countWith(7), countWith(3)]).toEqual([1 + 3, 1 + 7, 1 + 3]);
    const constant = parse('{ licenses(first: 4) { nodes { id } } }');
    const constantOperation = constant.definitions[0] as OperationDefinitionNode;
    const shapes = [1, 2].map(() => answerShape(schema, constant, constantOperation, undefined));
    expect(shapes[1]).toBe(shapes[0]);
    expect(countAnswer(shapes[1]!, undefined, { licenses: 100 }).objects).toBe(1 + 4);
  });

  test('lists of scalars count none, so that an estimate stays below the count', () => {
    expect(count('{ licenseDetails { nodes { products hwids } } }', undefined, { details: 10 }).objects).toBe(1 + 10);
  });
});

describe('the caller-size memory', () => {
  test('keeps the sizes per caller, merged, and never more callers than its bound (the least recent go first)', () => {
    const memory = new ListSizeMemory(2);
    // Callers' keys, as `src/http/callerKeys.ts` makes them (`test/unit/callerKeys.test.ts`).
    const [alice, bob, carol] = ['key-alice', 'key-bob', 'key-carol'];
    memory.remember(alice, { assignments: 3 });
    memory.remember(alice, { licenses: 9 });
    memory.remember(bob, { details: 1 });
    expect(memory.get(alice)).toEqual({ assignments: 3, licenses: 9 });
    memory.remember(carol, { assignments: 1 });
    expect(memory.size()).toBe(2);
    expect(memory.get(bob)).toEqual({}); // bob was the least recently seen
    expect(memory.get(alice)).toEqual({ assignments: 3, licenses: 9 });
  });
});

describe('the allowance behind the count', () => {
  test('hands out list items up to its limit; once a list does not fit, no list does', () => {
    const allowance = new ItemAllowance(10);
    expect(allowance.take(6)).toBe(true);
    expect(allowance.overrun()).toBeUndefined();
    expect(allowance.take(5)).toBe(false);
    expect(allowance.take(0)).toBe(false);
    expect(allowance.overrun()).toBe(11);
  });
});
