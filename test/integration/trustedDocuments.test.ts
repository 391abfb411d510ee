/**
 * Trusted documents: with a manifest of the frontends' operations, `enforce` runs those and refuses the rest before
 * anything is parsed or any portal call is made, and `report` runs everything but says what would be refused.
 * Over real sockets, against the emulator, with manifests written here in both formats.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../../src/config';
import { startServer } from '../../src/main';
import { startStack, type Stack } from '../helpers/stack';
import { postTo } from '../helpers/http';
import { startChildServer } from '../helpers/childServer';

const ASSIGNMENTS = 'query Assignments { productAssignments { id productName } }';
const LICENSE = 'query License($id: ID!) { license(id: $id) { id hwid } }';
const UNLISTED = '{ productAssignments { id note } }';

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const folder = mkdtempSync(join(tmpdir(), 'trusted-documents-'));
/** Writes a manifest file and answers its path. */
function manifestFile(name: string, content: unknown): string {
  const path = join(folder, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
/** graphql-codegen's client preset: ids are the SHA-1 of the text by default. */
const clientPreset = (...documents: string[]) => Object.fromEntries(documents.map((text) => [sha1(text), text]));
/** Apollo's persisted query manifest: ids are the SHA-256 of the body. */
const apolloManifest = (...documents: Array<{ name: string; body: string }>) => ({
  format: 'apollo-persisted-query-manifest',
  version: 1,
  operations: documents.map(({ name, body }) => ({ id: sha256(body), name, type: 'query', body })),
});

/** The server as its own process, in production, with a manifest and a mode. */
const childServerWith = (mode: 'enforce' | 'report', path: string) =>
  startChildServer({
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    TRUSTED_DOCUMENTS_MODE: mode,
    TRUSTED_DOCUMENTS_PATH: path,
  });

describe('enforce, with a client preset manifest', () => {
  let stack: Stack;
  beforeAll(async () => {
    const path = manifestFile('preset.json', clientPreset(ASSIGNMENTS, LICENSE));
    stack = await startStack({ env: { TRUSTED_DOCUMENTS_MODE: 'enforce', TRUSTED_DOCUMENTS_PATH: path } });
  });
  afterAll(() => stack.close());
  beforeEach(() => stack.emulator.requestLog.clear());

  const post = (body: unknown) => postTo(stack.graphqlUrl, body, { authorization: stack.auth.acme });
  const get = async (params: Record<string, string>) => {
    const url = new URL(stack.graphqlUrl);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    const answer = await request(url, {
      headers: { authorization: stack.auth.acme, 'apollo-require-preflight': 'true' },
    });
    return { status: answer.statusCode, headers: answer.headers, json: (await answer.body.json()) as any };
  };

  test('a listed document by documentId (POST and GET), by APQ hash and by its text: the same data', async () => {
    const byText = await post({ query: ASSIGNMENTS });
    expect(byText.status).toBe(200);
    expect(byText.json.errors).toBeUndefined();
    expect(byText.json.data.productAssignments.length).toBeGreaterThan(0);
    const answers = [
      await post({ documentId: sha1(ASSIGNMENTS) }),
      await post({ documentId: `sha256:${sha256(ASSIGNMENTS)}` }),
      await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256(ASSIGNMENTS) } } }),
      await get({ documentId: sha1(ASSIGNMENTS) }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual(byText.json);
    }
    const withVariables = await get({ documentId: sha1(LICENSE), variables: JSON.stringify({ id: '1002' }) });
    expect(withVariables.json).toEqual({ data: { license: { id: '1002', hwid: expect.any(String) } } });
    // One customer's answer: no shared cache may keep it.
    expect(withVariables.headers['cache-control']).toBe('private, no-store');
  });

  test.each([
    ['an unknown documentId', { documentId: 'f'.repeat(40) }, 404, 'PERSISTED_QUERY_NOT_IN_LIST'],
    [
      'an unknown APQ hash',
      { extensions: { persistedQuery: { version: 1, sha256Hash: 'e'.repeat(64) } } },
      404,
      'PERSISTED_QUERY_NOT_IN_LIST',
    ],
    ['an unlisted text', { query: UNLISTED }, 403, 'QUERY_NOT_IN_PERSISTED_QUERY_LIST'],
    [
      'an APQ registration of an unlisted text',
      { query: UNLISTED, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(UNLISTED) } } },
      403,
      'QUERY_NOT_IN_PERSISTED_QUERY_LIST',
    ],
    ['a text that does not parse', { query: '{ productAssignments {' }, 403, 'QUERY_NOT_IN_PERSISTED_QUERY_LIST'],
    ['a listed text with a space more', { query: `${ASSIGNMENTS} ` }, 403, 'QUERY_NOT_IN_PERSISTED_QUERY_LIST'],
  ])('%s is refused with no portal call', async (_what, body, status, code) => {
    const answer = await post(body);
    expect(answer.status).toBe(status);
    expect(answer.json.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code }) })]);
    if (status === 404) expect(answer.json.errors[0].extensions.id).toMatch(/^[ef]+$/);
    expect(stack.emulator.requestLog.count()).toBe(0);
  });

  test('/metrics counts the results, and the requests by document', async () => {
    await post({ documentId: sha1(ASSIGNMENTS) });
    const metrics = await (await request(new URL('/metrics', stack.graphqlUrl))).body.text();
    expect(metrics).toMatch(/graphql_trusted_documents_total\{result="found"\} [1-9]/);
    expect(metrics).toMatch(/graphql_trusted_documents_total\{result="not_in_list"\} [1-9]/);
    expect(metrics).toContain(
      `graphql_trusted_document_requests_total{id="${sha1(ASSIGNMENTS)}",operation="Assignments"}`,
    );
  });
});

