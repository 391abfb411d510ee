/**
 * What the GraphiQL playground shows: the HTML page, the browser script that mounts GraphiQL, and the example
 * operations it opens with. The routes that serve them are in `playground.ts`.
 */

/** One editor tab of GraphiQL (the shape of its `defaultTabs` prop); `variables` and `headers` are JSON text. */
export interface PlaygroundTab {
  query: string;
  variables?: string;
  headers: string;
}

/** What the page hands to the browser script, as JSON in a `<script type="application/json">` block. */
export interface PlaygroundConfig {
  /** Where the fetcher posts operations. */
  endpoint: string;
  tabs: PlaygroundTab[];
  /** The headers a new tab starts with. */
  defaultHeaders: string;
  /** Whether GraphiQL keeps the headers editors in localStorage: only for the demo account, never real credentials. */
  persistHeaders: boolean;
}

/** URLs of the files the page loads, all served by this server. */
export interface PlaygroundAssetUrls {
  react: string;
  reactDom: string;
  graphiqlJs: string;
  graphiqlCss: string;
  pageCss: string;
  pageJs: string;
}

/** The headers a caller of the real portal starts from: valid JSON, and a 401 that explains itself if sent as is. */
export const PLACEHOLDER_HEADERS = JSON.stringify(
  { Authorization: 'Basic <base64 of your-portal-user:your-portal-password>' },
  null,
  2,
);

/**
 * The operations the playground opens with, one tab each: the nested overview, a filtered and paged licence
 * list, and `generateLicense` with its variables. Dates are relative to `today` (UTC, `YYYY-MM-DD`), so the
 * examples stay valid against the emulator's data, which is relative to today too.
 */
export function exampleTabs(today: string, headers: string): PlaygroundTab[] {
  return [
    {
      query: OVERVIEW_QUERY,
      headers,
    },
    {
      query: EXPIRING_QUERY,
      variables: json({ from: today, to: addDays(today, 90), after: null }),
      headers,
    },
    {
      query: GENERATE_MUTATION,
      variables: json({
        input: {
          productAssignmentId: '1',
          hwid: 'IM0000playground',
          expirationDate: addDays(today, 180),
          note: 'Generated from the playground',
          idempotencyKey: `playground-example-${today}`,
        },
      }),
      headers,
    },
  ];
}

const OVERVIEW_QUERY = `# Assignments, their licences and contracts,
# in one request: a handful of portal calls,
# however many licences. Run: Ctrl-Enter.
query Overview {
  productAssignments {
    id
    productName
    remainingLicenseCount
    validUntil
    licenses(orderBy: { field: EXPIRATION_DATE, direction: ASC }) {
      totalCount
      nodes {
        id
        hwid
        expirationDate
        expired
        detail {
          fileName
          products
          downloadUrl
        }
      }
    }
  }
}
`;

const EXPIRING_QUERY = `# HWID-bound licences expiring in the next
# 90 days, 20 a page: pass pageInfo.endCursor
# as $after for the next page.
query ExpiringSoon($from: Date!, $to: Date!, $after: String) {
  licenses(
    filter: { universal: false, expiresAfter: $from, expiresBefore: $to }
    orderBy: { field: EXPIRATION_DATE, direction: ASC }
    first: 20
    after: $after
  ) {
    totalCount
    edges {
      cursor
      node {
        id
        hwid
        expirationDate
        note
        productAssignment {
          productName
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
`;

const GENERATE_MUTATION = `# Generates a licence exactly once: the same
# idempotencyKey again returns that licence
# and uses up no other credit.
mutation GenerateLicense($input: GenerateLicenseInput!) {
  generateLicense(input: $input) {
    license {
      id
      hwid
      expirationDate
      detail {
        downloadUrl
      }
    }
    productAssignment {
      usedLicenseCount
      remainingLicenseCount
    }
  }
}
`;

/**
 * The whole page. Nothing in it runs inline: the configuration is inert JSON, and every script and style sheet
 * is a file of this server, so the Content-Security-Policy can allow 'self' alone.
 */
export function playgroundHtml(assets: PlaygroundAssetUrls, config: PlaygroundConfig): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>portal-graphql playground</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="${assets.graphiqlCss}">
    <link rel="stylesheet" href="${assets.pageCss}">
  </head>
  <body>
    <div id="graphiql">Loading the GraphiQL playground…</div>
    <script type="application/json" id="playground-config">${scriptSafeJson(config)}</script>
    <script src="${assets.react}"></script>
    <script src="${assets.reactDom}"></script>
    <script src="${assets.graphiqlJs}"></script>
    <script src="${assets.pageJs}"></script>
  </body>
</html>
`;
}

/** The page's own style sheet: GraphiQL fills the window. */
export const PLAYGROUND_CSS = `html, body, #graphiql { height: 100%; margin: 0; }
body { font-family: system-ui, sans-serif; }
`;

/**
 * The browser script (plain ES2017, no modules): mounts GraphiQL from the UMD globals `React`, `ReactDOM` and
 * `GraphiQL`. The fetcher posts JSON, which Apollo's CSRF prevention lets through; the schema, and with it the
 * documentation explorer, comes from an introspection query through the same fetcher.
 */
export const PLAYGROUND_SCRIPT = `'use strict';
(function () {
  var config = JSON.parse(document.getElementById('playground-config').textContent);
  var fetcher = GraphiQL.createFetcher({ url: config.endpoint, enableIncrementalDelivery: false });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: config.tabs,
      defaultHeaders: config.defaultHeaders,
      shouldPersistHeaders: config.persistHeaders,
      defaultEditorToolsVisibility: 'headers',
      visiblePlugin: 'Documentation Explorer',
      // Our own namespace, so that tabs saved by another GraphiQL on the same origin do not replace the examples.
      storage: GraphiQL.createLocalStorage({ namespace: 'portal-graphql' }),
    }),
  );
})();
`;

/** JSON that can sit inside a `<script>` element: no `<` can close it, and U+2028/2029 stay escaped. */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

function addDays(date: string, days: number): string {
  const next = new Date(`${date}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + days);
  return next.toISOString().slice(0, 10);
}
