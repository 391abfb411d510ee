/**
 * The GraphiQL playground in a real headless Chromium (Debian's `/usr/bin/chromium`, never a downloaded one),
 * against the real server in demo mode over real sockets; and, over plain HTTP, the routing that keeps every API
 * client on Apollo whether the playground is on or off.
 *
 * `UPDATE_SCREENSHOT=1 npx jest test/browser` also rewrites the README's `docs/playground.png`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import { startStack, type Stack } from '../helpers/stack';
import { PLAYGROUND_ASSETS_PATH, playgroundAssetUrls } from '../../src/http/playground';
import { PLACEHOLDER_HEADERS, type PlaygroundConfig } from '../../src/http/playgroundPage';
import { postTo } from '../helpers/http';

const CHROMIUM = '/usr/bin/chromium';
const SKIP_REASON = `${CHROMIUM} is missing (apt-get install chromium); this test runs whenever it is there, and always in CI`;
const skipBrowser = !existsSync(CHROMIUM) && !process.env.CI;
if (skipBrowser) console.warn(`Skipping the playground's browser test: ${SKIP_REASON}.`);
const describeInBrowser = skipBrowser ? describe.skip : describe;

const ROOT = join(__dirname, '..', '..');
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

describeInBrowser(`the playground in headless Chromium${skipBrowser ? ` (SKIPPED: ${SKIP_REASON})` : ''}`, () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let pageResponse: Response | null;
  /** Every request the page made, and everything that went wrong: failed requests, HTTP errors, console errors. */
  const requested: string[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ embeddedEmulator: true, env: { PLAYGROUND: 'true' } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Belt and braces: a request for any other host could not leave the machine (it would fail, and show).
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    page.on('request', (request) => requested.push(request.url()));
    page.on('requestfailed', (request) =>
      problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`),
    );
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning')
        problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    pageResponse = await page.goto(stack.graphqlUrl);
    await page.waitForSelector('.graphiql-container');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  test('GET /graphql from a browser is our page, under a Content-Security-Policy of this server only', async () => {
    expect(pageResponse?.status()).toBe(200);
    const headers = pageResponse!.headers();
    expect(headers['content-type']).toMatch(/^text\/html/);
    expect(headers['content-security-policy']).toContain("default-src 'self'");
    expect(headers['content-security-policy']).toContain("script-src 'self';");
    expect(await page.title()).toBe('portal-graphql playground');
  });

  test('opens the example operations as tabs, with the demo account signed in', async () => {
    await expect(tabTitles(page)).resolves.toEqual(['Overview', 'ExpiringSoon', 'GenerateLicense']);
    expect(await editorText(page, '.graphiql-query-editor')).toContain('productAssignments {');
    expect(JSON.parse(await visibleToolText(page))).toEqual({ Authorization: stack.auth.acme });
  });

  test('loads the schema: the documentation explorer lists the root types', async () => {
    await expect(page.locator('.graphiql-doc-explorer').innerText()).resolves.toMatch(
      /query: Query\s+mutation: Mutation/,
    );
  });

  test('runs the nested example query and shows its data', async () => {
    const posted = page.waitForRequest(
      (request) => request.method() === 'POST' && request.postData()?.includes('query Overview') === true,
    );
    await page.click('.graphiql-execute-button');
    const request = await posted;
    expect(request.headers()['content-type']).toBe('application/json');
    expect(request.headers()['authorization']).toBe(stack.auth.acme);

    const productName = stack.emulator.state.assignmentsOf('demo')[0]!.product_name;
    const result = JSON.parse(await resultShowing(page, '"productAssignments"', productName));
    expect(result.errors).toBeUndefined();
    expect(result.data.productAssignments[0].licenses.nodes[0].detail.downloadUrl).toMatch(/^\/licenses\/\d+\/file$/);

    mkdirSync(join(ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-output', 'playground.png') });
    if (process.env.UPDATE_SCREENSHOT === '1') await page.screenshot({ path: join(ROOT, 'docs', 'playground.png') });
  });

  test('runs the generateLicense example with its variables', async () => {
    await page.locator('.graphiql-tab', { hasText: 'GenerateLicense' }).click();
    expect(await editorText(page, '.graphiql-query-editor')).toContain('mutation GenerateLicense(');
    // GraphiQL works out the operation to send 100 ms (debounced) after the editor changes: a click sooner would
    // send the previous tab's operation name.
    await waitFor(
      async () => (await queryEditorOperationName(page)) === 'GenerateLicense',
      'the query editor to select GenerateLicense',
    );
    await page.click('.graphiql-execute-button');
    const result = JSON.parse(await resultShowing(page, '"generateLicense"'));
    expect(result.errors).toBeUndefined();
    expect(result.data.generateLicense.license.hwid).toBe('IM0000playground');
  });

  test("GraphiQL's dialogs open within the Content-Security-Policy", async () => {
    await page.click('[aria-label="Open settings dialog"]');
    await page.waitForSelector('.graphiql-dialog');
    await page.keyboard.press('Escape');
  });

  test('every request went to this server, and nothing failed or logged an error', () => {
    expect(requested.length).toBeGreaterThan(5);
    expect(requested.filter((url) => new URL(url).origin !== stack.origin)).toEqual([]);
    expect(requested.filter((url) => url.includes(PLAYGROUND_ASSETS_PATH))).toHaveLength(6);
    expect(problems).toEqual([]);
  });
});

describe('the playground over HTTP, outside demo mode', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { PLAYGROUND: 'true' } });
  });
  afterAll(() => stack.close());

  test('GET / is the page, with placeholder credentials instead of any account', async () => {
    const response = await fetch(`${stack.origin}/`, { headers: { accept: BROWSER_ACCEPT } });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const config = pageConfig(await response.text());
    expect(config.persistHeaders).toBe(false);
    expect(config.defaultHeaders).toBe(PLACEHOLDER_HEADERS);
    expect(config.tabs.map((tab) => tab.headers)).toEqual([
      PLACEHOLDER_HEADERS,
      PLACEHOLDER_HEADERS,
      PLACEHOLDER_HEADERS,
    ]);
  });

  test('a browser opening the page with the cookie of an ended session gets the page, where an API call gets 401', async () => {
    const signedIn = await postTo(`${stack.origin}/auth/session`, { username: 'demo', password: 'demo' });
    expect(signedIn.status).toBe(200);
    const id = /portal_session=([^;]*)/.exec(String(signedIn.headers['set-cookie']))![1]!;
    const cookie = `portal_session=${id}`;
    const withCookie = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${stack.origin}${path}`, { headers: { cookie, ...headers } });
    expect((await withCookie('/graphql', { accept: BROWSER_ACCEPT })).status).toBe(200);
    expect((await fetch(`${stack.origin}/auth/session`, { method: 'DELETE', headers: { cookie } })).status).toBe(204);

    for (const path of ['/graphql', '/']) {
      const page = await withCookie(path, { accept: BROWSER_ACCEPT });
      expect({ path, status: page.status, type: page.headers.get('content-type') }).toEqual({
        path,
        status: 200,
        type: 'text/html; charset=utf-8',
      });
      expect(page.headers.get('set-cookie')).toBeNull();
      expect(await page.text()).toContain('id="playground-config"');
    }
    const api = await withCookie(`/graphql?query=${encodeURIComponent('{__typename}')}`, {
      'apollo-require-preflight': '1',
    });
    expect(api.status).toBe(401);
    expect(((await api.json()) as any).errors[0].extensions).toEqual({
      code: 'UNAUTHENTICATED',
      reason: 'SESSION_ENDED',
    });
  });

  test('every example operation runs without errors against the emulator', async () => {
    const { tabs } = pageConfig(await (await fetch(`${stack.origin}/`)).text());
    for (const tab of tabs) {
      const result = await stack.gql(tab.query, tab.variables === undefined ? undefined : JSON.parse(tab.variables));
      expect({ query: tab.query.split('\n').find((line) => !line.startsWith('#')), errors: result.errors }).toEqual({
        query: expect.any(String),
        errors: undefined,
      });
    }
  });

  test('its files are served from node_modules, cached for a year, and gzipped when asked', async () => {
    const html = await (await fetch(`${stack.origin}/`)).text();
    const urls = [...html.matchAll(/(?:src|href)="(\/playground\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    expect(urls.sort()).toEqual(Object.values(playgroundAssetUrls()).sort());
    for (const url of urls) {
      const response = await fetch(`${stack.origin}${url}`, { headers: { 'accept-encoding': 'gzip' } });
      expect({ url, status: response.status, cache: response.headers.get('cache-control') }).toEqual({
        url,
        status: 200,
        cache: 'public, max-age=31536000, immutable',
      });
      expect(response.headers.get('content-type')).toMatch(url.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
    const graphiql = await fetch(`${stack.origin}${urls.find((url) => url.endsWith('graphiql.min.js'))}`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(graphiql.headers.get('content-encoding')).toBe('gzip');
  });

  test('API GETs of /graphql still reach Apollo', async () => {
    const withQuery = await fetch(`${stack.graphqlUrl}?query=${encodeURIComponent('{__typename}')}`, {
      headers: { accept: BROWSER_ACCEPT, 'apollo-require-preflight': '1' },
    });
    expect(withQuery.status).toBe(200);
    expect(((await withQuery.json()) as { data: unknown }).data).toEqual({ __typename: 'Query' });

    const jsonAccept = await fetch(stack.graphqlUrl, {
      headers: { accept: 'application/json', 'apollo-require-preflight': '1' },
    });
    expect(jsonAccept.status).toBe(400);
    expect(jsonAccept.headers.get('content-type')).toMatch(/^application\/json/);
  });
});

describe.each<{ name: string; env: Record<string, string> }>([
  { name: 'PLAYGROUND=false', env: { PLAYGROUND: 'false' } },
  { name: 'NODE_ENV=production and no PLAYGROUND', env: { NODE_ENV: 'production' } },
])('with the playground off ($name)', ({ env }) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ embeddedEmulator: true, env });
  });
  afterAll(() => stack.close());

  test('GET / is 404, and so are the playground files', async () => {
    expect((await fetch(`${stack.origin}/`, { headers: { accept: BROWSER_ACCEPT } })).status).toBe(404);
    for (const url of Object.values(playgroundAssetUrls()))
      expect({ url, status: (await fetch(`${stack.origin}${url}`)).status }).toEqual({ url, status: 404 });
  });

  test("GET /graphql from a browser gets Apollo's answer, not a page", async () => {
    const response = await fetch(stack.graphqlUrl, { headers: { accept: BROWSER_ACCEPT } });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  });

  test('an API GET with a query and the preflight header still answers JSON', async () => {
    const response = await fetch(`${stack.graphqlUrl}?query=${encodeURIComponent('{__typename}')}`, {
      headers: { 'apollo-require-preflight': '1' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await response.json()) as { data: unknown }).data).toEqual({ __typename: 'Query' });
  });
});

