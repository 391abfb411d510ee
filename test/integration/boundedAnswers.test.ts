/**
 * One request must never take the server down: an answer too large to build is refused before it is built, a
 * portal body is never buffered past its bound, and every operation ends by its deadline whatever the portal does.
 * Each shown over real sockets: in-process servers for the exact counts, and the server as its own process
 * (its memory its own) in front of the large seed for the attacks.
 */
import { request } from 'undici';
import { loadConfig } from '../../src/config';
import { startServer, type RunningServer } from '../../src/main';
import { startEmulator, type Emulator } from '../../src/emulator';
import { answerSize } from '../helpers/answerSize';
import { startChildServer, type ChildServer } from '../helpers/childServer';
import { postTo } from '../helpers/http';

const OVERVIEW = '{ productAssignments { id licenses { nodes { id hwid detail { fileName } } } } }';
const CYCLE_TWICE = '{ productAssignments { licenses { nodes { productAssignment { licenses { nodes { id } } } } } } }';
const CYCLE_THRICE =
  '{ productAssignments { licenses { nodes { productAssignment { licenses { nodes { productAssignment { licenses { nodes { id } } } } } } } } } }';

interface Answer {
  status: number;
  ms: number;
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, any> }>;
}

async function post(graphqlUrl: string, authorization: string, query: string): Promise<Answer> {
  const { status, ms, json } = await postTo(graphqlUrl, { query }, { authorization });
  return { ...(json as Omit<Answer, 'status' | 'ms'>), status, ms };
}

function inThirtyDays(today: string): string {
  return new Date(Date.parse(today) + 30 * 86_400_000).toISOString().slice(0, 10);
}

function serverOn(emulator: Emulator, env: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(
    loadConfig({ PORT: '0', PORTAL_URL: emulator.url, LOG_LEVEL: 'silent', NODE_ENV: 'production', ...env }),
  );
}

describe('an answer is counted exactly before it is resolved (demo seed)', () => {
  let emulator: Emulator;
  let reference: RunningServer;
  let demo: string;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    reference = await serverOn(emulator);
    demo = emulator.account('demo').authorization;
  });
  afterAll(async () => {
    await reference?.close();
    await emulator?.close();
  });

  const queries = (): Array<[string, string]> => {
    const { hwidBoundLicenseId, unlimitedAssignmentId } = emulator.state.landmarks();
    return [
      ['the nested overview', OVERVIEW],
      ['the relations cycle, twice round', CYCLE_TWICE],
      [
        'edges with their nodes, scalar lists and pageInfo',
        '{ licenses { edges { cursor node { id detail { products hwids } } } pageInfo { hasNextPage } } }',
      ],
      ['pages under first', '{ productAssignments { licenses(first: 2) { totalCount nodes { id } } } }'],
      [
        'a filter, an order and a page',
        '{ productAssignments { licenses(filter: { universal: false }, orderBy: { field: EXPIRATION_DATE, direction: DESC }, first: 3) { nodes { productAssignment { id } } } } }',
      ],
      ['details with their licences', '{ licenseDetails { nodes { license { productAssignment { productName } } } } }'],
      [
        'aliases, fragments and a skipped field',
        '{ a: productAssignments { ...L } b: productAssignments { ...L licenses { nodes { detail { id } } } } c: licenses @skip(if: true) { nodes { id } } } fragment L on ProductAssignment { licenses { nodes { id } } }',
      ],
      [
        'records named by id',
        `{ license(id: ${hwidBoundLicenseId}) { productAssignment { licenses { nodes { detail { fileName } } } } } productAssignment(id: ${unlimitedAssignmentId}) { licenses { nodes { id } } } }`,
      ],
    ];
  };

  test('every query of the table is counted as its answer holds', async () => {
    for (const [name, query] of queries()) {
      const answer = await post(reference.graphqlUrl, demo, query);
      expect({ name, errors: answer.errors }).toEqual({ name, errors: undefined });
      const size = answerSize(answer.data!);
      // One below its size, a fresh server (nothing seen of this caller yet) refuses it with that exact count,
      // after no more portal calls than its answer takes; at its size, it answers the same data.
      const below = await serverOn(emulator, { MAX_RESULT_OBJECTS: String(size - 1) });
      const at = await serverOn(emulator, { MAX_RESULT_OBJECTS: String(size) });
      try {
        emulator.requestLog.clear();
        const served = await post(at.graphqlUrl, demo, query);
        const servedCalls = emulator.requestLog.entries().length;
        emulator.requestLog.clear();
        const refused = await post(below.graphqlUrl, demo, query);
        expect({
          name,
          status: refused.status,
          data: refused.data,
          extensions: refused.errors?.[0]?.extensions,
        }).toEqual({
          name,
          status: 400,
          data: undefined,
          extensions: {
            code: 'BAD_USER_INPUT',
            reason: 'RESULT_TOO_LARGE',
            resultObjects: size,
            maxResultObjects: size - 1,
            counted: 'EXACT',
          },
        });
        expect(emulator.requestLog.entries().length).toBeLessThanOrEqual(servedCalls);
        expect({ name, data: served.data }).toEqual({ name, data: answer.data });
      } finally {
        await below.close();
        await at.close();
      }
    }
  });

  test('before any call, a list under `first` counts as its `first`', async () => {
    emulator.requestLog.clear();
    const answer = await post(
      reference.graphqlUrl,
      emulator.account('globex').authorization,
      '{ licenses(first: 1000) { nodes { productAssignment { licenses(first: 1000) { nodes { id } } } } } }',
    );
    // 1,000 licences, each with its assignment, its connection and 1,000 licences of that assignment.
    expect(answer.status).toBe(400);
    expect(answer.errors![0]!.extensions).toMatchObject({
      reason: 'RESULT_TOO_LARGE',
      counted: 'ESTIMATE',
      resultObjects: 1000 * (1 + 1 + 1 + 1000) + 1,
    });
    expect(emulator.requestLog.entries()).toEqual([]);
  });
});

