/**
 * The benchmark's measurements against one running server: upstream calls and cold latency (one request at a
 * time), and throughput and p99 latency under load (autocannon). Every response is checked: a response with
 * `errors`, or not 200, stops the benchmark, since a benchmark of errors measures nothing.
 */
import autocannon from 'autocannon';
import { cpuSeconds, type Child } from './processes';
import { requestBody, type BenchQuery } from './queries';

/** The demo account of the emulator, sent as every caller's own credentials. */
export const AUTHORIZATION = `Basic ${Buffer.from('demo:demo').toString('base64')}`;
/** Asks the server for `extensions.upstream` in a production build. */
const UPSTREAM_CALLS_HEADER = 'x-upstream-calls';
/** Seconds autocannon waits for one response; the baseline's heavy queries are slow under load. */
const LOAD_TIMEOUT_S = 120;

/** Upstream calls of one request by endpoint, e.g. `{ "license.list": 1 }`. */
export type CallsByEndpoint = Record<string, number>;

/** Cold figures of one operation, from two servers alike but for their portal's added latency. */
export interface ColdResult {
  /** Upstream calls of one request after the warm-up, from `extensions.upstream.byEndpoint`. */
  calls: number;
  byEndpoint: CallsByEndpoint;
  /** Median latency of the sequential requests to the server in front of the fast portal, in milliseconds. */
  fastMs: number;
  /** The same, in front of the slow portal. */
  slowMs: number;
  /**
   * The fastest request of each: other work on the machine only ever adds time, so the difference of the minimums
   * shows the portal's share when the medians are noisy.
   */
  fastMinMs: number;
  slowMinMs: number;
}

export interface LoadSettings {
  connections: number;
  /** Seconds of load; or, when `amount` is given, the requests to send in all. */
  durationS: number;
  amount?: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  p99Ms: number;
  /** Completed requests. */
  requests: number;
  seconds: number;
  /** How the load was bounded, for the report: `8 s` or `20 requests`. */
  bound: string;
}

export interface ColdSettings {
  /** Timed requests to each server. */
  samples: number;
  /** Most warm-up requests to each server before timing: the first requests of a fresh server pay for JIT compilation and heap growth. */
  warmUpRequests: number;
  /** Warm-up stops early once it has taken this long (the baseline's heavy queries take seconds each). */
  warmUpMs: number;
}

/**
 * Cold latency, one request at a time: warms each server up (its last warm-up request carries the upstream-calls
 * header, and the calls are read from it: a server may plan its first request of an operation differently, before
 * it knows the caller's list sizes), then sends `samples` requests to each without the header, alternating the two
 * servers (fast-slow, slow-fast, …) so that a change in the machine's load while it runs falls on both alike.
 * Returns the calls and each server's median and fastest latency.
 */
export async function measureCold(
  fastUrl: string,
  slowUrl: string,
  query: BenchQuery,
  settings: ColdSettings,
): Promise<ColdResult> {
  const byEndpoint = await warmUp(fastUrl, query, settings);
  const slowByEndpoint = await warmUp(slowUrl, query, settings);
  if (describeCalls(slowByEndpoint) !== describeCalls(byEndpoint))
    throw new Error(
      `${query.name}: ${describeCalls(byEndpoint)} with the fast portal but ${describeCalls(slowByEndpoint)} with the slow one.`,
    );
  const fast: number[] = [];
  const slow: number[] = [];
  for (let i = 0; i < settings.samples; i += 1) {
    const order: Array<[string, number[]]> =
      i % 2 === 0
        ? [
            [fastUrl, fast],
            [slowUrl, slow],
          ]
        : [
            [slowUrl, slow],
            [fastUrl, fast],
          ];
    for (const [url, timings] of order) timings.push((await sendOnce(url, query, false)).ms);
  }
  return {
    calls: Object.values(byEndpoint).reduce((sum, calls) => sum + calls, 0),
    byEndpoint,
    fastMs: median(fast),
    slowMs: median(slow),
    fastMinMs: Math.min(...fast),
    slowMinMs: Math.min(...slow),
  };
}

/** Warms a server up with `query`; returns the upstream calls of its last warm-up request. */
async function warmUp(url: string, query: BenchQuery, settings: ColdSettings): Promise<CallsByEndpoint> {
  const started = performance.now();
  for (let sent = 1; sent < settings.warmUpRequests && performance.now() - started < settings.warmUpMs; sent += 1)
    await sendOnce(url, query, false);
  return (await sendOnce(url, query, true)).calls!;
}

/** Calls by endpoint as one line, the same for the same calls: `license.list 1, productAssignment.list 1`. */
export function describeCalls(byEndpoint: CallsByEndpoint): string {
  const endpoints = Object.keys(byEndpoint).sort();
  return endpoints.length === 0 ? 'no calls' : endpoints.map((name) => `${name} ${byEndpoint[name]}`).join(', ');
}

