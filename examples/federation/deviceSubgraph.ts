/**
 * An example of another company's subgraph: a device service that owns `Device { hwid }` and references the licence
 * each device runs on, which this server's subgraph resolves. The federation test composes the two and runs a
 * gateway on them; `npm run subgraph:sdl -- --supergraph` prints what they compose to.
 */
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';

/** One device of the example: its hardware id, and the id of the licence it runs on. */
export interface Device {
  hwid: string;
  licenseId: number;
}

/** The device service's SDL: `License` is the portal subgraph's entity, referenced here by its key only. */
export const DEVICE_SUBGRAPH_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  "Every device of the company."
  devices: [Device!]!
}

"A camera or terminal of the company, with the licence it runs on."
type Device @key(fields: "hwid") {
  hwid: String!
  license: License
}

type License @key(fields: "id", resolvable: false) {
  id: ID!
}
`;

/** The device service's executable schema, serving `devices`. */
export function deviceSubgraphSchema(devices: readonly Device[]) {
  return buildSubgraphSchema([
    {
      typeDefs: parse(DEVICE_SUBGRAPH_SDL),
      resolvers: {
        Query: { devices: () => devices },
        Device: { license: (device: Device) => ({ __typename: 'License', id: String(device.licenseId) }) },
      },
    },
  ]);
}
