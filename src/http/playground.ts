/**
 * The GraphiQL playground, self-hosted: `GET /` and `GET /graphql` from a browser serve our page, and the
 * scripts and styles it loads (React, ReactDOM and GraphiQL's UMD builds, from the project's own node_modules)
 * are served under `/playground/assets/`. Nothing is fetched from a CDN.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { basicAuthorization } from '../sessions/sessions';
import {
  PLACEHOLDER_HEADERS,
  PLAYGROUND_CSS,
  PLAYGROUND_SCRIPT,
  exampleTabs,
  playgroundHtml,
  type PlaygroundAssetUrls,
  type PlaygroundConfig,
} from './playgroundPage';

const gzip = promisify(gzipCallback);

export interface PlaygroundOptions {
  /**
   * The path of the sessions' route (`POST`, `GET` and `DELETE`) when browser sessions are on: the page then has a
   * sign-in form, and its tabs carry no `Authorization`, which would win over the session's cookie. Undefined
   * (`SESSIONS=off`): no form, and every tab starts with an `Authorization` header to fill in.
   */
  sessionPath?: string;
  /**
   * The embedded emulator's demo account: filled in the sign-in form, or, with sessions off, every tab's
   * `Authorization`. Never given for a real portal.
   */
  demoAccount?: { username: string; password: string };
}

/** Where the playground's files are served; each URL names its version or hash, so they are cached for a year. */
export const PLAYGROUND_ASSETS_PATH = '/playground/assets/';

/**
 * The page's Content-Security-Policy: everything from this server only, and no inline script. Fonts and the
 * (empty) favicon are `data:` URLs in GraphiQL's style sheet and our page. Styles need 'unsafe-inline': GraphiQL's
 * dialogs inject `<style>` elements (their scroll lock), which 'self' alone blocks.
 */
const PLAYGROUND_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Serves the playground. Call it while the app is built, before it is ready (Apollo's route may come before or
 * after it).
 *
 * `GET /graphql` is Apollo's route, and Fastify refuses a second plain route for the same method and path. A
 * route *constraint* is Fastify's own way to tell such requests apart: the router derives a value from each
 * request (here `browser` when a GET prefers HTML and carries no `query` parameter) and picks the route
 * constrained to that value, falling back to the unconstrained Apollo route for everything else. So API clients
 * reach Apollo exactly as before, with no hook in their path, and the choice is visible in `printRoutes()`.
 *
 * @example
 * if (config.playground) registerPlayground(app, { sessionPath: '/auth/session', demoAccount: { username: 'demo', password: 'demo' } });
 */
export function registerPlayground(app: FastifyInstance, options: PlaygroundOptions): void {
  const assets = playgroundAssets();
  const urls = playgroundAssetUrls();
  const { headers, persistHeaders, signIn } = credentialsOf(options);

  const page = async (_request: unknown, reply: FastifyReply) => {
    const config: PlaygroundConfig = {
      endpoint: '/graphql',
      tabs: exampleTabs(new Date().toISOString().slice(0, 10), headers),
      defaultHeaders: headers,
      persistHeaders,
      ...(signIn ? { signIn } : {}),
    };
    return reply
      .header('content-security-policy', PLAYGROUND_CSP)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8')
      .send(playgroundHtml(urls, config));
  };

  app.addConstraintStrategy({
    name: PLAYGROUND_CONSTRAINT,
    storage: () => handlerStore(),
    // Runs for every request once a route uses the constraint, so it answers from the method first.
    deriveConstraint: (request: IncomingMessage) =>
      wantsPlaygroundPage(request.method, request.url, request.headers.accept) ? BROWSER : undefined,
    mustMatchWhenDerived: false,
  });
  // The page acts with no one's credentials: a session's cookie, even of one that has ended, does not change it.
  const pageRoute = { config: { actsWithCredentials: false } } as const;
  app.get('/graphql', { ...pageRoute, constraints: { [PLAYGROUND_CONSTRAINT]: BROWSER } }, page);
  app.get('/', pageRoute, page);

  for (const asset of Object.values(assets)) {
    app.get(asset.url, async (request, reply) => {
      const body = await asset.body();
      reply
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('x-content-type-options', 'nosniff')
        .header('vary', 'accept-encoding')
        .type(asset.contentType);
      if (body.length > 1024 && acceptsGzip(request.headers['accept-encoding'])) {
        return reply.header('content-encoding', 'gzip').send(await asset.gzipped());
      }
      return reply.send(body);
    });
  }
}