test('enforce with an Apollo manifest: a document is found by its id, and the playground may not be asked for', async () => {
  const path = manifestFile('apollo.json', apolloManifest({ name: 'Assignments', body: ASSIGNMENTS }));
  const stack = await startStack({ env: { TRUSTED_DOCUMENTS_MODE: 'enforce', TRUSTED_DOCUMENTS_PATH: path } });
  try {
    const answer = await postTo(
      stack.graphqlUrl,
      { documentId: sha256(ASSIGNMENTS) },
      { authorization: stack.auth.acme },
    );
    expect(answer.json.errors).toBeUndefined();
    expect(answer.json.data.productAssignments.length).toBeGreaterThan(0);
  } finally {
    await stack.close();
  }
  expect(() =>
    loadConfig({ TRUSTED_DOCUMENTS_MODE: 'enforce', TRUSTED_DOCUMENTS_PATH: path, PLAYGROUND: 'true' }),
  ).toThrow(/PLAYGROUND/);
});

test('report: an unlisted operation runs, is logged once however often it comes, and is counted every time', async () => {
  const path = manifestFile('report.json', clientPreset(ASSIGNMENTS));
  const server = await childServerWith('report', path);
  try {
    const authorization = `Basic ${Buffer.from('demo:demo').toString('base64')}`;
    for (let i = 0; i < 3; i += 1) {
      const answer = await postTo(
        server.graphqlUrl,
        { query: UNLISTED, variables: { secret: 'v4riable' } },
        { authorization },
      );
      expect(answer.json.errors).toBeUndefined();
      expect(answer.json.data.productAssignments.length).toBeGreaterThan(0);
    }
    const metrics = await (await request(new URL('/metrics', server.graphqlUrl))).body.text();
    expect(metrics).toMatch(/graphql_untrusted_operations_total 3/);
    expect(metrics).toMatch(/graphql_trusted_documents_total\{result="reported"\} 3/);
  } finally {
    await server.stop();
  }
  const lines = server
    .output()
    .stdout.split('\n')
    .filter((line) => line.includes('untrusted operation'));
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toMatchObject({ sha256: sha256(UNLISTED), operationName: null });
  expect(lines[0]).not.toContain('v4riable');
}, 60_000);

describe('a manifest that cannot be used stops start-up', () => {
  const start = (path: string) =>
    startServer(
      loadConfig({ PORT: '0', LOG_LEVEL: 'silent', TRUSTED_DOCUMENTS_MODE: 'enforce', TRUSTED_DOCUMENTS_PATH: path }),
    );

  test('a document that does not fit the schema is named by its id and name', async () => {
    const stale = 'query Stale { productAssignments { id licenceCount } }';
    const path = manifestFile('stale.json', apolloManifest({ name: 'Stale', body: stale }));
    await expect(start(path)).rejects.toThrow(
      new RegExp(
        `trusted document "${sha256(stale)}" \\(Stale\\) in .*stale\\.json does not fit the schema: Cannot query field "licenceCount"`,
      ),
    );
  });

  test.each([
    ['missing', join(folder, 'nowhere.json')],
    ['not JSON', manifestFile('broken.json', '{"abc": ')],
    ['of neither format', manifestFile('list.json', ['query A { productAssignments { id } }'])],
  ])('a file %s is named with what is wrong', async (_what, path) => {
    await expect(start(path)).rejects.toThrow(path);
  });

  test('a mode without a manifest is a configuration error', () => {
    expect(() => loadConfig({ TRUSTED_DOCUMENTS_MODE: 'enforce' })).toThrow(/TRUSTED_DOCUMENTS_PATH/);
    expect(() => loadConfig({ TRUSTED_DOCUMENTS_MODE: 'strict', TRUSTED_DOCUMENTS_PATH: 'x' })).toThrow(
      /TRUSTED_DOCUMENTS_MODE/,
    );
  });
});

test('SIGHUP reads the manifest again: a document added is accepted without a restart; a broken file keeps the old one', async () => {
  const path = manifestFile('reload.json', clientPreset(ASSIGNMENTS));
  const server = await childServerWith('enforce', path);
  const authorization = `Basic ${Buffer.from('demo:demo').toString('base64')}`;
  const ask = (query: string) => postTo(server.graphqlUrl, { query, variables: { id: '1002' } }, { authorization });
  /** Signals the server and waits until it has read the file (its stdout says so, or its log says why not). */
  const hangUp = async (expected: string) => {
    server.process.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while (!server.output().stdout.includes(expected) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
  };
  try {
    expect((await ask(LICENSE)).status).toBe(403);
    writeFileSync(path, JSON.stringify(clientPreset(ASSIGNMENTS, LICENSE)));
    await hangUp('SIGHUP: the trusted documents were reloaded');
    expect((await ask(LICENSE)).json).toEqual({ data: { license: { id: '1002', hwid: expect.any(String) } } });
    writeFileSync(path, '{ not json');
    await hangUp('the manifest was not reloaded');
    expect(server.output().stdout).toContain('the manifest was not reloaded');
    expect((await ask(LICENSE)).status).toBe(200);
    expect((await ask(ASSIGNMENTS)).status).toBe(200);
    expect((await ask(UNLISTED)).status).toBe(403);
  } finally {
    await server.stop();
  }
}, 60_000);