describe('behind the count (demo seed)', () => {
  let emulator: Emulator;
  let demo: string;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    demo = emulator.account('demo').authorization;
  });
  afterAll(() => emulator?.close());

  test("a mutation's payload, read after its write, is cut at the allowance and keeps the new licence's data", async () => {
    const server = await serverOn(emulator, { MAX_RESULT_OBJECTS: '10' });
    try {
      const { generatableAssignmentId } = emulator.state.landmarks();
      const hwid = `PAYLOAD-${Date.now()}`;
      const answer = await post(
        server.graphqlUrl,
        demo,
        `mutation { generateLicense(input: { productAssignmentId: ${generatableAssignmentId}, hwid: "${hwid}", expirationDate: "${inThirtyDays(emulator.state.today())}" }) {
          license { id hwid productAssignment { licenses { nodes { productAssignment { licenses { nodes { id } } } } } } } } }`,
      );
      const made = emulator.state.licensesOf('demo').filter((license) => license.hwid === hwid);
      expect(made).toHaveLength(1);
      expect(answer.status).toBe(200);
      expect((answer.data as any).generateLicense.license).toMatchObject({ id: String(made[0]!.id), hwid });
      expect(answer.errors!.map((error) => error.extensions)).toContainEqual(
        expect.objectContaining({
          code: 'BAD_USER_INPUT',
          reason: 'RESULT_TOO_LARGE',
          maxResultObjects: 10,
          counted: 'AT_LEAST',
        }),
      );
    } finally {
      await server.close();
    }
  });

  test('a query answer over MAX_RESPONSE_BYTES is not sent; the refusal says its size', async () => {
    const server = await serverOn(emulator, { MAX_RESPONSE_BYTES: '2048' });
    try {
      const small = await post(server.graphqlUrl, demo, '{ productAssignments { id } }');
      expect(small.status).toBe(200);
      expect(small.errors).toBeUndefined();
      const large = await post(
        server.graphqlUrl,
        demo,
        '{ licenses { nodes { id hwid note expirationDate detail { fileName products } } } }',
      );
      expect(large.status).toBe(400);
      expect(large.errors![0]!.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        reason: 'RESPONSE_TOO_LARGE',
        maxResponseBytes: 2048,
      });
      expect(large.errors![0]!.extensions!.responseBytes).toBeGreaterThan(2048);
    } finally {
      await server.close();
    }
  });
});

