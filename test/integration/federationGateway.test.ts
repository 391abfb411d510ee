/**
 * The subgraph in a real supergraph: its `_service.sdl`, fetched over HTTP, composed by Apollo's composition library
 * with a device service's subgraph, and a real gateway (`@apollo/gateway`, in process) on the composed supergraph,
 * forwarding each client's `Authorization` to this server as a company's gateway is configured to. The portal's
 * calls are read off the emulator's log.
 */
import { parse } from 'graphql';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, LocalGraphQLDataSource, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import type { GatewayInterface } from '@apollo/server-gateway-interface';
import { DEVICE_SUBGRAPH_SDL, deviceSubgraphSchema, type Device } from '../../examples/federation/deviceSubgraph';
import { startStack, type Stack } from '../helpers/stack';
import { routesCalled } from '../helpers/portalLog';

interface GatewayContext {
  authorization: string;
}

let stack: Stack;
let devices: Device[];
let gateway: ApolloServer<GatewayContext>;
let supergraph: ReturnType<typeof composeServices>;

beforeAll(async () => {
  stack = await startStack({ emulator: { seed: 'large' }, env: { FEDERATION_SUBGRAPH: 'true' } });
  // 100 devices, each running one of the demo customer's hardware-bound licences.
  devices = stack.emulator.state
    .licensesOf('demo')
    .filter((license) => license.hwid !== null)
    .slice(0, 100)
    .map((license) => ({ hwid: license.hwid!, licenseId: license.id }));
  const sdl = (await stack.gql('{ _service { sdl } }', undefined, null)).data!._service.sdl as string;
  supergraph = composeServices([
    { name: 'portal', typeDefs: parse(sdl), url: stack.graphqlUrl },
    { name: 'devices', typeDefs: parse(DEVICE_SUBGRAPH_SDL), url: 'http://devices.example/graphql' },
  ]);
  if (supergraph.errors) throw new Error(supergraph.errors.map((error) => error.message).join('\n'));
  const deviceSchema = deviceSubgraphSchema(devices);
  const apolloGateway = new ApolloGateway({
    supergraphSdl: supergraph.supergraphSdl,
    buildService({ name, url }) {
      if (name === 'devices') return new LocalGraphQLDataSource(deviceSchema);
      // The client's own credentials go with its requests to the portal subgraph.
      return new RemoteGraphQLDataSource<GatewayContext>({
        url: url!,
        willSendRequest({ request, context }) {
          request.http?.headers.set('authorization', context.authorization);
        },
      });
    },
  });
  gateway = new ApolloServer<GatewayContext>({ gateway: apolloGateway as unknown as GatewayInterface });
  await gateway.start();
});
afterAll(async () => {
  await gateway?.stop();
  await stack.close();
});

beforeEach(async () => {
  await stack.emulator.requestLog.whenIdle();
  stack.emulator.requestLog.clear();
});

const routes = () => routesCalled(stack.emulator);

async function throughGateway(query: string, authorization: string) {
  const response = await gateway.executeOperation({ query }, { contextValue: { authorization } });
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  return response.body.singleResult;
}

const DEVICES_WITH_LICENCES = `{
  devices {
    hwid
    license { id hwid expirationDate productAssignment { productName } detail { fileName } }
  }
}`;

test('the subgraph SDL composes with a device service: no composition errors', () => {
  expect(supergraph.errors).toBeUndefined();
  expect(supergraph.supergraphSdl).toContain('type Device');
  expect(supergraph.supergraphSdl).toMatch(
    /type License\s+@join__type\(graph: DEVICES, key: "id", resolvable: false\)/,
  );
});

test("100 devices with their licences, assignments and details: at most three portal calls, the caller's lists", async () => {
  const result = await throughGateway(DEVICES_WITH_LICENCES, stack.auth.acme);
  expect(result.errors).toBeUndefined();
  const answered = (result.data as { devices: Array<{ hwid: string; license: Record<string, any> }> }).devices;
  expect(answered).toHaveLength(100);
  for (const [index, device] of answered.entries()) {
    expect(device.hwid).toBe(devices[index]!.hwid);
    // The licence the portal subgraph resolved is the one the device named, bound to the device's hardware.
    expect(device.license).toMatchObject({ id: String(devices[index]!.licenseId), hwid: device.hwid });
    expect(device.license.productAssignment.productName).toEqual(expect.any(String));
    expect(device.license.detail.fileName).toEqual(expect.any(String));
  }
  expect(routes()).toEqual(['license.list', 'licenseDetail.list', 'productAssignment.list']);
});

test("the same through this server's _entities directly: the same three calls", async () => {
  const result = await stack.gql(
    `query($representations: [_Any!]!) { _entities(representations: $representations) {
      ... on License { id hwid expirationDate productAssignment { productName } detail { fileName } } } }`,
    { representations: devices.map((device) => ({ __typename: 'License', id: String(device.licenseId) })) },
  );
  expect(result.errors).toBeUndefined();
  expect(result.data!._entities).toHaveLength(100);
  expect(routes()).toEqual(['license.list', 'licenseDetail.list', 'productAssignment.list']);
});

test("another customer's user: the subgraph refuses the batch by its budget after the one list call, and the gateway says so", async () => {
  const result = await throughGateway(`{ devices { hwid license { id hwid } } }`, stack.auth.globex);
  // Globex's licence list lacks all 100: answering each by its show call would take 101 calls, over the budget of 50.
  const refusal = result.errors?.[0]?.extensions?.response as { status: number; body: { errors: any[] } };
  expect(refusal.status).toBe(400);
  expect(refusal.body.errors[0].extensions).toMatchObject({ reason: 'UPSTREAM_CALL_BUDGET', estimatedCalls: 101 });
  expect(routes()).toEqual(['license.list']);
  // The device service's part is still answered; the licence holds only the key the device named.
  const answered = (result.data as { devices: Array<{ hwid: string; license: { hwid: unknown } }> }).devices;
  expect(answered.map((device) => device.hwid)).toEqual(devices.map((device) => device.hwid));
  expect(answered.every((device) => device.license.hwid === null)).toBe(true);
});
