/**
 * The benchmark's xlarge part: operations 1, 2 and 4 on the emulator's xlarge seed (the demo user has 400
 * assignments and 50,000 licences, ten times the large seed's history), answered by the planned server without the
 * read cache and with it (`PORTAL_CACHE_TTL_MS`), and by the floor, each in front of its own emulator at 0 ms.
 * Operations 1 and 2 ask for the first 50 licences of each list (`XLARGE_SIZES`): the answer stays within
 * MAX_RESULT_OBJECTS, and the whole list is still read, so what is measured is what a page costs as a customer's
 * history grows. The three answers are checked equal, byte for byte, before anything is measured.
 */
import { callsDiffer, checkSameAnswer } from './floorCheck';
import {
  measureCold,
  measureLoad,
  type CallsByEndpoint,
  type ColdSettings,
  type LoadResult,
  type LoadSettings,
} from './measure';
import { peakRssBytes, startEmulator, startServer, type RunningServer } from './processes';
import { benchQueries, XLARGE_SIZES, type BenchQuery } from './queries';

/** The servers of the xlarge part. */
export type XlargeServer = 'planned' | 'cached' | 'floor';
export const XLARGE_SERVERS: readonly XlargeServer[] = ['planned', 'cached', 'floor'];

/** How long the cached server keeps a list: longer than the part runs, so that every read after the first is a hit. */
const CACHE_TTL_MS = 600_000;

export interface XlargeSettings {
  cold: ColdSettings;
  connections: number;
  loadDurationS: number;
  /** As the main part's: a load of a fixed number of requests when one request takes more than this share of it. */
  slowRequestShare: number;
  slowRequestsPerConnection: number;
}

/** One operation's figures on the xlarge seed. */
interface XlargeQueryFigures {
  query: BenchQuery;
  /** Upstream calls of one request, by server (the cached server's are its portal calls: none on a hit). */
  calls: Record<XlargeServer, CallsByEndpoint>;
  /** Median sequential latency, in milliseconds. */
  coldMs: Record<XlargeServer, number>;
  load: Record<XlargeServer, LoadResult>;
  callsDiffer: string | undefined;
}

export interface XlargeFigures {
  queries: XlargeQueryFigures[];
  /** Peak RSS of each server, in bytes, read when the part ends. */
  memory: Record<XlargeServer, number>;
}

/** The operations of the xlarge part. */
function xlargeQueries(today: string, runId: string): BenchQuery[] {
  return benchQueries(today, runId, XLARGE_SIZES).filter((query) =>
    ['nested', 'licenses', 'paged'].includes(query.key),
  );
}

/**
 * Runs the xlarge part: starts the three emulators and servers, checks their answers equal, measures each
 * operation on each server (a few sequential requests, then the same load on each), and reads their peak memory.
 * The caller stops the children (`stopAllChildren`).
 */
export async function measureXlarge(
  today: string,
  runId: string,
  settings: XlargeSettings,
  progress: (line: string) => void,
): Promise<XlargeFigures> {
  const servers = await startXlargeServers(today);
  progress('xlarge: the emulators (400 assignments, 50,000 licences) and the servers are up');
  const queries = xlargeQueries(today, runId);
  for (const query of queries) {
    await checkSameAnswer(servers.planned.graphqlUrl, servers.floor.graphqlUrl, query);
    await checkSameAnswer(servers.cached.graphqlUrl, servers.floor.graphqlUrl, query);
    progress(`xlarge, ${query.name}: the three answers are the same, byte for byte`);
  }
  const figures: XlargeQueryFigures[] = [];
  for (const query of queries) figures.push(await measureQuery(servers, query, settings, progress));
  const memory = {} as Record<XlargeServer, number>;
  for (const server of XLARGE_SERVERS) memory[server] = peakRssBytes(servers[server].child);
  return { queries: figures, memory };
}

async function startXlargeServers(today: string): Promise<Record<XlargeServer, RunningServer>> {
  const emulators = await Promise.all(XLARGE_SERVERS.map(() => startEmulator(0, 'xlarge')));
  const [planned, cached, floor] = await Promise.all([
    startServer('planned', emulators[0]!.url, today),
    startServer('planned', emulators[1]!.url, today, { PORTAL_CACHE_TTL_MS: String(CACHE_TTL_MS) }),
    startServer('floor', emulators[2]!.url, today),
  ]);
  return { planned: planned, cached: cached, floor: floor };
}

async function measureQuery(
  servers: Record<XlargeServer, RunningServer>,
  query: BenchQuery,
  settings: XlargeSettings,
  progress: (line: string) => void,
): Promise<XlargeQueryFigures> {
  const calls = {} as Record<XlargeServer, CallsByEndpoint>;
  const coldMs = {} as Record<XlargeServer, number>;
  for (const server of XLARGE_SERVERS) {
    // Both of measureCold's servers are this one: its samples alternate with themselves.
    const url = servers[server].graphqlUrl;
    const cold = await measureCold(url, url, query, settings.cold);
    calls[server] = cold.byEndpoint;
    coldMs[server] = cold.fastMs;
  }
  const slowest = Math.max(...XLARGE_SERVERS.map((server) => coldMs[server]));
  const bound: LoadSettings = { connections: settings.connections, durationS: settings.loadDurationS };
  if (slowest > settings.loadDurationS * 1000 * settings.slowRequestShare)
    bound.amount = settings.connections * settings.slowRequestsPerConnection;
  const load = {} as Record<XlargeServer, LoadResult>;
  for (const server of XLARGE_SERVERS) {
    load[server] = await measureLoad(servers[server].graphqlUrl, query, bound);
    progress(
      `xlarge, ${query.name}, ${server}: cold ${coldMs[server].toFixed(1)} ms; ` +
        `${load[server].requestsPerSecond.toFixed(2)} req/s, p99 ${load[server].p99Ms} ms (${load[server].requests} requests in ${load[server].seconds} s)`,
    );
  }
  return { query, calls, coldMs, load, callsDiffer: callsDiffer(calls.planned, calls.floor) };
}