describe('the large seed, against the server as its own process', () => {
  let emulator: Emulator;
  let server: ChildServer;
  let demo: string;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, seed: 'large' });
    demo = emulator.account('demo').authorization;
    server = await startChildServer({
      PORTAL_URL: emulator.url,
      LOG_LEVEL: 'silent',
      NODE_ENV: 'production',
      OPERATION_TIMEOUT_MS: '4000',
    });
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
    await emulator?.close();
  });
  afterEach(() => emulator.faults.clear());

  const healthz = async () => {
    const started = performance.now();
    const response = await request(new URL('/healthz', server.graphqlUrl));
    await response.body.dump();
    return { status: response.statusCode, ms: performance.now() - started };
  };

  test('the cycle three times round is refused within 2 s, with its count, while /healthz answers; memory stays low', async () => {
    const probes: Array<{ status: number; ms: number }> = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        probes.push(await healthz());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const answer = await post(server.graphqlUrl, demo, CYCLE_THRICE);
    probing = false;
    await prober;
    expect(answer.status).toBe(400);
    expect(answer.errors![0]!.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'RESULT_TOO_LARGE',
      maxResultObjects: 100_000,
    });
    expect(answer.errors![0]!.extensions!.resultObjects).toBeGreaterThan(40_000_000);
    expect(answer.ms).toBeLessThan(2000);
    expect(probes.length).toBeGreaterThan(0);
    for (const probe of probes) expect(probe).toEqual({ status: 200, ms: expect.any(Number) });
    expect(Math.max(...probes.map((probe) => probe.ms))).toBeLessThan(1000);
    // Seen once, the caller's list sizes refuse it the next time before any call.
    emulator.requestLog.clear();
    const again = await post(server.graphqlUrl, demo, CYCLE_THRICE);
    expect(again.errors![0]!.extensions).toMatchObject({ reason: 'RESULT_TOO_LARGE', counted: 'ESTIMATE' });
    expect(emulator.requestLog.entries()).toEqual([]);
    expect(server.peakMemoryMiB()).toBeLessThan(300);
  });

  test('the nested overview still answers, and is refused with its count under MAX_RESULT_OBJECTS=5000', async () => {
    const answer = await post(server.graphqlUrl, demo, OVERVIEW);
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.productAssignments).toHaveLength(emulator.state.assignmentsOf('demo').length);
    const size = answerSize(answer.data!);
    expect(size).toBeGreaterThan(5000);
    const small = await startChildServer({
      PORTAL_URL: emulator.url,
      LOG_LEVEL: 'silent',
      NODE_ENV: 'production',
      MAX_RESULT_OBJECTS: '5000',
    });
    try {
      const refused = await post(small.graphqlUrl, demo, OVERVIEW);
      expect(refused.status).toBe(400);
      expect(refused.errors![0]!.extensions).toMatchObject({
        reason: 'RESULT_TOO_LARGE',
        resultObjects: size,
        maxResultObjects: 5000,
        counted: 'EXACT',
      });
      expect(refused.errors![0]!.message).toContain(size.toLocaleString('en-US'));
    } finally {
      await small.stop();
    }
  }, 30_000);

  test('a body that never ends is cut off at PORTAL_MAX_RESPONSE_BYTES within 5 s, with flat memory', async () => {
    const bounded = await startChildServer({
      PORTAL_URL: emulator.url,
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      NODE_ENV: 'production',
      PORTAL_MAX_RESPONSE_BYTES: '2000000',
    });
    try {
      // Warmed up by the same query answered whole, so that what grows after is the fault's alone.
      for (let warmUp = 0; warmUp < 3; warmUp += 1)
        expect((await post(bounded.graphqlUrl, demo, OVERVIEW)).errors).toBeUndefined();
      const before = bounded.peakMemoryMiB();
      emulator.faults.add({ route: 'license.byAssignment.list', kind: 'endlessBody', times: 1 });
      const answer = await post(bounded.graphqlUrl, demo, OVERVIEW);
      expect(answer.errors!.map((error) => error.extensions!.code)).toEqual(['UPSTREAM_INVALID_RESPONSE']);
      expect(answer.ms).toBeLessThan(5000);
      expect(bounded.peakMemoryMiB() - before).toBeLessThan(20);
      // The log says what happened and how large, never the body.
      expect(bounded.output().stdout).toMatch(/"reason":"[^"]*ran past the limit of 2000000 bytes/);
      expect((await post(bounded.graphqlUrl, demo, OVERVIEW)).errors).toBeUndefined();
    } finally {
      await bounded.stop();
    }
  }, 30_000);

  test('with the default bound, a body that never ends still ends with an error within the deadline', async () => {
    emulator.faults.add({ route: 'license.byAssignment.list', kind: 'endlessBody', times: 1 });
    const answer = await post(server.graphqlUrl, demo, OVERVIEW);
    expect(answer.errors!.map((error) => error.extensions!.code)).toEqual(['UPSTREAM_INVALID_RESPONSE']);
    expect(answer.ms).toBeLessThan(4000);
    expect((await post(server.graphqlUrl, demo, OVERVIEW)).errors).toBeUndefined();
    expect(server.peakMemoryMiB()).toBeLessThan(300);
  });

  test.each([
    ['a body that trickles a byte a second', { kind: 'tricklingBody' as const, ms: 1000 }],
    ['headers that never come', { kind: 'slowHeaders' as const, ms: 60_000 }],
  ])('%s ends at the operation deadline (4 s), and the next request is served', async (_name, fault) => {
    emulator.faults.add({ route: 'productAssignment.list', times: 1, ...fault });
    const answer = await post(server.graphqlUrl, demo, '{ productAssignments { id } }');
    expect(answer.errors!.map((error) => error.extensions!.code)).toEqual(['UPSTREAM_TIMEOUT']);
    expect(answer.ms).toBeGreaterThan(3900);
    expect(answer.ms).toBeLessThan(5000);
    const next = await post(server.graphqlUrl, demo, '{ productAssignments { id } }');
    expect(next.errors).toBeUndefined();
  });

  test.each([
    ['never ends: cut off after the bound (16 MiB)', { kind: 'endlessBody' as const }],
    ['trickles a byte a second: cut off at the deadline (4 s)', { kind: 'tricklingBody' as const, ms: 1000 }],
  ])('a licence file that %s, and the next download is whole', async (_name, fault) => {
    const { hwidBoundLicenseId } = emulator.state.landmarks();
    const url = new URL(`/licenses/${hwidBoundLicenseId}/file`, server.graphqlUrl);
    emulator.faults.add({ route: 'licenseDetail.download', times: 1, ...fault });
    const started = performance.now();
    let received = 0;
    const response = await request(url, { headers: { authorization: demo } });
    expect(response.statusCode).toBe(200);
    await expect(
      (async () => {
        for await (const chunk of response.body) received += (chunk as Buffer).length;
      })(),
    ).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(5000);
    expect(received).toBeLessThanOrEqual(16 * 1024 * 1024);
    const whole = await request(url, { headers: { authorization: demo } });
    expect(Buffer.from(await whole.body.arrayBuffer()).equals(emulator.state.licenseFile(hwidBoundLicenseId)!)).toBe(
      true,
    );
    expect(server.peakMemoryMiB()).toBeLessThan(300);
  });

  test("generate's trickled answer ends at the deadline as OUTCOME_UNKNOWN, with exactly one licence made", async () => {
    const { generatableAssignmentId } = emulator.state.landmarks();
    const before = emulator.state.licensesOf('demo').length;
    emulator.faults.add({ route: 'license.generate', kind: 'tricklingBody', ms: 1000, times: 1 });
    const hwid = `TRICKLE-${Date.now()}`;
    const answer = await post(
      server.graphqlUrl,
      demo,
      `mutation { generateLicense(input: { productAssignmentId: ${generatableAssignmentId}, hwid: "${hwid}", expirationDate: "${inThirtyDays(emulator.state.today())}" }) { license { id } } }`,
    );
    expect(answer.errors!.map((error) => error.extensions!.code)).toEqual(['OUTCOME_UNKNOWN']);
    expect(answer.ms).toBeLessThan(5000);
    const made = emulator.state.licensesOf('demo').filter((license) => license.hwid === hwid);
    expect(made).toHaveLength(1);
    expect(emulator.state.licensesOf('demo')).toHaveLength(before + 1);
  });
});
