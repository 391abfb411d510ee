/**
 * `npm run contract:check` against the portal emulator on a real socket: the emulator fits the contract, a fault
 * that bends an answer is reported by endpoint and JSON path, no credential is ever printed, and nothing with a
 * side effect is ever called.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { createServer } from 'node:net';
import {
  runCli,
  EXIT_CREDENTIALS_REFUSED,
  EXIT_DIFFERS,
  EXIT_FITS,
  EXIT_UNREACHABLE,
  EXIT_USAGE,
} from '../../src/contract/cli';
import { formatReport, runContractCheck, type ContractReport } from '../../src/contract/contractCheck';
import { startEmulator, type DemoAccount, type Emulator } from '../../src/emulator';

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'src', 'contract', 'cli.ts');

/** Every check, in the order they run: a new check is a deliberate change of this list. */
const CHECK_NAMES = [
  'productAssignment.list',
  'productAssignment.show',
  'license.list',
  'license.show',
  'licenseDetail.list',
  'licenseDetail.show',
  'license.byAssignment.list',
  'license.byAssignment.show',
  'licenseDetail.download',
  'error.noAuthorization',
  'error.unknownId',
  'error.nonIntegerId',
];

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
});

afterEach(() => {
  emulator.faults.clear();
  emulator.requestLog.clear();
});

afterAll(async () => {
  await emulator.close();
});

/** The environment of a customer's shell: the test runner's own PORTAL_* variables never leak in. */
function environment(variables: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('PORTAL_')) env[name] = value;
  return { ...env, ...variables };
}

/** Runs the command in this process, capturing what it prints. */
async function runInProcess(
  argv: string[],
  variables: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, environment(variables), {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  });
  return { code, stdout, stderr };
}

/** The emulator's first demo account, of the first customer. */
function demoAccount(): DemoAccount {
  const account = emulator.accounts[0];
  if (!account) throw new Error('the emulator has no demo account');
  return account;
}

function demoCredentials(): Record<string, string> {
  const account = demoAccount();
  return { PORTAL_URL: emulator.url, PORTAL_USER: account.username, PORTAL_PASSWORD: account.password };
}

function checkNamed(report: ContractReport, name: string) {
  const check = report.checks.find((candidate) => candidate.name === name);
  if (!check)
    throw new Error(`the report has no check named ${name}; it has: ${report.checks.map((c) => c.name).join(', ')}`);
  return check;
}

/** Every form a credential could be printed in. */
function credentialForms(): string[] {
  const account = demoAccount();
  const token = account.authorization.replace(/^Basic\s+/i, '');
  return [account.authorization, token, `${account.username}:${account.password}`, account.password];
}

test('the command, run as a customer runs it, finds the emulator fitting the contract and exits 0', async () => {
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = execFile(
        TSX,
        [CLI],
        { cwd: ROOT, env: environment(demoCredentials()), timeout: 60_000 },
        (error, out, err) => {
          if (error && typeof error.code !== 'number') reject(new Error(`the command did not run: ${error.message}`));
          else resolve({ code: child.exitCode, stdout: out, stderr: err });
        },
      );
    },
  );

  expect({ code, stderr }).toEqual({ code: EXIT_FITS, stderr: '' });
  expect(stdout).toContain(`Contract check of ${emulator.url}`);
  for (const name of CHECK_NAMES) expect(stdout).toMatch(new RegExp(`^OK +${name.replace(/\./g, '\\.')} `, 'm'));
  expect(stdout).toContain('The portal fits the contract.');
  for (const secret of credentialForms()) expect(stdout + stderr).not.toContain(secret);
});

test('every check runs, in order, and each is ok against the emulator', async () => {
  const report = await runContractCheck({ portalUrl: emulator.url, authorization: demoAccount().authorization });

  expect(report.checks.map((check) => check.name)).toEqual(CHECK_NAMES);
  expect(report.checks.filter((check) => !check.ok || check.skipped)).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.portalUrl).toBe(emulator.url);
});