/** The configuration the page hands to its script. */
function pageConfig(html: string): PlaygroundConfig {
  const match = /<script type="application\/json" id="playground-config">(.*?)<\/script>/s.exec(html);
  if (!match) throw new Error(`The page has no playground configuration:\n${html}`);
  return JSON.parse(match[1]!) as PlaygroundConfig;
}

async function tabTitles(page: Page): Promise<string[]> {
  return (await page.locator('.graphiql-tab').allInnerTexts()).map((title) => title.trim());
}

/** The text of the CodeMirror editor inside `selector`. */
async function editorText(page: Page, selector: string): Promise<string> {
  // CodeMirror 5 hangs its instance on its wrapper element.
  return page
    .locator(`${selector} .CodeMirror`)
    .first()
    .evaluate((element) => (element as unknown as { CodeMirror: { getValue(): string } }).CodeMirror.getValue());
}

/** The result pane's text, once it shows every one of `needles`. */
async function resultShowing(page: Page, ...needles: string[]): Promise<string> {
  let text = '';
  await waitFor(
    async () => {
      text = await editorText(page, '.result-window');
      return needles.every((needle) => text.includes(needle));
    },
    `the result pane to show ${needles.join(' and ')}`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; it shows:\n${text}`);
  });
  return text;
}

/** The operation GraphiQL will send, which it keeps on the query editor's CodeMirror instance. */
async function queryEditorOperationName(page: Page): Promise<string | null> {
  return page
    .locator('.graphiql-query-editor .CodeMirror')
    .evaluate(
      (element) =>
        (element as unknown as { CodeMirror: { operationName?: string | null } }).CodeMirror.operationName ?? null,
    );
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The text of the open editor tool below the query: variables or headers. */
async function visibleToolText(page: Page): Promise<string> {
  return editorText(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)');
}
