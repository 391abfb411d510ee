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
  /** The sign-in form, when browser sessions are on: the sessions' route, and what the form starts filled with. */
  signIn?: { path: string; username: string; password: string };
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
${config.signIn ? SIGN_IN_BAR : ''}    <div id="graphiql">Loading the GraphiQL playground…</div>
    <script type="application/json" id="playground-config">${scriptSafeJson(config)}</script>
    <script src="${assets.react}"></script>
    <script src="${assets.reactDom}"></script>
    <script src="${assets.graphiqlJs}"></script>
    <script src="${assets.pageJs}"></script>
  </body>
</html>
`;
}

/**
 * The sign-in bar above GraphiQL (only with sessions on): the form, or who is signed in with a button to sign out,
 * and a line for what went wrong. The browser script fills it in and shows one of the two; nothing here is a
 * value of the caller's, so the markup is the same for everyone.
 */
const SIGN_IN_BAR = `    <header id="session" class="session">
      <form id="sign-in" class="session-part" hidden>
        <label>Portal user <input name="username" autocomplete="username" required maxlength="256"></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
        <button type="submit">Sign in</button>
        <span class="session-hint">or send an Authorization header from the Headers pane</span>
      </form>
      <div id="signed-in" class="session-part" hidden>
        <span>Signed in as <strong id="session-user"></strong>: the playground's requests carry your session cookie.</span>
        <button id="sign-out" type="button">Sign out</button>
      </div>
      <span id="session-message" class="session-message" role="status"></span>
    </header>
`;

/** The page's own style sheet: GraphiQL fills the window, below the sign-in bar when there is one. */
export const PLAYGROUND_CSS = `html, body { height: 100%; margin: 0; }
body { font-family: system-ui, sans-serif; display: flex; flex-direction: column; }
#graphiql { flex: 1 1 auto; min-height: 0; }
.session {
  --session-text: hsl(219, 28%, 32%); --session-background: hsl(219, 28%, 97%); --session-accent: hsl(320, 95%, 43%);
  display: flex; align-items: center; gap: 16px; padding: 8px 16px; font: 14px Roboto, system-ui, sans-serif;
  color: var(--session-text); background: var(--session-background); border-bottom: 1px solid hsla(219, 28%, 32%, 0.15);
}
.session-part:not([hidden]) { display: flex; align-items: center; gap: 12px; }
.session label { display: flex; align-items: center; gap: 6px; }
.session input {
  font: inherit; padding: 3px 6px; width: 11em; color: inherit; background: transparent;
  border: 1px solid hsla(219, 28%, 32%, 0.35); border-radius: 4px;
}
.session button {
  font: inherit; padding: 4px 12px; border: none; border-radius: 4px; cursor: pointer;
  color: white; background: var(--session-accent);
}
.session-hint { opacity: 0.7; }
.session-message { color: hsl(13, 93%, 45%); }
@media (prefers-color-scheme: dark) {
  body:not(.graphiql-light) .session {
    --session-text: hsl(219, 29%, 78%); --session-background: hsl(219, 29%, 14%); --session-accent: hsl(338, 100%, 45%);
  }
}
body.graphiql-dark .session {
  --session-text: hsl(219, 29%, 78%); --session-background: hsl(219, 29%, 14%); --session-accent: hsl(338, 100%, 45%);
}
`;

/**
 * The browser script (plain ES2017, no modules): mounts GraphiQL from the UMD globals `React`, `ReactDOM` and
 * `GraphiQL`. The fetcher posts JSON, which Apollo's CSRF prevention lets through, with the session's cookie; the
 * schema, and with it the documentation explorer, comes from an introspection query through the same fetcher.
 *
 * With sessions on, it asks who is signed in (`GET`) before anything goes to `/graphql`, and shows the form or the
 * user; the form signs in (`POST`), the button signs out (`DELETE`). A 401 from `/graphql` means the session has
 * ended (its cookie is then expired), so the bar asks again. Every error answer is GraphQL-shaped, and its message is shown as it is.
 */
export const PLAYGROUND_SCRIPT = `'use strict';
(function () {
  var config = JSON.parse(document.getElementById('playground-config').textContent);
  var session = config.signIn ? sessionBar(config.signIn) : undefined;
  var fetcher = GraphiQL.createFetcher({
    url: config.endpoint,
    enableIncrementalDelivery: false,
    fetch: async function (url, init) {
      // The first request waits for the answer to who is signed in: a cookie of an ended session is expired by it,
      // and is not sent first with the schema's query to be refused there.
      if (session) await session.asked;
      var response = await fetch(url, Object.assign({}, init, { credentials: 'same-origin' }));
      if (response.status === 401 && session) session.refresh();
      return response;
    },
  });
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

  function sessionBar(signIn) {
    var form = document.getElementById('sign-in');
    var signedIn = document.getElementById('signed-in');
    var user = document.getElementById('session-user');
    var message = document.getElementById('session-message');
    form.elements.username.value = signIn.username;
    form.elements.password.value = signIn.password;

    function send(method, body) {
      return fetch(signIn.path, {
        method: method,
        credentials: 'same-origin',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    }
    async function errorOf(response) {
      try {
        return (await response.json()).errors[0].message;
      } catch (error) {
        return 'HTTP ' + response.status;
      }
    }
    /** Shows the signed-in user, or (undefined) the form; and a message, or none. */
    function show(username, text) {
      form.hidden = username !== undefined;
      signedIn.hidden = username === undefined;
      user.textContent = username === undefined ? '' : username;
      message.textContent = text || '';
    }
    async function attempt(what, action) {
      try {
        await action();
      } catch (error) {
        message.textContent = 'Could not ' + what + ': ' + error.message;
      }
    }
    function refresh() {
      return attempt('ask who is signed in', async function () {
        var response = await send('GET');
        if (response.ok) return show((await response.json()).username);
        // Read whatever the answer: a body left unread keeps its request open until the page is left.
        var error = await errorOf(response);
        // 401: no session, or one that has ended (NO_SESSION, SESSION_ENDED); the form is the answer to both.
        show(undefined, response.status === 401 ? '' : error);
      });
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      attempt('sign in', async function () {
        var response = await send('POST', {
          username: form.elements.username.value,
          password: form.elements.password.value,
        });
        if (!response.ok) return show(undefined, await errorOf(response));
        form.elements.password.value = '';
        show((await response.json()).username);
      });
    });
    document.getElementById('sign-out').addEventListener('click', function () {
      attempt('sign out', async function () {
        var response = await send('DELETE');
        if (!response.ok) return (message.textContent = await errorOf(response));
        form.elements.username.value = signIn.username;
        form.elements.password.value = signIn.password;
        show(undefined);
      });
    });
    return { asked: refresh(), refresh: refresh };
  }
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
