/**
 * Start-up as a user meets it: the embedded default, and a bad setting that stops start-up naming the variable.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { startServer } from '../../src/main';

const root = join(__dirname, '..', '..');

function runMain(
  env: Record<string, string>,
  untilOutput?: RegExp,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Node itself runs the server, the TypeScript loaded through tsx's hooks, so the signal reaches the server's own
    // process, as under npm start's exec, rather than tsx's command relaying it.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (untilOutput?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('without PORTAL_URL, the emulator starts in-process and the demo account can query it', async () => {
  const server = await startServer(loadConfig({ PORT: '0', LOG_LEVEL: 'silent' }));
  try {
    expect(server.emulator).toBeDefined();
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: server.emulator!.accounts[0]!.authorization },
      body: JSON.stringify({ query: '{ productAssignments { id licenses(first: 1) { totalCount } } }' }),
    });
    const body = (await response.json()) as any;
    expect(body.errors).toBeUndefined();
    expect(body.data.productAssignments.length).toBeGreaterThan(0);
    const health = await fetch(new URL('/healthz', server.graphqlUrl));
    expect(health.status).toBe(200);
  } finally {
    await server.close();
  }
});

test('with PORTAL_URL, no emulator is started', async () => {
  const server = await startServer(loadConfig({ PORT: '0', LOG_LEVEL: 'silent', PORTAL_URL: 'http://127.0.0.1:9' }));
  try {
    expect(server.emulator).toBeUndefined();
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic ZGVtbzpkZW1v' },
      body: JSON.stringify({ query: '{ productAssignments { id } }' }),
    });
    const body = (await response.json()) as any;
    expect(body.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
  } finally {
    await server.close();
  }
});

test('npm start prints the GraphQL URL, the demo accounts and a curl line, and stops on SIGTERM', async () => {
  const result = await runMain({ PORT: '0' }, /curl[\s\S]*-d '/);
  expect(result.stdout).toMatch(/GraphQL server ready at http:\/\/127\.0\.0\.1:\d+\/graphql/);
  expect(result.stdout).toMatch(/demo \/ demo/);
  expect(result.stdout).toMatch(/globex \/ globex/);
  expect(result.stdout).toMatch(/curl -s http:\/\/127\.0\.0\.1:\d+\/graphql -u demo:demo/);
  expect(result.code).toBe(0);
}, 30_000);

test.each([
  ['PORT', 'eighty'],
  ['PORTAL_URL', 'customerportal'],
  ['PORTAL_HEADERS_TIMEOUT_MS', 'soon'],
])(
  'a bad %s stops start-up with a message naming it',
  async (variable, value) => {
    const result = await runMain({ [variable]: value });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`Configuration error: ${variable}: `));
  },
  30_000,
);

test('TRUST_PROXY=true stops start-up, naming the hop count and address forms to use instead', async () => {
  const result = await runMain({ TRUST_PROXY: 'true' });
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(
    /Configuration error: TRUST_PROXY: .*leftmost X-Forwarded-For address, which the client writes itself.*hop count.*CIDR ranges/,
  );
}, 30_000);

test('npm start itself passes SIGTERM on: stopping npm by its process id stops the server', async () => {
  const npm = spawn('npm', ['start'], { cwd: root, env: { ...process.env, PORT: '0', LOG_LEVEL: 'silent' } });
  let stdout = '';
  npm.stdout.on('data', (chunk) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!/GraphQL server ready at (http:\/\/\S+)/.test(stdout) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const url = /GraphQL server ready at (http:\/\/\S+)/.exec(stdout)![1]!;
  npm.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(stdout).toContain('SIGTERM: closing');
  await expect(fetch(url, { method: 'POST' })).rejects.toThrow();
}, 90_000);
