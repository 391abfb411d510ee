/**
 * The shipped deployment, built and run: the image from the Dockerfile, and deploy/compose.yaml's Redis, two
 * replicas, nginx and the demo portal, each in its own container on the host's network. Checked through the proxy:
 * answers, the clients' addresses behind it, one licence per key across replicas, sessions across replicas, a
 * replica drained by SIGTERM while the proxy serves on; and in the image: a non-root PID 1, no dev dependency.
 *
 * Not part of `npm test`: run by `npm run test:container` (and CI after the test command). Needs podman, runc and
 * debootstrap (Debian's packages), a free 4001, 4002, 6379, 8080 and 8090 on the loopback, and the npm and Debian
 * registries; the base images are made locally (localBase.ts), so no container registry is needed.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postTo, sendTo, type PostedAnswer } from '../helpers/http';
import { buildArgs, containerOf, readCompose, runArgs, type ComposeProject } from './composeFile';
import { DEBIAN_BASE, ensureLocalBases, NODE_BASE } from './localBase';
import { podman, podmanOk } from './podman';

const root = join(__dirname, '..', '..');
const started = Date.now();
const outputDir = join(root, 'test-output', 'container');
const log = join(outputDir, 'build.log');

const PROXY = 'http://127.0.0.1:8080';
const REPLICAS = { 'replica-1': 'http://127.0.0.1:4001', 'replica-2': 'http://127.0.0.1:4002' } as const;
const PORTAL = 'http://127.0.0.1:8090';
const PORTS = [4001, 4002, 6379, 8080, 8090];
/** Every portal answer is this late, so that a request is still in flight when its replica is told to stop. */
const PORTAL_LATENCY_MS = 1000;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const DEMO = basic('demo', 'demo');

const NESTED = `{
  productAssignments {
    id productName remainingLicenseCount
    licenses { totalCount nodes { id hwid expirationDate detail { fileName products } } }
  }
}`;
const VIEWER_QUERY = '{ productAssignments { id } }';
const GENERATE = `mutation Generate($input: GenerateLicenseInput!) {
  generateLicense(input: $input) { license { id hwid } }
}`;

let project: ComposeProject;
let secrets: string;

/** A line of progress, on the terminal as it happens (Jest keeps console output until a test ends). */
function say(line: string): void {
  process.stderr.write(`[container ${Math.round((Date.now() - started) / 1000)} s] ${line}\n`);
}

beforeAll(async () => {
  mkdirSync(outputDir, { recursive: true });
  writeFileSync(log, '');
  await Promise.all(PORTS.map(mustBeFree));
  secrets = mkdtempSync(join(tmpdir(), 'portal-graphql-secrets-'));
  // As the README says to make it: Redis's URL and two secrets of 32 random bytes, the same for both replicas.
  writeFileSync(
    join(secrets, 'secrets.env'),
    [
      'REDIS_URL=redis://127.0.0.1:6379/0',
      `CALLER_HASH_SECRET=${randomBytes(32).toString('hex')}`,
      `SESSION_SECRET=${randomBytes(32).toString('hex')}`,
      '',
    ].join('\n'),
  );
  project = readCompose(join(root, 'deploy', 'compose.yaml'), 'portal-graphql-test', {
    NODE_BASE_IMAGE: NODE_BASE,
    DEBIAN_BASE_IMAGE: DEBIAN_BASE,
    SECRETS_ENV_FILE: join(secrets, 'secrets.env'),
    EMULATOR_LATENCY_MS: String(PORTAL_LATENCY_MS),
  });
  await removeProject();

  say(`building the local base images (log: ${log})`);
  await ensureLocalBases(log, say);
  const built = new Set<string>();
  for (const service of project.services) {
    const args = buildArgs(service);
    if (!args || built.has(service.image)) continue;
    built.add(service.image);
    const buildStarted = Date.now();
    await podmanOk(args, { log });
    say(`${service.image}: built in ${Math.round((Date.now() - buildStarted) / 1000)} s`);
  }
  for (const service of project.services) {
    await podmanOk(runArgs(project, service));
    say(`${containerOf(project, service.name)}: started`);
  }
  await until('both replicas ready and connected to Redis', async () => {
    for (const url of Object.values(REPLICAS)) {
      if ((await sendTo(`${url}/readyz`, 'GET').catch(() => undefined))?.status !== 200) return false;
      if (!/^redis_up 1$/m.test((await sendTo(`${url}/metrics`, 'GET')).text)) return false;
    }
    return (await sendTo(`${PROXY}/healthz`, 'GET').catch(() => undefined))?.status === 200;
  });
  say('the stack is up');
}, 20 * 60_000);

afterAll(async () => {
  if (project) {
    const logs = await Promise.all(
      project.services.map(async (service) => {
        const ran = await podman(['logs', containerOf(project, service.name)]);
        return `=== ${service.name}\n${ran.stdout}${ran.stderr}`;
      }),
    );
    writeFileSync(join(outputDir, 'services.log'), logs.join('\n'));
    await removeProject();
  }
  if (secrets) rmSync(secrets, { recursive: true, force: true });
  say(
    `done in ${Math.round((Date.now() - started) / 1000)} s; the services' logs are in ${join(outputDir, 'services.log')}`,
  );
}, 120_000);

