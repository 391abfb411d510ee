import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { FEW_SHOW_CALLS, planOperation, type PlanOptions } from '../../src/planner/operationPlan';
import { argumentsAccepted } from '../../src/graphql/plugins';

function plan(query: string, variables?: Record<string, unknown>, options: PlanOptions = {}) {
  const document = parse(query);
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;
  return planOperation(document, operation, variables, { accepts: argumentsAccepted, ...options });
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
      `${FEW_SHOW_CALLS} aliased licences are show calls`,
      aliasedLicenses(FEW_SHOW_CALLS),
      { 'license.show': FEW_SHOW_CALLS },
    ],
    [
      `${FEW_SHOW_CALLS + 1} aliased licences of a list never seen: the list, and a show call for each id it may lack`,
      aliasedLicenses(FEW_SHOW_CALLS + 1),
      { 'license.list': 1, 'license.show': FEW_SHOW_CALLS + 1 },
    ],
    [
      '500 aliased licences may cost 501 calls: the budget refuses them',
      aliasedLicenses(500),
      { 'license.list': 1, 'license.show': 500 },
    ],
    [
      'five aliased licences with their assignment, lists never seen',
      `{ ${[1, 2, 3, 4, 5].map((i) => `l${i}: license(id: ${i}) { productAssignment { productName } }`).join(' ')} }`,
      { 'license.list': 1, 'license.show': 5, 'productAssignment.list': 1 },
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

describe('show calls or a list, by what each would cost this caller', () => {
  const fiveLicences = `{ ${[1, 2, 3, 4, 5].map((i) => `l${i}: license(id: ${i}) { productAssignment { productName } }`).join(' ')} }`;
  const large = { assignments: 40, licenses: 5000, details: 5000 };

  test('five licences out of 5,000 are five show calls; their assignments, out of 40, the assignment list', () => {
    const result = plan(fiveLicences, undefined, { listSizes: large });
    expect(result.estimate).toEqual({ 'license.show': 5, 'productAssignment.list': 1 });
    expect(result.sources).toMatchObject({ license: 'show', assignment: 'list' });
    expect(result.knownIds.license).toEqual([1, 2, 3, 4, 5]);
    expect(result.lists).toEqual({ grouped: false, assignments: true, licenses: false, details: false });
  });

  test('five licences out of 200 are the list: five show calls would cost more', () => {
    const result = plan(fiveLicences, undefined, { listSizes: { assignments: 3, licenses: 200 } });
    expect(result.sources.license).toBe('list');
    expect(result.knownIds.license).toEqual([]);
  });

  test('no more show calls than go out at once', () => {
    expect(plan(aliasedLicenses(12), undefined, { listSizes: large, showCallsAtOnce: 8 }).sources.license).toBe('list');
    expect(plan(aliasedLicenses(8), undefined, { listSizes: large, showCallsAtOnce: 8 }).sources.license).toBe('show');
  });

  test('the details of a page of 20 out of 5,000 are show calls; of a page of unknown length, the list', () => {
    const page = plan(`{ licenses(first: 20) { nodes { detail { id } } } }`, undefined, { listSizes: large });
    expect(page.estimate).toEqual({ 'license.list': 1, 'licenseDetail.show': 20 });
    const all = plan(`{ licenses { nodes { detail { id } } } }`, undefined, { listSizes: large });
    expect(all.estimate).toEqual({ 'license.list': 1, 'licenseDetail.list': 1 });
  });

  test('licences of a few assignments weigh what each assignment holds', () => {
    const query = `{ ${[1, 2, 3, 4, 5, 6].map((id) => `a${id}: productAssignment(id: ${id}) { licenses { totalCount } }`).join(' ')} }`;
    // Six assignments' share of 5,000 licences among 40 is far less than the grouped list.
    expect(plan(query, undefined, { listSizes: large }).sources.licensesOfAssignment).toBe('show');
    // When there are only six, their shares are the whole list and cost six calls more: the grouped list, once.
    const few = plan(query, undefined, { listSizes: { assignments: 6, licenses: 5000 } });
    expect(few.sources.licensesOfAssignment).toBe('list');
    expect(few.estimate['license.byAssignment.list']).toBe(1);
  });

  test('show calls chosen for speed never push a plan over the budget', () => {
    const query = `{ licenses(first: 30) { nodes { detail { id } productAssignment { id } } } }`;
    const sizes = { assignments: 5000, licenses: 5000, details: 5000 };
    expect(plan(query, undefined, { listSizes: sizes }).estimatedCalls).toBe(61);
    const within = plan(query, undefined, { listSizes: sizes, budget: 50 });
    expect(within.estimate).toEqual({ 'license.list': 1, 'licenseDetail.list': 1, 'productAssignment.list': 1 });
  });

  test("a mutation's payload is planned for the reads after its write", () => {
    const result = plan(
      `mutation { generateLicense(input: { productAssignmentId: 1, hwid: "H", expirationDate: "2027-01-01" }) { license { detail { id } } productAssignment { id } } }`,
    );
    expect(result.afterWrite?.sources).toMatchObject({ assignment: 'show', detail: 'show' });
    expect(result.afterWrite?.estimate).toEqual({ 'productAssignment.show': 1, 'licenseDetail.show': 1 });
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
