/**
 * Test helper: the real server in front of the portal emulator, both on port 0, spoken to over real HTTP.
 */
import { postTo } from './http';
import { loadConfig } from '../../src/config';
import { startServer, type RunningServer, type ServerParts } from '../../src/main';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator';

export interface Stack {
  server: RunningServer;
  emulator: Emulator;
  /** The server's origin, e.g. `http://127.0.0.1:43210`. */
  origin: string;
  graphqlUrl: string;
  /** The `Authorization` header of the demo user of each customer. */
  auth: { acme: string; acmeOps: string; globex: string };
  /** Posts a GraphQL operation as the given caller (Acme's demo user by default). */
  gql<T = GraphQLData>(
    query: string,
    variables?: Record<string, unknown>,
    authorization?: string | null,
  ): Promise<GraphQLResult<T>>;
  close(): Promise<void>;
}

type GraphQLData = Record<string, any>;

interface GraphQLResult<T = GraphQLData> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, any> }>;
}

export interface StackOptions {
  emulator?: EmulatorOptions;
  /** Environment variables for the server's configuration, on top of the test defaults. */
  env?: Record<string, string>;
  /**
   * Demo mode, as `npm start` with no PORTAL_URL: the server starts the embedded emulator itself (configured by
   * `env`'s EMULATOR_* settings; `emulator` is ignored), and `Stack.emulator` is that one.
   */
  embeddedEmulator?: boolean;
  /** Parts the server is made with beside its configuration (an in-memory span exporter's tracing). */
  parts?: ServerParts;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const separate = options.embeddedEmulator ? undefined : await startEmulator({ port: 0, ...options.emulator });
  const server = await startServer(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      ...(separate ? { PORTAL_URL: separate.url } : {}),
      LOG_LEVEL: 'silent',
      ...options.env,
    }),
    options.parts,
  );
  const emulator = separate ?? server.emulator!;
  const account = (username: string) => {
    const found = emulator.accounts.find((candidate) => candidate.username === username);
    if (!found) throw new Error(`The emulator has no demo account ${username}`);
    return found.authorization;
  };
  const graphqlUrl = server.graphqlUrl;
  const auth = { acme: account('demo'), acmeOps: account('acme-ops'), globex: account('globex') };
  return {
    server,
    emulator,
    origin: new URL(graphqlUrl).origin,
    graphqlUrl,
    auth,
    async gql(query, variables, authorization = auth.acme) {
      const answer = await postTo(graphqlUrl, { query, variables }, authorization === null ? {} : { authorization });
      return { ...answer.json, status: answer.status } as never;
    },
    async close() {
      await server.close();
      await separate?.close();
    },
  };
}