test('only read endpoints are called, never generate, and each once, plus the three error probes', async () => {
  await runContractCheck({ portalUrl: emulator.url, authorization: demoAccount().authorization });
  await emulator.requestLog.whenIdle();

  const entries = emulator.requestLog.entries();
  expect(entries.every((entry) => entry.method === 'GET')).toBe(true);
  expect(emulator.requestLog.byRoute('license.generate')).toEqual([]);
  const user = demoAccount().username;
  expect(entries.map((entry) => `${entry.route ?? '(no route)'} ${entry.username ?? '(anonymous)'}`)).toEqual([
    `productAssignment.list ${user}`,
    `productAssignment.show ${user}`,
    `license.list ${user}`,
    `license.show ${user}`,
    `licenseDetail.list ${user}`,
    `licenseDetail.show ${user}`,
    `license.byAssignment.list ${user}`,
    `license.byAssignment.show ${user}`,
    `licenseDetail.download ${user}`,
    'productAssignment.list (anonymous)',
    `license.show ${user}`,
    `(no route) ${user}`,
  ]);
});

test('credentials a portal echoes back never appear in the text or the JSON report', async () => {
  // A portal that echoes the credentials back: the report must drop them wherever they show up.
  const secretPassword = 'pa55-w0rd-never-printed';
  const authorization = `Basic ${Buffer.from(`someone:${secretPassword}`).toString('base64')}`;
  emulator.faults.add({
    kind: 'wrongShape',
    route: 'license.show',
    body: { id: 1, note: `echo ${secretPassword} ${authorization}` },
  });

  const report = await runContractCheck({ portalUrl: emulator.url, authorization });
  const printed = formatReport(report) + JSON.stringify(report);

  expect(report.ok).toBe(false);
  for (const secret of [
    authorization,
    authorization.slice('Basic '.length),
    `someone:${secretPassword}`,
    secretPassword,
  ]) {
    expect(printed).not.toContain(secret);
  }
});

test('an endpoint answering the wrong shape is named with the field path, and the command exits 1', async () => {
  const assignment = emulator.state.assignmentsOf(demoAccount().username)[0];
  emulator.faults.add({
    kind: 'wrongShape',
    route: 'productAssignment.list',
    // Once: the no-Authorization probe asks the same route later and must still see the 401.
    times: 1,
    body: [{ ...assignment, total_license_count: '25', region: 'EU' }],
  });
  emulator.faults.add({ kind: 'wrongShape', route: 'license.show', times: 1 });

  const { code, stdout } = await runInProcess(['--json'], demoCredentials());
  const report = JSON.parse(stdout) as ContractReport;

  expect(code).toBe(EXIT_DIFFERS);
  expect(report.ok).toBe(false);
  const assignments = checkNamed(report, 'productAssignment.list');
  expect(assignments).toMatchObject({ ok: false, path: '/api/product-assignment/list' });
  expect(assignments.differences).toEqual(['[0].total_license_count: expected number or null, got string "25"']);
  expect(assignments.notes).toEqual(['[0].region: a field the contract does not know (string "EU")']);
  // The emulator's default wrong shape: ids as strings, keys camelCased.
  const license = checkNamed(report, 'license.show');
  expect(license.ok).toBe(false);
  expect(license.differences).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^id: expected number, got string "\d+"$/),
      'product_assignment_id: missing (expected number; the answer has "productAssignmentId")',
    ]),
  );
  expect(report.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual([
    'productAssignment.list',
    'license.show',
  ]);
});