/**
 * How the page's caller is to be known. With sessions, by the sign-in form (the demo account filled in), and the
 * tabs carry no header. Without, by an `Authorization` in every tab: the demo account's, kept in localStorage (it
 * is no secret), or a placeholder to replace, never kept.
 */
function credentialsOf(options: PlaygroundOptions): Pick<PlaygroundConfig, 'persistHeaders' | 'signIn'> & {
  headers: string;
} {
  const { sessionPath, demoAccount } = options;
  if (sessionPath !== undefined)
    return {
      headers: '',
      persistHeaders: false,
      signIn: { path: sessionPath, username: demoAccount?.username ?? '', password: demoAccount?.password ?? '' },
    };
  if (demoAccount === undefined) return { headers: PLACEHOLDER_HEADERS, persistHeaders: false };
  const authorization = basicAuthorization(demoAccount.username, demoAccount.password);
  return { headers: JSON.stringify({ Authorization: authorization }, null, 2), persistHeaders: true };
}

/** Where each file of the page is served. */
export function playgroundAssetUrls(): PlaygroundAssetUrls {
  const assets = playgroundAssets();
  const urls = {} as PlaygroundAssetUrls;
  for (const name of Object.keys(assets) as AssetName[]) urls[name] = assets[name].url;
  return urls;
}

/**
 * Whether a request is a browser opening the GraphQL URL: a GET whose `Accept` prefers `text/html` to every
 * GraphQL response type (as Apollo's own landing page decides) and with no `query` parameter, which would make
 * it an API call.
 */
export function wantsPlaygroundPage(
  method: string | undefined,
  url: string | undefined,
  accept: string | string[] | undefined,
): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const search = url?.indexOf('?') ?? -1;
  if (search >= 0 && new URLSearchParams(url!.slice(search + 1)).has('query')) return false;
  return prefersHtml(Array.isArray(accept) ? accept.join(',') : accept);
}

