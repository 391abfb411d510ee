/**
 * The portal transport against a real node:http server on port 0: retries of safe reads (and never of a write),
 * Retry-After within the deadline, the circuit breaker's accounting, one call report per attempt, and the failures
 * below HTTP as the error table names them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  PortalTransport,
  type PortalCaller,
  type TransportOptions,
  type UpstreamCall,
} from '../../src/portal/transport';
import type { PortalError } from '../../src/portal/portalErrors';
import { ManualClock } from '../helpers/clock';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let origin: string;
let handle: Handler;
let requests: string[];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

let transport: PortalTransport;
beforeEach(() => {
  requests = [];
});
afterEach(() => transport.close());

function transportWith(options: Partial<TransportOptions> = {}): PortalTransport {
  transport = new PortalTransport({
    origin,
    connections: 4,
    connectTimeoutMs: 1000,
    headersTimeoutMs: 1000,
    bodyTimeoutMs: 1000,
    keepAliveTimeoutMs: 1000,
    maxRetries: 2,
    retryBaseDelayMs: 1,
    breakerFailureThreshold: 5,
    breakerCooldownMs: 60_000,
    maxResponseBytes: 1024,
    ...options,
  });
  return transport;
}

/** Answers each request with the next of `answers`, the last one from then on. */
function answering(...answers: Array<{ status: number; body?: string; headers?: Record<string, string> } | 'reset'>) {
  let next = 0;
  handle = (req, res) => {
    const answer = answers[Math.min(next, answers.length - 1)]!;
    next += 1;
    if (answer === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body ?? '[]');
  };
}

function callerReporting(calls: UpstreamCall[], extra: Partial<PortalCaller> = {}): PortalCaller {
  return { authorization: 'Basic ZGVtbzpkZW1v', callerKey: 'demo', onCall: (call) => calls.push(call), ...extra };
}

const LIST = { endpoint: 'license.list', path: '/api/license/list', idempotent: true } as const;
const GENERATE = { endpoint: 'license.generate', path: '/api/license/generate/7?hwid=x', idempotent: false } as const;

async function failure(promise: Promise<unknown>): Promise<PortalError> {
  try {
    await promise;
  } catch (error) {
    return error as PortalError;
  }
  throw new Error('expected the call to fail');
}

test('a safe read is retried after 503 and a reset, and each attempt is reported', async () => {
  answering({ status: 503 }, 'reset', { status: 200, body: '[1]' });
  const calls: UpstreamCall[] = [];
  const body = await transportWith().body(callerReporting(calls), LIST);
  expect(body.toString()).toBe('[1]');
  expect(requests).toEqual(['/api/license/list', '/api/license/list', '/api/license/list']);
  expect(calls.map((call) => [call.attempt, call.status, call.errorCode])).toEqual([
    [0, 503, 'UNAVAILABLE'],
    [1, undefined, 'UNAVAILABLE'],
    [2, 200, undefined],
  ]);
});

test('a write is sent once: a 503 is not retried, and a reset after sending is OUTCOME_UNKNOWN', async () => {
  answering({ status: 503 });
  const t = transportWith();
  expect((await failure(t.body(callerReporting([]), GENERATE))).code).toBe('UNAVAILABLE');
  expect(requests).toHaveLength(1);
  answering('reset');
  expect((await failure(t.body(callerReporting([]), GENERATE))).code).toBe('OUTCOME_UNKNOWN');
  expect(requests).toHaveLength(2);
});

test("500 is the portal failing on this request: not retried; the portal's Retry-After is waited for", async () => {
  answering({ status: 500 });
  const clock = new ManualClock();
  const t = transportWith({ now: clock.now, sleep: clock.sleep });
  expect((await failure(t.body(callerReporting([]), LIST))).code).toBe('UNAVAILABLE');
  expect(requests).toHaveLength(1);
  answering({ status: 429, headers: { 'retry-after': '1' } }, { status: 200 });
  const before = clock.now();
  await t.body(callerReporting([]), LIST);
  expect(clock.now() - before).toBe(1000);
  expect(requests).toHaveLength(3);
});

