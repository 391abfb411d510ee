/**
 * The planner's rules for what only answers can tell: where a batch of records is read from, given the plan and the
 * lists the request has started, and which records a list lacks get their show calls.
 */
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { planOperation, type OperationPlan, type RecordKind } from '../../src/planner/operationPlan';
import {
  MissingRecordCalls,
  batchSource,
  wholeListSource,
  type BatchSource,
  type ListsStarted,
} from '../../src/planner/recordSources';

function plan(query: string, budget = 50): OperationPlan {
  const document = parse(query);
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;
  return planOperation(document, operation, undefined, { showCallsAtOnce: 32, budget });
}

const none: ListsStarted = { grouped: false, assignments: false, licenses: false, details: false };
const byId = plan('{ license(id: 5) { id detail { id } productAssignment { id } } }');
const underLists = plan('{ productAssignments { licenses { nodes { id detail { id } } } } }');
const licenceList = plan('{ licenses { nodes { id productAssignment { id } } } }');

const cases: Array<[string, OperationPlan, RecordKind, Partial<ListsStarted>, BatchSource]> = [
  ['a licence by id, nothing started: its show call', byId, 'license', {}, 'show'],
  ['a licence by id, the licence list started anyway: the list', byId, 'license', { licenses: true }, 'licenses'],
  ['a licence by id, the grouped list started: the grouped list', byId, 'license', { grouped: true }, 'grouped'],
  ['an assignment by id, nothing started: its show call', byId, 'assignment', {}, 'show'],
  ['a detail by id, the detail list started: the list', byId, 'detail', { details: true }, 'details'],
  [
    'licences of assignments under the assignment list: the grouped list',
    underLists,
    'licensesOfAssignment',
    {},
    'grouped',
  ],
  ['licences under the grouped list, not yet started: the grouped list', underLists, 'license', {}, 'grouped'],
  ['assignments under the grouped list: the grouped list', underLists, 'assignment', {}, 'grouped'],
  ['details under a list of unknown length: the detail list', underLists, 'detail', {}, 'details'],
  [
    'licences of an assignment once the licence list is started: grouped from it',
    byId,
    'licensesOfAssignment',
    { licenses: true },
    'licenses',
  ],
  ['licences of an assignment, nothing started: its call', byId, 'licensesOfAssignment', {}, 'show'],
  ['assignments of listed licences: the assignment list', licenceList, 'assignment', {}, 'assignments'],
  [
    'the assignment list started before the grouped one wins',
    underLists,
    'assignment',
    { assignments: true },
    'assignments',
  ],
];

test.each(cases)('%s', (_name, planned, kind, started, expected) => {
  expect(batchSource(planned, kind, { ...none, ...started })).toBe(expected);
});

test('a whole list of assignments or licences comes from the grouped list once it is started', () => {
  expect(wholeListSource('assignments', none)).toBe('assignments');
  expect(wholeListSource('licenses', { ...none, grouped: true })).toBe('grouped');
});

test('a named id always gets its show call; others only while the spare calls last, across plans', () => {
  const planned = plan('{ licenses { nodes { detail { id } } } l: license(id: 7) { id } }', 5);
  expect(planned.spareCalls).toBe(2);
  const calls = new MissingRecordCalls(planned);
  expect(calls.allows(planned, 'license', 7)).toBe(true);
  expect(calls.allows(planned, 'detail', 100)).toBe(true);
  expect(calls.allows(planned, 'license', 7)).toBe(true); // named: never counted
  const payload: OperationPlan = { ...planned, namedIds: { ...planned.namedIds, license: new Set() } };
  expect(calls.allows(payload, 'detail', 101)).toBe(true);
  expect(calls.allows(payload, 'license', 7)).toBe(false); // not named in this plan, and none left
});
