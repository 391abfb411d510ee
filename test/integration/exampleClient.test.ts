/**
 * The example client (examples/client.ts) run as a frontend engineer would run it: a child process against the
 * real server, which enforces the very manifest the client's build wrote, in front of the emulator, whose state
 * says what the client should have printed and generated and whose log says whom the portal served. Between the
 * client and the server, a proxy over real sockets keeps every request, to show what the client sent: a sign-in,
 * document ids and the session's cookie, never an Authorization header or a query's text.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { postTo } from '../helpers/http';
import { startStack, type Stack } from '../helpers/stack';

const root = join(__dirname, '..', '..');
const MANIFEST = join(root, 'examples', 'generated', 'persisted-documents.json');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runExample(graphqlUrl: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      join(root, 'node_modules', '.bin', 'tsx'),
      ['examples/client.ts'],
      {
        cwd: root,
        env: { ...process.env, GRAPHQL_URL: graphqlUrl, PORTAL_USER: 'demo', PORTAL_PASSWORD: 'demo' },
        timeout: 25_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

interface Forwarded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A proxy on port 0 that forwards every request to `origin` as it came, and keeps each one it forwarded. */
async function recordingProxy(
  origin: string,
): Promise<{ url: string; forwarded: Forwarded[]; close(): Promise<void> }> {
  const target = new URL(origin);
  const forwarded: Forwarded[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      forwarded.push({
        method: incoming.method!,
        path: incoming.url!,
        headers: incoming.headers,
        body: body.toString('utf8'),
      });
      const upstream = request(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (answer) => {
          outgoing.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(outgoing);
        },
      );
      upstream.on('error', (error) => outgoing.destroy(error));
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('examples/client.ts', () => {
  let stack: Stack;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  beforeAll(async () => {
    stack = await startStack({
      env: { TRUSTED_DOCUMENTS_MODE: 'enforce', TRUSTED_DOCUMENTS_PATH: MANIFEST },
    });
    proxy = await recordingProxy(stack.origin);
  });
  afterAll(async () => {
    await proxy?.close();
    await stack?.close();
  });

  it('signs in, prints the overview, generates one licence, downloads exactly its file, and signs out', async () => {
    const state = stack.emulator.state;
    const before = new Set(state.licensesOf('demo').map((license) => license.id));

    const run = await runExample(`${proxy.url}/graphql`);

    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^Signed in as demo /);
    for (const assignment of state.assignmentsOf('demo')) {
      expect(run.stdout).toContain(`#${assignment.id} ${assignment.product_name}:`);
    }

    const generated = state.licensesOf('demo').filter((license) => !before.has(license.id));
    expect(state.licensesOf('demo')).toHaveLength(before.size + 1);
    expect(generated).toHaveLength(1);
    const printedId = /Generated licence (\d+) /.exec(run.stdout)?.[1];
    expect(printedId).toBe(String(generated[0]!.id));
    expect(run.stdout).toContain(`download: /licenses/${generated[0]!.id}/file`);

    const printedBytes = /Downloaded licence file: (\d+) bytes/.exec(run.stdout)?.[1];
    expect(Number(printedBytes)).toBe(state.licenseFile(generated[0]!.id)!.length);
    expect(run.stdout).toMatch(/Signed out\n$/);
  });

  it('sent ids of its manifest and the session cookie, never an Authorization header or a text; the portal served its user', async () => {
    const { forwarded } = proxy;
    expect(forwarded.map((request) => `${request.method} ${request.path.replace(/\d+/g, '<id>')}`)).toEqual([
      'POST /auth/session',
      'POST /graphql',
      'POST /graphql',
      'GET /licenses/<id>/file',
      'DELETE /auth/session',
    ]);
    expect(forwarded.filter((request) => request.headers.authorization !== undefined)).toEqual([]);
    const [signIn, ...withSession] = forwarded;
    expect(JSON.parse(signIn!.body)).toEqual({ username: 'demo', password: 'demo' });
    expect(signIn!.headers.cookie).toBeUndefined();
    const cookies = new Set(withSession.map((request) => request.headers.cookie));
    expect([...cookies]).toEqual([expect.stringMatching(/^portal_session=[A-Za-z0-9_-]{43}$/)]);

    const manifestIds = Object.keys(JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>);
    const operations = forwarded
      .filter((request) => request.path === '/graphql')
      .map((request) => JSON.parse(request.body) as Record<string, unknown>);
    for (const operation of operations) {
      expect(Object.keys(operation).sort()).toEqual(['documentId', 'variables']);
      expect(manifestIds).toContain(operation.documentId);
    }
    // The server ran them because they are in the manifest: it runs no text.
    const text = await postTo(stack.graphqlUrl, { query: '{ __typename }' }, { authorization: stack.auth.acme });
    expect(text.json.errors[0].extensions.code).toBe('QUERY_NOT_IN_PERSISTED_QUERY_LIST');

    const calls = stack.emulator.requestLog.entries();
    expect(calls.map((call) => call.route)).toEqual(
      expect.arrayContaining(['productAssignment.list', 'license.generate', 'licenseDetail.download']),
    );
    expect(new Set(calls.map((call) => call.username))).toEqual(new Set(['demo']));
  });
});
