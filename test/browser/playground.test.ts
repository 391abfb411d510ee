/**
 * The GraphiQL playground in a real headless Chromium (Debian's `/usr/bin/chromium`, never a downloaded one),
 * against the real server in demo mode over real sockets: a person signs in with the form, runs the examples with
 * the session's cookie alone (the emulator's log names the user), and signs out. Over plain HTTP: what the page
 * starts with, with and without sessions, the page served whatever cookie comes with it, and the routing that keeps
 * every API client on Apollo whether the playground is on or off.
 *
 * `UPDATE_SCREENSHOT=1 npx jest test/browser` also rewrites the README's `docs/playground.png`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page, type Response, type Route } from 'playwright-core';
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
  /**
   * What the page's `GET /auth/session` answered each time. A 401 there is the answer "nobody is signed in" and no
   * problem; Chromium logs it on the console all the same ("Failed to load resource"), which is not one either.
   */
  const askedWhoIsSignedIn: number[] = [];
  const isSessionQuestion = (url: string, method = 'GET') =>
    method === 'GET' && new URL(url).pathname === '/auth/session';

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
      if (isSessionQuestion(response.url(), response.request().method())) askedWhoIsSignedIn.push(response.status());
      else if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    page.on('console', (message) => {
      const sessionQuestionRefused =
        message.text().includes('status of 401') && isSessionQuestion(message.location().url);
      if ((message.type() === 'error' || message.type() === 'warning') && !sessionQuestionRefused)
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

  test('opens the example operations as tabs with no Authorization, and the sign-in form with the demo account', async () => {
    await expect(tabTitles(page)).resolves.toEqual(['Overview', 'ExpiringSoon', 'GenerateLicense']);
    expect(await editorText(page, '.graphiql-query-editor')).toContain('productAssignments {');
    expect(await visibleToolText(page)).toBe('');
    await page.locator('#sign-in').waitFor();
    expect(await page.locator('#signed-in').isHidden()).toBe(true);
    expect(await page.inputValue('#sign-in input[name=username]')).toBe('demo');
    expect(await page.inputValue('#sign-in input[name=password]')).toBe('demo');
    expect(askedWhoIsSignedIn).toEqual([401]);
  });

  test('loads the schema: the documentation explorer lists the root types', async () => {
    await expect(page.locator('.graphiql-doc-explorer').innerText()).resolves.toMatch(
      /query: Query\s+mutation: Mutation/,
    );
  });

  test('signs in through the form: the browser keeps an HttpOnly, Secure, SameSite=Strict cookie, and the bar names the user', async () => {
    await page.fill('#sign-in input[name=username]', 'acme-ops');
    await page.fill('#sign-in input[name=password]', 'acme-ops');
    const signedIn = page.waitForResponse(
      (response) => response.request().method() === 'POST' && new URL(response.url()).pathname === '/auth/session',
    );
    await page.click('#sign-in button[type=submit]');
    expect((await signedIn).status()).toBe(200);
    await page.locator('#signed-in').waitFor();
    expect(await page.locator('#session-user').innerText()).toBe('acme-ops');
    expect(await page.locator('#sign-in').isHidden()).toBe(true);
    expect(await page.context().cookies()).toEqual([
      expect.objectContaining({ name: 'portal_session', path: '/', httpOnly: true, secure: true, sameSite: 'Strict' }),
    ]);
    // No script of the page can read it.
    expect(await page.evaluate('document.cookie')).toBe('');
  });

  test('runs the nested example query with the cookie alone, and the portal answers it as the signed-in user', async () => {
    stack.emulator.requestLog.clear();
    const posted = page.waitForRequest(
      (request) => request.method() === 'POST' && request.postData()?.includes('query Overview') === true,
    );
    await page.click('.graphiql-execute-button');
    const headers = await (await posted).allHeaders();
    expect(headers['content-type']).toBe('application/json');
    expect(headers['authorization']).toBeUndefined();
    expect(headers['cookie']).toMatch(/^portal_session=[A-Za-z0-9_-]{43}$/);

    const productName = stack.emulator.state.assignmentsOf('acme-ops')[0]!.product_name;
    const result = JSON.parse(await resultShowing(page, '"productAssignments"', productName));
    expect(result.errors).toBeUndefined();
    expect(result.data.productAssignments[0].licenses.nodes[0].detail.downloadUrl).toMatch(/^\/licenses\/\d+\/file$/);
    const users = stack.emulator.requestLog.entries().map((entry) => entry.username);
    expect(users.length).toBeGreaterThan(0);
    expect(new Set(users)).toEqual(new Set(['acme-ops']));

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

  let endedSession: string;
  test('signs out: the cookie is gone, the form is back as the page opened, and operations act as no one', async () => {
    endedSession = (await page.context().cookies())[0]!.value;
    const signedOut = page.waitForResponse(
      (response) => response.request().method() === 'DELETE' && new URL(response.url()).pathname === '/auth/session',
    );
    await page.click('#sign-out');
    expect((await signedOut).status()).toBe(204);
    await page.locator('#sign-in').waitFor();
    expect(await page.context().cookies()).toEqual([]);
    expect(await page.inputValue('#sign-in input[name=username]')).toBe('demo');

    stack.emulator.requestLog.clear();
    await page.locator('.graphiql-tab', { hasText: 'Overview' }).click();
    await waitFor(
      async () => (await queryEditorOperationName(page)) === 'Overview',
      'the query editor to select Overview',
    );
    await page.click('.graphiql-execute-button');
    const result = JSON.parse(await resultShowing(page, '"UNAUTHENTICATED"'));
    expect(result.data).toEqual({ productAssignments: null });
    const users = stack.emulator.requestLog.entries().map((entry) => entry.username);
    expect(users.length).toBeGreaterThan(0);
    expect(new Set(users)).toEqual(new Set([null]));
  });

  test('a page load with the cookie of an ended session is the page and its form; the cookie is expired', async () => {
    await page.context().addCookies([
      {
        name: 'portal_session',
        value: endedSession,
        url: stack.origin,
        httpOnly: true,
        secure: true,
        sameSite: 'Strict',
      },
    ]);
    askedWhoIsSignedIn.length = 0;
    // The question who is signed in answers slowly: the page's first query to /graphql still waits for it, and so
    // does not go with the ended session's cookie (it would be refused, 401, and the page would ask again).
    const slowly = async (route: Route) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await route.continue();
    };
    await page.route('**/auth/session', slowly);
    const before = requested.length;
    const reloaded = await page.reload();
    expect(reloaded?.status()).toBe(200);
    expect(reloaded?.headers()['content-type']).toMatch(/^text\/html/);
    await page.waitForSelector('.graphiql-container');
    await page.locator('#sign-in').waitFor();
    await waitFor(async () => askedWhoIsSignedIn.length > 0, "the page's question who is signed in");
    const schemaAsked = () => requested.slice(before).includes(stack.graphqlUrl);
    await waitFor(async () => schemaAsked(), "the page's query for the schema");
    await page.unroute('**/auth/session', slowly);
    expect(askedWhoIsSignedIn).toEqual([401]);
    expect(await page.context().cookies()).toEqual([]);
  });

  test('every request went to this server, and nothing failed or logged an error', () => {
    expect(requested.length).toBeGreaterThan(5);
    expect(requested.filter((url) => new URL(url).origin !== stack.origin)).toEqual([]);
    expect(new Set(requested.filter((url) => url.includes(PLAYGROUND_ASSETS_PATH))).size).toBe(6);
    expect(problems).toEqual([]);
  });
});

describe('the playground over HTTP, outside demo mode', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { PLAYGROUND: 'true' } });
  });
  afterAll(() => stack.close());

  test('GET / is the page, with an empty sign-in form and no Authorization in its tabs (it would win over the cookie)', async () => {
    const response = await fetch(`${stack.origin}/`, { headers: { accept: BROWSER_ACCEPT } });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    expect(html).toContain('<form id="sign-in"');
    const config = pageConfig(html);
    expect(config.signIn).toEqual({ path: '/auth/session', username: '', password: '' });
    expect(config.persistHeaders).toBe(false);
    expect(config.defaultHeaders).toBe('');
    expect(config.tabs.map((tab) => tab.headers)).toEqual(['', '', '']);
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
      expect(pageConfig(await page.text()).signIn).toBeDefined();
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

describe('the playground with SESSIONS=off', () => {
  const pageOf = async (embeddedEmulator: boolean): Promise<string> => {
    const stack = await startStack({ embeddedEmulator, env: { PLAYGROUND: 'true', SESSIONS: 'off' } });
    try {
      return await (await fetch(`${stack.origin}/`, { headers: { accept: BROWSER_ACCEPT } })).text();
    } finally {
      await stack.close();
    }
  };

  test('in demo mode: no sign-in form, and every tab sends the demo account, kept in localStorage', async () => {
    const html = await pageOf(true);
    expect(html).not.toContain('id="sign-in"');
    const config = pageConfig(html);
    const demo = JSON.stringify({ Authorization: `Basic ${Buffer.from('demo:demo').toString('base64')}` }, null, 2);
    expect(config.signIn).toBeUndefined();
    expect(config.persistHeaders).toBe(true);
    expect(config.tabs.map((tab) => tab.headers)).toEqual([demo, demo, demo]);
  });

  test('against a portal: no sign-in form, and placeholder credentials instead of any account, never kept', async () => {
    const html = await pageOf(false);
    expect(html).not.toContain('id="sign-in"');
    const config = pageConfig(html);
    expect(config.signIn).toBeUndefined();
    expect(config.persistHeaders).toBe(false);
    expect(config.defaultHeaders).toBe(PLACEHOLDER_HEADERS);
    expect(config.tabs.map((tab) => tab.headers)).toEqual([
      PLACEHOLDER_HEADERS,
      PLACEHOLDER_HEADERS,
      PLACEHOLDER_HEADERS,
    ]);
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