/**
 * Whether an `Accept` header ranks `text/html` above each media type a GraphQL response can have. Like
 * Negotiator, used by Apollo Server: higher q wins, then the more specific matching range, then the range named
 * first; a full tie goes to JSON. No header, or `*∕*` alone, is an API client.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return false;
  const ranges = parseAccept(accept);
  const html = priority(ranges, 'text', 'html');
  const beats = (other: Priority) =>
    (html.q - other.q || html.specificity - other.specificity || other.order - html.order) > 0;
  return html.q > 0 && GRAPHQL_MEDIA_TYPES.every(([type, subtype]) => beats(priority(ranges, type, subtype)));
}

/** Whether an `Accept-Encoding` header takes gzip (named, or `*`, with a q above 0). */
function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((entry) => {
    const [coding = '', ...parameters] = entry.split(';').map((piece) => piece.trim().toLowerCase());
    const q = parameters.find((parameter) => parameter.startsWith('q='));
    return (coding === 'gzip' || coding === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/** The router's store of handlers by constraint value, for a constraint with few values. */
function handlerStore<Handler>(): { get(value: unknown): Handler | null; set(value: unknown, handler: Handler): void } {
  const handlers = new Map<unknown, Handler>();
  return { get: (value) => handlers.get(value) ?? null, set: (value, handler) => void handlers.set(value, handler) };
}

/** The constraint's name and the value for a browser opening the page. */
const PLAYGROUND_CONSTRAINT = 'graphqlPlayground';
const BROWSER = 'browser';

/** The media types Apollo Server answers GraphQL in; the first one wins a tie with HTML. */
const GRAPHQL_MEDIA_TYPES: ReadonlyArray<readonly [string, string]> = [
  ['application', 'json'],
  ['application', 'graphql-response+json'],
  ['multipart', 'mixed'],
];

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  order: number;
}

interface Priority {
  q: number;
  specificity: number;
  order: number;
}

function parseAccept(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  accept.split(',').forEach((part, order) => {
    const [mediaType = '', ...parameters] = part.split(';').map((piece) => piece.trim());
    const [type, subtype] = mediaType.toLowerCase().split('/');
    if (!type || !subtype) return;
    const qParameter = parameters.find((parameter) => /^q=/i.test(parameter));
    const q = qParameter === undefined ? 1 : Number(qParameter.slice(2));
    ranges.push({ type, subtype, q: Number.isFinite(q) ? Math.min(Math.max(q, 0), 1) : 0, order });
  });
  return ranges;
}

/** The q of the most specific range that matches the type (q 0 when none does). */
function priority(ranges: MediaRange[], type: string, subtype: string): Priority {
  let best: Priority = { q: 0, specificity: -1, order: Number.MAX_SAFE_INTEGER };
  for (const range of ranges) {
    const specificity =
      (range.type === type ? 4 : range.type === '*' ? 0 : -1) +
      (range.subtype === subtype ? 2 : range.subtype === '*' ? 0 : -10);
    if (specificity < 0) continue;
    if (
      specificity > best.specificity ||
      (specificity === best.specificity && (range.q > best.q || (range.q === best.q && range.order < best.order)))
    ) {
      best = { q: range.q, specificity, order: range.order };
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------
// The files the page loads
// ---------------------------------------------------------------------------------------------------------

interface Asset {
  url: string;
  contentType: string;
  /** The bytes, read on first use and kept. */
  body(): Promise<Buffer>;
  /** The bytes gzipped, on first use and kept. */
  gzipped(): Promise<Buffer>;
}

type AssetName = keyof PlaygroundAssetUrls;

let assetsOnce: Record<AssetName, Asset> | undefined;

/**
 * The page's files. Vendor files are named by package version (their bytes never change under one version);
 * our own by a hash of their text. Nothing is read until first asked for, so a server that never serves the
 * playground pays nothing but the package.json reads. Kept at module scope: static files, no caller's data.
 */
function playgroundAssets(): Record<AssetName, Asset> {
  if (assetsOnce) return assetsOnce;
  const react = packageDirectory('react');
  const reactDom = packageDirectory('react-dom');
  const graphiql = packageDirectory('graphiql');
  assetsOnce = {
    react: fileAsset(
      `react@${react.version}/react.production.min.js`,
      join(react.directory, 'umd', 'react.production.min.js'),
      JAVASCRIPT,
    ),
    reactDom: fileAsset(
      `react-dom@${reactDom.version}/react-dom.production.min.js`,
      join(reactDom.directory, 'umd', 'react-dom.production.min.js'),
      JAVASCRIPT,
    ),
    graphiqlJs: fileAsset(
      `graphiql@${graphiql.version}/graphiql.min.js`,
      join(graphiql.directory, 'graphiql.min.js'),
      JAVASCRIPT,
    ),
    graphiqlCss: fileAsset(
      `graphiql@${graphiql.version}/graphiql.min.css`,
      join(graphiql.directory, 'graphiql.min.css'),
      CSS,
    ),
    pageCss: textAsset('playground', PLAYGROUND_CSS, 'css', CSS),
    pageJs: textAsset('playground', PLAYGROUND_SCRIPT, 'js', JAVASCRIPT),
  };
  return assetsOnce;
}

const JAVASCRIPT = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/**
 * A package's folder and version. Through `package.json`, which every package exports, because react and
 * react-dom do not export their `umd/` files to `require.resolve`.
 */
function packageDirectory(name: string): { directory: string; version: string } {
  const manifest = require.resolve(`${name}/package.json`);
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return { directory: dirname(manifest), version };
}

function fileAsset(name: string, path: string, contentType: string): Asset {
  return asset(name, contentType, () => readFile(path));
}

function textAsset(name: string, text: string, extension: string, contentType: string): Asset {
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return asset(`${name}.${hash}.${extension}`, contentType, async () => Buffer.from(text, 'utf8'));
}

function asset(name: string, contentType: string, read: () => Promise<Buffer>): Asset {
  let body: Promise<Buffer> | undefined;
  let gzipped: Promise<Buffer> | undefined;
  const once = () => (body ??= read());
  return {
    url: `${PLAYGROUND_ASSETS_PATH}${name}`,
    contentType,
    body: once,
    gzipped: () => (gzipped ??= once().then((bytes) => gzip(bytes))),
  };
}