test('a body that is not JSON, and an error status, are reported for their endpoints', async () => {
  emulator.faults.add({ kind: 'malformedJson', route: 'licenseDetail.show', times: 1 });
  emulator.faults.add({ kind: 'status', status: 503, route: 'licenseDetail.list', times: 1 });

  const report = await runContractCheck({ portalUrl: emulator.url, authorization: demoAccount().authorization });

  expect(checkNamed(report, 'licenseDetail.show').differences).toEqual([
    expect.stringMatching(/^body: expected JSON, got "\{/),
  ]);
  expect(checkNamed(report, 'licenseDetail.list').differences).toEqual([
    'status: expected 200, got 503 "Service Unavailable"',
  ]);
  expect(report.checks.filter((check) => !check.ok)).toHaveLength(2);
});

test('a missing PORTAL_URL exits 2 naming the variable, before any request', async () => {
  const { PORTAL_URL: _omitted, ...withoutUrl } = demoCredentials();

  const { code, stdout, stderr } = await runInProcess([], withoutUrl);

  expect(code).toBe(EXIT_USAGE);
  expect(stdout).toBe('');
  expect(stderr).toMatch(/^contract:check: PORTAL_URL is not set/);
  expect(emulator.requestLog.count()).toBe(0);
});

test.each([
  ['ftp://portal.example', 'PORTAL_URL: must be an http or https origin'],
  ['https://portal.example/api', 'PORTAL_URL: must be an origin only (scheme, host and port)'],
  [
    'https://demo:demo@portal.example',
    'PORTAL_URL must not contain credentials: give them in PORTAL_USER and PORTAL_PASSWORD',
  ],
])(
  "PORTAL_URL=%j exits 2 with the server's own message (saying where credentials go), before any request",
  async (url, message) => {
    const { code, stderr } = await runInProcess([], { ...demoCredentials(), PORTAL_URL: url });

    expect(code).toBe(EXIT_USAGE);
    expect(stderr.startsWith(`contract:check: ${message}`)).toBe(true);
    expect(stderr).not.toContain('demo:demo');
    expect(emulator.requestLog.count()).toBe(0);
  },
);

test.each([
  [{ PORTAL_USER: 'demo' }, 'PORTAL_PASSWORD is not set'],
  [{ PORTAL_PASSWORD: 'demo' }, 'PORTAL_USER is not set'],
  [{}, 'no credentials: set PORTAL_USER and PORTAL_PASSWORD, or PORTAL_AUTHORIZATION'],
  [
    { PORTAL_AUTHORIZATION: 'Basic ZGVtbzpkZW1v', PORTAL_USER: 'demo', PORTAL_PASSWORD: 'demo' },
    'set either PORTAL_AUTHORIZATION or',
  ],
])('credentials %j are bad usage: exit 2 with %s', async (variables, message) => {
  const { code, stderr } = await runInProcess([], { PORTAL_URL: emulator.url, ...variables });

  expect(code).toBe(EXIT_USAGE);
  expect(stderr).toContain(message);
});

test('PORTAL_AUTHORIZATION is sent whole, in place of a user and password', async () => {
  const { code } = await runInProcess([], {
    PORTAL_URL: emulator.url,
    PORTAL_AUTHORIZATION: demoAccount().authorization,
  });

  expect(code).toBe(EXIT_FITS);
  expect(emulator.requestLog.entries({ username: demoAccount().username }).length).toBeGreaterThan(0);
});

test('credentials the portal refuses are told apart from a difference: exit 3, nothing checked', async () => {
  const { code, stdout } = await runInProcess([], { ...demoCredentials(), PORTAL_PASSWORD: 'not-the-password' });
  expect(code).toBe(EXIT_CREDENTIALS_REFUSED);
  expect(stdout).toMatch(/refused the credentials \(401\): nothing was checked/);
  expect(stdout).not.toMatch(/DIFFERS|differs from the contract/);
  expect(stdout).not.toContain('not-the-password');
});

test('a portal that cannot be reached is told apart from a difference: exit 4, nothing checked', async () => {
  // A port that was free a moment ago: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  const { code, stdout } = await runInProcess(['--json'], {
    ...demoCredentials(),
    PORTAL_URL: `http://127.0.0.1:${port}`,
  });
  expect(code).toBe(EXIT_UNREACHABLE);
  expect(JSON.parse(stdout)).toMatchObject({ outcome: 'unreachable', ok: false, checks: [] });
});