test("a Retry-After given as a date is read against the transport's clock: the retry waits until that date", async () => {
  const clock = new ManualClock(Date.parse('2026-12-01T12:00:00Z'));
  answering({ status: 503, headers: { 'retry-after': 'Tue, 01 Dec 2026 12:00:02 GMT' } }, { status: 200 });
  await transportWith({ now: clock.now, sleep: clock.sleep }).body(callerReporting([]), LIST);
  expect(clock.now()).toBe(Date.parse('2026-12-01T12:00:02Z'));
  expect(requests).toHaveLength(2);
});

test('without a sleep of its own, a retry waits on a real timer', async () => {
  answering({ status: 503 }, { status: 200 });
  const calls: UpstreamCall[] = [];
  // The first backoff is jittered between half the base delay and all of it.
  await transportWith({ retryBaseDelayMs: 100 }).body(callerReporting(calls), LIST);
  const [first, second] = calls;
  expect(second!.startedAt - (first!.startedAt + first!.durationMs)).toBeGreaterThanOrEqual(49);
});

test('no retry is started that would end after the deadline', async () => {
  answering({ status: 503, headers: { 'retry-after': '5' } });
  const clock = new ManualClock();
  const before = clock.now();
  const t = transportWith({ now: clock.now, sleep: clock.sleep });
  const error = await failure(t.body(callerReporting([], { deadline: performance.now() + 1000 }), LIST));
  expect(error).toMatchObject({ code: 'UNAVAILABLE', status: 503, retryAfterMs: 5000 });
  expect(requests).toHaveLength(1);
  expect(clock.now()).toBe(before); // nor waited for
});

test('the breaker opens on failures in a row and then refuses calls without sending them; a 4xx is an answer', async () => {
  const t = transportWith({ maxRetries: 0, breakerFailureThreshold: 2 });
  answering({ status: 403, body: 'Forbidden' });
  for (let i = 0; i < 3; i += 1) expect((await failure(t.body(callerReporting([]), LIST))).code).toBe('FORBIDDEN');
  expect(t.breaker.current()).toBe('closed');
  answering({ status: 502 });
  await failure(t.body(callerReporting([]), LIST));
  await failure(t.body(callerReporting([]), LIST));
  expect(t.breaker.current()).toBe('open');
  const sent = requests.length;
  const refused = await failure(t.body(callerReporting([]), LIST));
  expect(refused.code).toBe('UNAVAILABLE');
  expect(refused.retryAfterMs).toBeGreaterThan(0);
  expect(requests).toHaveLength(sent);
});

test("the breaker's cooldown runs on the transport's clock: one probe goes out once it has passed", async () => {
  const clock = new ManualClock();
  const t = transportWith({ maxRetries: 0, breakerFailureThreshold: 1, breakerCooldownMs: 60_000, now: clock.now });
  answering({ status: 502 }, { status: 200 });
  await failure(t.body(callerReporting([]), LIST));
  clock.advance(59_999);
  expect(await failure(t.body(callerReporting([]), LIST))).toMatchObject({ code: 'UNAVAILABLE', retryAfterMs: 1 });
  expect(requests).toHaveLength(1);
  clock.advance(1);
  await t.body(callerReporting([]), LIST);
  expect(requests).toHaveLength(2);
  expect(t.breaker.current()).toBe('closed');
});

test('credentials that do not decode are refused without a call; a body past the bound is INVALID_RESPONSE', async () => {
  answering({ status: 200, body: JSON.stringify('x'.repeat(2000)) });
  const t = transportWith();
  const unreadable = await failure(t.body({ authorization: 'Basic bm8tY29sb24=', callerKey: 'x' }, LIST));
  expect(unreadable.code).toBe('UNAUTHENTICATED');
  expect(requests).toHaveLength(0);
  expect((await failure(t.body(callerReporting([]), LIST))).code).toBe('INVALID_RESPONSE');
  expect((await failure(t.body(callerReporting([]), GENERATE))).code).toBe('OUTCOME_UNKNOWN');
});