/** Runs autocannon against `query` and fails if a single response was not a clean 200 with data. */
/**
 * A load, and the CPU time `server` (the process answering it) spent meanwhile, per request answered, in
 * microseconds: for weighing one server, or one setting, against another under the same load.
 */
export async function measureLoadCpu(
  server: Child,
  graphqlUrl: string,
  query: BenchQuery,
  settings: LoadSettings,
): Promise<LoadResult & { cpuUsPerRequest: number }> {
  const before = cpuSeconds(server);
  const load = await measureLoad(graphqlUrl, query, settings);
  return { ...load, cpuUsPerRequest: ((cpuSeconds(server) - before) * 1e6) / load.requests };
}

export async function measureLoad(graphqlUrl: string, query: BenchQuery, settings: LoadSettings): Promise<LoadResult> {
  const started = performance.now();
  let lastAnswered = started;
  const instance = autocannon({
    url: graphqlUrl,
    connections: settings.connections,
    ...(settings.amount === undefined ? { duration: settings.durationS } : { amount: settings.amount }),
    timeout: LOAD_TIMEOUT_S,
    method: 'POST',
    headers: { authorization: AUTHORIZATION, 'content-type': 'application/json' },
    // A fresh body per request: the mutation's hwid must differ each time.
    requests: [{ method: 'POST', setupRequest: (request) => ({ ...request, body: requestBody(query) }) }],
    verifyBody: (body) => !body.includes('"errors":') && body.startsWith('{"data":'),
  });
  instance.on('response', () => {
    lastAnswered = performance.now();
  });
  const result = await instance;
  const failed = result.errors + result.timeouts + result.non2xx + result.mismatches;
  if (failed > 0 || result.requests.total === 0) {
    throw new Error(
      `${query.name}: under load, ${result.requests.total} requests completed with ${result.errors} connection errors, ` +
        `${result.timeouts} timeouts, ${result.non2xx} non-2xx answers and ${result.mismatches} answers with GraphQL errors ` +
        `(status codes: ${JSON.stringify(result.statusCodeStats)}).`,
    );
  }
  // autocannon ends a fixed number of requests on its next one-second tick, so its duration is rounded up to a whole
  // second: 10 requests answered in 0.3 s and in 0.9 s would both be 10 req/s. Such a load is timed to its last answer.
  const seconds = settings.amount === undefined ? result.duration : (lastAnswered - started) / 1000;
  return {
    requestsPerSecond: result.requests.total / seconds,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    seconds: Math.round(seconds * 100) / 100,
    bound: settings.amount === undefined ? `${settings.durationS} s` : `${settings.amount} requests`,
  };
}

interface SentOnce {
  ms: number;
  calls: CallsByEndpoint | undefined;
}

/** One request; its latency is from sending to the last byte of the body, before parsing it. */
async function sendOnce(graphqlUrl: string, query: BenchQuery, askForCalls: boolean): Promise<SentOnce> {
  const headers: Record<string, string> = { authorization: AUTHORIZATION, 'content-type': 'application/json' };
  if (askForCalls) headers[UPSTREAM_CALLS_HEADER] = '1';
  const body = requestBody(query);
  const started = performance.now();
  const response = await fetch(graphqlUrl, { method: 'POST', headers, body });
  const text = await response.text();
  const ms = performance.now() - started;
  const calls = checkedResponse(query, response.status, text, askForCalls);
  return { ms, calls };
}

/** Fails unless the answer is a 200 with data and no errors; returns `extensions.upstream.byEndpoint` when asked. */
function checkedResponse(
  query: BenchQuery,
  status: number,
  text: string,
  askedForCalls: boolean,
): CallsByEndpoint | undefined {
  let parsed: { data?: unknown; errors?: unknown; extensions?: { upstream?: { byEndpoint?: unknown } } };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new Error(`${query.name}: the server answered ${status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
  if (status !== 200 || parsed.errors !== undefined || parsed.data == null) {
    throw new Error(
      `${query.name}: the server answered ${status} with errors: ${JSON.stringify(parsed.errors ?? parsed).slice(0, 1000)}`,
    );
  }
  if (!askedForCalls) return undefined;
  const byEndpoint = parsed.extensions?.upstream?.byEndpoint;
  const calls: CallsByEndpoint = {};
  if (typeof byEndpoint === 'object' && byEndpoint !== null) {
    for (const [endpoint, entry] of Object.entries(byEndpoint as Record<string, { calls?: unknown }>)) {
      if (typeof entry.calls === 'number') calls[endpoint] = entry.calls;
    }
  }
  // A request served from the read cache makes no calls, and says so with an empty byEndpoint.
  if (parsed.extensions?.upstream === undefined)
    throw new Error(
      `${query.name}: the response has no extensions.upstream.byEndpoint, though ${UPSTREAM_CALLS_HEADER}: 1 was sent.`,
    );
  return calls;
}

/** The middle value, or the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
