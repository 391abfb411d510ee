/**
 * The benchmark's operations, run in process through the whole GraphQL pipeline (Apollo, the planning plugin,
 * the resolvers, the planned loaders) against portal reads answered from memory: the plan each one gets, the
 * portal calls it makes and the batches its loaders form. No sockets: this pins the call policy; the integration
 * tests show the same calls at a real portal.
 */
import { loadConfig } from '../../src/config';
import { parse, Kind, type OperationDefinitionNode } from 'graphql';
import type { ApolloServer } from '@apollo/server';
import { createApolloServer } from '../../src/graphql/apollo';
import { createRequestContext, type RequestContext } from '../../src/graphql/context';
import { AdmissionQueue } from '../../src/graphql/admission';
import { ListSizeMemory } from '../../src/graphql/resultSize';
import { argumentsAccepted } from '../../src/graphql/plugins';
import { PortalLoaders } from '../../src/loaders/portalLoaders';
import { ASSIGNMENTS, LICENSES, NAMED_LICENSE_IDS, PortalInMemory } from '../helpers/portalInMemory';
import { PortalClient } from '../../src/portal/portalClient';
import { LicenseGenerator } from '../../src/idempotency/idempotentGenerate';
import { MemoryKeyStore } from '../../src/idempotency/keyStore';
import { planOperation, type KnownListSizes, type OperationPlan } from '../../src/planner/operationPlan';
import { benchQueries, utcToday, type BenchQuery } from '../../scripts/bench/queries';

const TODAY = utcToday();
const AUTHORIZATION = 'Basic ZGVtbzpkZW1v';
const queries = benchQueries(TODAY, 'unit');
const byNumber = (number: number): BenchQuery => queries.find((query) => query.name.startsWith(`${number}.`))!;

let apollo: ApolloServer<RequestContext>;
let lastPlan: OperationPlan | undefined;
/** Never called: the loaders read from memory, and no benchmark read needs the client itself. */
let unusedClient: PortalClient;

beforeAll(async () => {
  apollo = createApolloServer({
    logger: { error: () => undefined },
    observeOperation: () => undefined,
    introspection: false,
    federationSubgraph: false,
    upstreamCallBudget: 50,
    limits: loadConfig({}).limits, // the defaults
    admission: new AdmissionQueue({ maxActive: 64, maxQueued: 500, perCaller: 16 }),
    listSizes: new ListSizeMemory(),
    showCallsAtOnce: 32,
    tracing: false,
    // Apollo hands each operation a copy of the context: the plan is read off the copy.
    plugins: [
      {
        async requestDidStart() {
          return {
            async willSendResponse({ contextValue }) {
              lastPlan = contextValue.plan;
            },
          };
        },
      },
    ],
  });
  await apollo.start();
  unusedClient = new PortalClient({
    origin: 'http://127.0.0.1:9',
    connections: 1,
    connectTimeoutMs: 1000,
    headersTimeoutMs: 1000,
    bodyTimeoutMs: 1000,
    keepAliveTimeoutMs: 1000,
    maxResponseBytes: 1024,
    maxRetries: 0,
    retryBaseDelayMs: 0,
    breakerFailureThreshold: 5,
    breakerCooldownMs: 1000,
  });
});
afterAll(async () => {
  await apollo.stop();
  await unusedClient.close();
});

/** Runs one operation as the caller; the calls it made, the batches its loaders formed, and its plan. */
async function run(query: BenchQuery, portal = new PortalInMemory()) {
  const batches: string[] = [];
  const contextValue = createRequestContext({
    portal: unusedClient,
    generator: new LicenseGenerator(unusedClient, new MemoryKeyStore()),
    loaders: (_client, caller, onBatch) => new PortalLoaders(portal, caller, onBatch),
    authorization: AUTHORIZATION,
    callerKey: 'demo',
    showUpstreamCalls: false,
    timeoutMs: 10_000,
    maxResultObjects: 100_000,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    onBatch: (loader, size) => batches.push(`${loader} ${size}`),
  });
  const response = await apollo.executeOperation(
    { query: query.document, variables: query.variables() },
    { contextValue },
  );
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  expect(response.body.singleResult.errors).toBeUndefined();
  return { calls: [...portal.calls].sort(), batches: batches.sort(), plan: lastPlan! };
}

/** The plan of an operation for a caller whose lists are of the given lengths. */
function planOf(
  query: BenchQuery,
  sizes: KnownListSizes = { assignments: ASSIGNMENTS, licenses: LICENSES, details: LICENSES },
) {
  const document = parse(query.document);
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;
  return planOperation(document, operation, query.variables(), {
    accepts: argumentsAccepted,
    listSizes: sizes,
    showCallsAtOnce: 32,
    budget: 50,
  });
}

const sourcesOf = (plan: OperationPlan) => plan.sources;

describe('the benchmark operations, once the caller has been seen', () => {
  beforeAll(async () => {
    await run(byNumber(1)); // the caller's list lengths are known from here on
  });

  test('1. assignments → licences → detail: the grouped list and the detail list, no batch left over', async () => {
    const { calls, batches, plan } = await run(byNumber(1));
    expect(plan.estimate).toEqual({ 'license.byAssignment.list': 1, 'licenseDetail.list': 1 });
    expect(calls).toEqual(['license.byAssignment.list', 'licenseDetail.list']);
    // Every record is in hand once the lists are: the resolvers read them without a loader.
    expect(batches).toEqual([]);
  });

  test('2. licences + assignment + detail: three lists, no batch left over', async () => {
    const { calls, batches, plan } = await run(byNumber(2));
    expect(sourcesOf(plan)).toEqual({
      assignment: 'list',
      license: 'list',
      detail: 'list',
      licensesOfAssignment: 'licenseList',
    });
    expect(calls).toEqual(['license.list', 'licenseDetail.list', 'productAssignment.list']);
    expect(batches).toEqual([]);
  });

  test('3. five aliased license(id:): five show calls in one batch, and the assignment list', async () => {
    const { calls, batches, plan } = await run(byNumber(3));
    expect(plan.estimate).toEqual({ 'license.show': 5, 'productAssignment.list': 1 });
    expect(calls).toEqual([...NAMED_LICENSE_IDS.map((id) => `license.show ${id}`), 'productAssignment.list']);
    // The five licences start together as the operation starts; their assignments come from the list.
    expect(batches).toEqual(['licenseById 5']);
  });

  test('4. a filtered, paged licence list: the licence list and the assignment list', async () => {
    const { calls, plan } = await run(byNumber(4));
    expect(plan.estimate).toEqual({ 'license.list': 1, 'productAssignment.list': 1 });
    expect(calls).toEqual(['license.list', 'productAssignment.list']);
  });

  test('5. generateLicense: the call, then its payload by show calls', () => {
    const plan = planOf(byNumber(5));
    expect(plan.estimate).toEqual({ 'license.generate': 1, 'productAssignment.show': 1 });
    expect(plan.afterWrite?.sources.assignment).toBe('show');
  });
});

describe('the benchmark operations for a caller never seen', () => {
  test('3. five aliased license(id:) read the licence list, counting a show call for each id it may lack', () => {
    const plan = planOf(byNumber(3), {});
    expect(plan.sources.license).toBe('list');
    expect(plan.estimate).toEqual({ 'license.list': 1, 'license.show': 5, 'productAssignment.list': 1 });
  });

  test('3. with a short licence list, the list is cheaper than five show calls', () => {
    expect(planOf(byNumber(3), { assignments: 40, licenses: 200, details: 200 }).sources.license).toBe('list');
  });
});
