import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { planOperation, SHOW_CALLS_THRESHOLD } from '../../src/planner/operationPlan';
import { argumentsAccepted } from '../../src/graphql/plugins';

function plan(query: string, variables?: Record<string, unknown>) {
  const document = parse(query);
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;
  return planOperation(document, operation, variables, { accepts: argumentsAccepted });
}

const aliasedLicenses = (count: number) =>
  `{ ${Array.from({ length: count }, (_, i) => `l${i}: license(id: ${1000 + i}) { id }`).join(' ')} }`;

describe('the call estimate of an operation, by endpoint', () => {
  test.each([
    [
      'the nested assignment query: grouped and details, nothing else',
      `{ productAssignments { licenses { nodes { detail { fileName } productAssignment { productName } } } } }`,
      { 'license.byAssignment.list': 1, 'licenseDetail.list': 1 },
    ],
    ['assignments alone', `{ productAssignments { id } }`, { 'productAssignment.list': 1 }],
    [
      'licences with assignment and detail',
      `{ licenses { nodes { productAssignment { id } detail { id } } } }`,
      { 'license.list': 1, 'productAssignment.list': 1, 'licenseDetail.list': 1 },
    ],
    ['one licence', `{ license(id: 5) { id } }`, { 'license.show': 1 }],
    [
      'one licence with its detail: the detail is named by the licence id',
      `{ license(id: 5) { detail { id } } }`,
      { 'license.show': 1, 'licenseDetail.show': 1 },
    ],
    ['the same id twice is one call', `{ a: license(id: 5) { id } b: license(id: 5) { hwid } }`, { 'license.show': 1 }],
    [
      `${SHOW_CALLS_THRESHOLD} aliased licences are show calls`,
      aliasedLicenses(SHOW_CALLS_THRESHOLD),
      { 'license.show': SHOW_CALLS_THRESHOLD },
    ],
    [
      `${SHOW_CALLS_THRESHOLD + 1} aliased licences are one list call`,
      aliasedLicenses(SHOW_CALLS_THRESHOLD + 1),
      { 'license.list': 1 },
    ],
    ['500 aliased licences are one list call', aliasedLicenses(500), { 'license.list': 1 }],
    [
      'five aliased licences with their assignment',
      `{ ${[1, 2, 3, 4, 5].map((i) => `l${i}: license(id: ${i}) { productAssignment { productName } }`).join(' ')} }`,
      { 'license.list': 1, 'productAssignment.list': 1 },
    ],
    [
      'a small page with details: show calls',
      `{ licenses(first: 2) { nodes { detail { id } } } }`,
      { 'license.list': 1, 'licenseDetail.show': 2 },
    ],
    [
      'a filtered licence list reads one assignment',
      `{ licenses(filter: { productAssignmentId: 7 }) { totalCount } }`,
      { 'license.byAssignment.show': 1 },
    ],
    [
      'one assignment with its licences',
      `{ productAssignment(id: 7) { licenses { totalCount } } }`,
      { 'productAssignment.show': 1, 'license.byAssignment.show': 1 },
    ],
    [
      'files under a bounded page',
      `{ licenses(first: 10) { nodes { detail { file { sha256 } } } } }`,
      { 'license.list': 1, 'licenseDetail.list': 1, 'licenseDetail.download': 10 },
    ],
    [
      'files under an unbounded list',
      `{ licenseDetails { nodes { file { sha256 } } } }`,
      { 'licenseDetail.list': 1, 'licenseDetail.download': Infinity },
    ],
    ['a skipped field costs nothing', `query($no: Boolean!) { licenses @include(if: $no) { totalCount } }`, {}],
    [
      'fragments are followed',
      `{ ...F } fragment F on Query { license(id: 5) { ...D } } fragment D on License { detail { id } }`,
      { 'license.show': 1, 'licenseDetail.show': 1 },
    ],
    [
      'arguments the resolver refuses cost nothing',
      `{ licenses(first: 5000) { nodes { detail { id } } } license(id: "x") { id } }`,
      {},
    ],
    [
      'generateLicense and its payload',
      `mutation { generateLicense(input: { productAssignmentId: 1, hwid: "H", expirationDate: "2027-01-01" }) { license { id } productAssignment { usedLicenseCount } } }`,
      { 'license.generate': 1, 'productAssignment.show': 1 },
    ],
    [
      'generateLicense with a key notes the licences first',
      `mutation { generateLicense(input: { productAssignmentId: 1, hwid: "H", expirationDate: "2027-01-01", idempotencyKey: "k" }) { license { id } } }`,
      { 'license.generate': 1, 'license.byAssignment.show': 1 },
    ],
  ])('%s', (_name, query, estimate) => {
    const result = plan(query, { no: false });
    expect(result.estimate).toEqual(estimate);
    expect(result.estimatedCalls).toBe(Object.values(estimate).reduce((sum: number, calls) => sum + calls, 0));
  });
});

describe('what is started at once', () => {
  test('the nested assignment query starts the grouped list and the detail list together', () => {
    expect(plan(`{ productAssignments { licenses { nodes { detail { fileName } } } } }`).lists).toEqual({
      grouped: true,
      assignments: false,
      licenses: false,
      details: true,
    });
  });

  test('records named by id are started at once, beside the root call', () => {
    expect(
      plan(`{ license(id: 5) { detail { id } } productAssignment(id: 7) { licenses { totalCount } } }`).knownIds,
    ).toEqual({
      assignment: [7],
      license: [5],
      detail: [5],
      licensesOfAssignment: [7],
    });
  });

  test('nothing the query does not touch', () => {
    expect(plan(`{ licenses(first: 3) { totalCount } }`).lists).toEqual({
      grouped: false,
      assignments: false,
      licenses: true,
      details: false,
    });
  });
});
