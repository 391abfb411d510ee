/**
 * The planned loaders carry the plan out: each kind of record from where the plan said, every id the client named
 * answered as the portal answers it, records that one list names and another lacks asked for within the budget,
 * and no list read twice. In process, against portal reads served from memory.
 */
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { PortalLoaders } from '../../src/loaders/portalLoaders';
import { planOperation, type KnownListSizes } from '../../src/planner/operationPlan';
import type { PortalCaller } from '../../src/portal/portalClient';
import type { PortalError } from '../../src/portal/portalErrors';
import { NAMED_LICENSE_IDS, PortalInMemory } from '../helpers/portalInMemory';

const caller: PortalCaller = { authorization: 'Basic ZGVtbzpkZW1v', callerKey: 'demo', onCall: () => undefined };

function plan(query: string, listSizes: KnownListSizes = {}, budget = 50) {
  const document = parse(query);
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;
  return planOperation(document, operation, undefined, { listSizes, showCallsAtOnce: 32, budget });
}

const aliased = (ids: readonly number[]) => `{ ${ids.map((id, i) => `l${i}: license(id: ${id}) { id }`).join(' ')} }`;

describe('ids the client named', () => {
  test("each id a list lacks gets its own show call, and the portal's own answer", async () => {
    const portal = new PortalInMemory();
    const foreign = [90_001, 90_002, 90_003, 90_004, 90_005];
    for (const id of foreign) portal.foreignLicenseIds.add(id);
    const loaders = new PortalLoaders(portal, caller);
    await loaders.prefetch(plan(aliased([...foreign, NAMED_LICENSE_IDS[0]!])));
    const answers = await Promise.allSettled(
      [...foreign, NAMED_LICENSE_IDS[0]!].map((id) => loaders.licenseById.load(id)),
    );
    expect(
      answers.map((answer) => (answer.status === 'rejected' ? (answer.reason as PortalError).code : 'ok')),
    ).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'ok']);
    // Never seen: the list, read once, then one show call per id it lacks.
    expect(portal.calls.filter((call) => call === 'license.list')).toHaveLength(1);
    expect(portal.calls.filter((call) => call.startsWith('license.show')).sort()).toEqual(
      foreign.map((id) => `license.show ${id}`),
    );
  });
});

describe('records one list names and another lacks', () => {
  const query = `{ licenses { nodes { detail { id } } } }`;

  test('are asked for by their show calls, within what the budget leaves beyond the estimate', async () => {
    const portal = new PortalInMemory();
    const made = portal.licenses.slice(-4).map((license) => license.id);
    for (const id of made) portal.unlistedDetails.add(id);
    const loaders = new PortalLoaders(portal, caller);
    const planned = plan(query, {}, 4); // the two lists, and two calls to spare
    expect(planned.spareCalls).toBe(2);
    await loaders.prefetch(planned);
    const answers = await Promise.allSettled(made.map((id) => loaders.detailByLicenseId.load(id)));
    expect(
      answers.map((answer) => (answer.status === 'rejected' ? (answer.reason as PortalError).code : 'ok')),
    ).toEqual(['ok', 'ok', 'UNAVAILABLE', 'UNAVAILABLE']);
    expect(answers[2]).toMatchObject({ reason: { message: expect.stringMatching(/try again/) } });
    // No list is read twice.
    expect(portal.calls.filter((call) => call.endsWith('.list')).sort()).toEqual([
      'license.list',
      'licenseDetail.list',
    ]);
    expect(portal.calls.filter((call) => call.startsWith('licenseDetail.show'))).toHaveLength(2);
  });
});

describe('records a list brought', () => {
  test('are served by the loaders by id, with no call and no batch', async () => {
    const portal = new PortalInMemory();
    const batches: Array<[string, number]> = [];
    const loaders = new PortalLoaders(portal, caller, (loader, size) => batches.push([loader, size]));
    await loaders.prefetch(plan('{ productAssignments { licenses { nodes { id detail { id } } } } }'));
    const listedCalls = [...portal.calls];
    const [first, second] = portal.licenses;
    expect(await loaders.licenseById.load(first!.id)).toBe(first);
    expect(await loaders.detailByLicenseId.load(first!.id)).toBe(portal.details[0]);
    expect(loaders.license(second!.id)).toBe(second);
    expect(portal.calls).toEqual(listedCalls);
    expect(batches).toEqual([]);
  });
});

describe('after a write', () => {
  test("the loaders follow the plan made for the mutation's payload", async () => {
    const portal = new PortalInMemory();
    const loaders = new PortalLoaders(portal, caller);
    await loaders.prefetch(
      plan(
        `mutation { generateLicense(input: { productAssignmentId: 1, hwid: "H", expirationDate: "2030-01-01" }) { productAssignment { id } } }`,
        { assignments: 40 },
      ),
    );
    loaders.clearAll();
    await loaders.assignmentById.load(1);
    expect(portal.calls).toEqual(['productAssignment.show 1']);
  });
});