test('a nested query through the proxy answers with data; /readyz is ready on both replicas', async () => {
  const answer = await postTo(`${PROXY}/graphql`, { query: NESTED }, { authorization: DEMO });
  expect(answer.status).toBe(200);
  expect(answer.json.errors).toBeUndefined();
  const assignments = answer.json.data.productAssignments;
  expect(assignments.length).toBeGreaterThan(0);
  expect(assignments.some((assignment: any) => assignment.licenses.nodes.length > 0)).toBe(true);
  for (const url of Object.values(REPLICAS)) {
    const ready = await sendTo(`${url}/readyz`, 'GET');
    expect(ready.status).toBe(200);
  }
  // The operators' figures stay off the public side.
  expect((await sendTo(`${PROXY}/metrics`, 'GET')).status).toBe(404);
});

test('the failed-login limits count the clients the proxy saw: ten wrong passwords from one address refuse that address only, whatever it writes in X-Forwarded-For', async () => {
  const wrong = basic('globex', 'not-the-password');
  const attacker = '127.0.0.2';
  const other = '127.0.0.3';
  const guesses: PostedAnswer[] = [];
  for (let guess = 0; guess < 10; guess += 1) {
    guesses.push(await postTo(`${PROXY}/graphql`, { query: VIEWER_QUERY }, { authorization: wrong }, attacker));
  }
  // The portal's 401 to a wrong password is a GraphQL error in a 200 answer.
  expect(guesses.map((answer) => answer.json.errors?.[0]?.extensions?.code)).toEqual(Array(10).fill('UNAUTHENTICATED'));
  const eleventh = await postTo(`${PROXY}/graphql`, { query: VIEWER_QUERY }, { authorization: wrong }, attacker);
  expect(eleventh.status).toBe(429);
  expect(eleventh.json.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'AUTH_FAILURES' });
  // The proxy sets X-Forwarded-For to the address it saw, so a client cannot name another.
  const disguised = await postTo(
    `${PROXY}/graphql`,
    { query: VIEWER_QUERY },
    { authorization: wrong, 'x-forwarded-for': '203.0.113.9' },
    attacker,
  );
  expect(disguised.status).toBe(429);
  // Another client behind the same proxy is its own address: its wrong password goes to the portal, its right one is served.
  const otherWrong = await postTo(`${PROXY}/graphql`, { query: VIEWER_QUERY }, { authorization: wrong }, other);
  expect(otherWrong.status).toBe(200);
  expect(otherWrong.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  const otherRight = await postTo(
    `${PROXY}/graphql`,
    { query: VIEWER_QUERY },
    { authorization: basic('globex', 'globex') },
    other,
  );
  expect(otherRight.status).toBe(200);
  expect(otherRight.json.errors).toBeUndefined();
}, 60_000);

test('one idempotency key sent to each replica in turn makes one licence, and both answers carry it', async () => {
  const assignments = await postTo(
    `${PROXY}/graphql`,
    { query: '{ productAssignments { id remainingLicenseCount validUntil } }' },
    { authorization: DEMO },
  );
  // An assignment with no limit on its count, and a licence expiring within its validity.
  const expirationDate = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
  const unlimited = assignments.json.data.productAssignments.find(
    (assignment: any) =>
      assignment.remainingLicenseCount === null &&
      (assignment.validUntil === null || assignment.validUntil >= expirationDate),
  );
  expect(unlimited).toBeDefined();
  const hwid = `CONTAINER-${Date.now()}`;
  const variables = {
    input: { productAssignmentId: unlimited.id, hwid, expirationDate, idempotencyKey: `container-${hwid}` },
  };
  const first = await postTo(
    `${REPLICAS['replica-1']}/graphql`,
    { query: GENERATE, variables },
    { authorization: DEMO },
  );
  const second = await postTo(
    `${REPLICAS['replica-2']}/graphql`,
    { query: GENERATE, variables },
    { authorization: DEMO },
  );
  expect(first.json.errors).toBeUndefined();
  expect(second.json.errors).toBeUndefined();
  expect(second.json.data.generateLicense.license).toEqual(first.json.data.generateLicense.license);
  // The portal's own list: one licence for that hardware id.
  const licences = await sendTo(`${PORTAL}/api/license/list`, 'GET', { headers: { authorization: DEMO } });
  expect(licences.json.filter((licence: any) => licence.hwid === hwid)).toHaveLength(1);
}, 60_000);

test('a session signed in through one replica is good on the other', async () => {
  const signIn = await postTo(`${REPLICAS['replica-1']}/auth/session`, { username: 'acme-ops', password: 'acme-ops' });
  expect(signIn.status).toBe(200);
  const cookie = /^portal_session=([^;]*)/.exec(String(signIn.headers['set-cookie']))![1]!;
  const onOther = await postTo(
    `${REPLICAS['replica-2']}/graphql`,
    { query: VIEWER_QUERY },
    { cookie: `portal_session=${cookie}` },
  );
  expect(onOther.status).toBe(200);
  expect(onOther.json.errors).toBeUndefined();
  expect(onOther.json.data.productAssignments.length).toBeGreaterThan(0);
}, 30_000);

test('the server runs as PID 1, node itself, as a non-root user; the image holds no dev dependency', async () => {
  const container = containerOf(project, 'replica-1');
  const status = await podmanOk(['exec', container, 'cat', '/proc/1/status']);
  const uid = /^Uid:\s+(\d+)/m.exec(status)![1];
  expect(Number(uid)).not.toBe(0);
  const commandLine = (await podmanOk(['exec', container, 'cat', '/proc/1/cmdline'])).split('\0').filter(Boolean);
  expect(commandLine[0]).toBe('node');
  expect(commandLine.at(-1)).toBe('dist/main.js');
  const modules = (await podmanOk(['exec', container, 'ls', '-A', '/app/node_modules'])).split('\n');
  for (const development of [
    'typescript',
    'jest',
    'eslint',
    'ts-jest',
    'prettier',
    'knip',
    'tsx',
    '@graphql-codegen',
  ]) {
    expect(modules).not.toContain(development);
  }
  expect(modules).toContain('fastify');
});

test('podman stop (SIGTERM) on a replica with a request in flight: the request completes, the replica exits 0 within its grace period, and the proxy serves on', async () => {
  const stopping = containerOf(project, 'replica-2');
  const grace = project.services.find((service) => service.name === 'replica-2')!.stopGraceSeconds!;
  const requestId = `in-flight-${Date.now()}`;
  const inFlight = postTo(
    `${REPLICAS['replica-2']}/graphql`,
    { query: NESTED },
    { authorization: DEMO, 'x-request-id': requestId },
  );
  await new Promise((resolve) => setTimeout(resolve, PORTAL_LATENCY_MS / 4));
  let stopped = false;
  const stopIssued = Date.now();
  const stop = podmanOk(['stop', stopping]).then(() => {
    stopped = true;
  });
  // Through the proxy, all the while the replica drains and after it is gone.
  const throughProxy: PostedAnswer[] = [];
  const serving = (async () => {
    while (!stopped)
      throughProxy.push(await postTo(`${PROXY}/graphql`, { query: VIEWER_QUERY }, { authorization: DEMO }));
    for (let after = 0; after < 3; after += 1) {
      throughProxy.push(await postTo(`${PROXY}/graphql`, { query: VIEWER_QUERY }, { authorization: DEMO }));
    }
  })();
  const answer = await inFlight;
  const answered = Date.now();
  await stop;
  const stopTook = (Date.now() - stopIssued) / 1000;
  await serving;

  expect(answer.status).toBe(200);
  expect(answer.json.errors).toBeUndefined();
  expect(answered).toBeGreaterThan(stopIssued);
  // In the replica's own log: the request came in, then the signal, then the request completed.
  const ran = await podman(['logs', stopping]);
  const lines = `${ran.stdout}${ran.stderr}`.split('\n');
  const came = lines.findIndex((line) => line.includes(requestId) && line.includes('incoming request'));
  const signalled = lines.findIndex((line) => line.startsWith('SIGTERM'));
  const completed = lines.findIndex((line) => line.includes(requestId) && line.includes('request completed'));
  expect(came).toBeGreaterThanOrEqual(0);
  expect(signalled).toBeGreaterThan(came);
  expect(completed).toBeGreaterThan(signalled);
  const state = JSON.parse(await podmanOk(['inspect', '--format', '{{json .State}}', stopping])) as {
    ExitCode: number;
  };
  expect(state.ExitCode).toBe(0);
  expect(stopTook).toBeLessThan(grace);
  say(
    `replica-2 drained and exited 0 in ${stopTook.toFixed(1)} s (grace ${grace} s); ${throughProxy.length} requests through the proxy meanwhile`,
  );
  expect(throughProxy.map((response) => response.status)).toEqual(throughProxy.map(() => 200));
  expect((await sendTo(`${REPLICAS['replica-1']}/readyz`, 'GET')).status).toBe(200);
}, 60_000);

test('the image size is printed', async () => {
  const image = project.services.find((service) => service.name === 'replica-1')!.image;
  const [size, baseSize] = await Promise.all(
    [image, NODE_BASE].map(async (name) => Number(await podmanOk(['image', 'inspect', '--format', '{{.Size}}', name]))),
  );
  say(`image ${image}: ${mib(size!)} MiB (of which its base ${NODE_BASE}: ${mib(baseSize!)} MiB)`);
  expect(size).toBeGreaterThan(baseSize!);
});

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

async function removeProject(): Promise<void> {
  const names = [...project.services].reverse().map((service) => containerOf(project, service.name));
  await podman(['rm', '--force', '--time', '0', '--ignore', ...names]);
  for (const volume of project.volumes) await podman(['volume', 'rm', '--force', volume]);
}

async function until(what: string, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `not ${what} within ${timeoutMs / 1000} s; see the services' logs in ${join(outputDir, 'services.log')}`,
  );
}

function mustBeFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', () =>
      reject(new Error(`port ${port} on 127.0.0.1 is taken; the compose file's services need it`)),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}
