/**
 * The emulated portal's HTTP face, on bare `node:http` so that every status, header and byte is ours to choose.
 *
 * A request goes: log it → read credentials → route (Werkzeug's 404 / 405 / OPTIONS before any view) → pick a
 * fault → run the route (generate's effect happens here) → wait the latency → send, reset or mangle the answer.
 * Contract: a request never crashes the process; an unexpected error answers Werkzeug's 500 page and is logged
 * to stderr.
 */
import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeAnswer, optionsAnswer, werkzeugPage, type Answer, type EncodedAnswer } from './answers';
import { parseBasicCredentials } from './basicAuth';
import { findAccount, type DemoAccount, type PortalStore } from './data';
import {
  endlessListPieces,
  garbageAnswer,
  malformedJsonAnswer,
  wrongShapeAnswer,
  type FaultRule,
  type FaultSet,
} from './faults';
import type { RecordingLog } from './requestLog';
import { parseQuery, percentDecode, splitTarget } from './requestTarget';
import { encodedRouteAnswer, matchRoute, type RouteMatch, type RouteName } from './routes';

/** The emulator's today and now, as the portal writes them. */
export interface Clock {
  today(): string;
  now(): string;
}

/** Added milliseconds before each answer: one for all routes, and overrides per route. */
export class LatencySettings {
  private globalMs: number;
  private readonly perRoute = new Map<RouteName, number>();

  constructor(private readonly initialMs: number) {
    this.globalMs = initialMs;
  }

  /** Sets the latency of every route, or (with `route`) of that one only, overriding the global value. */
  set(ms: number, route?: RouteName): void {
    if (!(Number.isFinite(ms) && ms >= 0))
      throw new TypeError(`latency must be a number of milliseconds >= 0, but got: ${String(ms)}`);
    if (route === undefined) this.globalMs = ms;
    else this.perRoute.set(route, ms);
  }

  /** Back to the latency the emulator started with, and no per-route overrides. */
  reset(): void {
    this.globalMs = this.initialMs;
    this.perRoute.clear();
  }

  for(route: RouteName | null): number {
    return (route !== null ? this.perRoute.get(route) : undefined) ?? this.globalMs;
  }
}

export interface PortalServerParts {
  /** The current store; `reset()` swaps it, so it is read per request. */
  store(): PortalStore;
  clock: Clock;
  faults: FaultSet;
  log: RecordingLog;
  latency: LatencySettings;
  /** Aborted when the emulator closes, so that pending waits end at once. */
  lifetime: AbortSignal;
  /** Passwords changed since seeding, by username (`Emulator.setPassword`). */
  changedPasswords: ReadonlyMap<string, string>;
}

export function createPortalServer(parts: PortalServerParts): Server {
  const server = createServer((req, res) => {
    serve(req, res, parts).catch((error: unknown) => failSafely(error, req, res, parts));
  });
  return server;
}

async function serve(req: IncomingMessage, res: ServerResponse, parts: PortalServerParts): Promise<void> {
  // A client that goes away mid-request makes these emit 'error'; nothing here needs to know.
  req.on('error', ignore);
  res.on('error', ignore);
  req.resume();

  const { rawPath, rawQuery } = splitTarget(req.url);
  const method = req.method ?? '';
  const traceparent = req.headers.traceparent;
  const logged = parts.log.begin({
    method,
    path: rawPath,
    query: rawQuery,
    traceparent: typeof traceparent === 'string' ? traceparent : null,
  });
  res.once('close', () =>
    parts.log.end(logged, { status: res.headersSent ? res.statusCode : null, completed: res.writableFinished }),
  );

  const credentials = parseBasicCredentials(req.headers.authorization);
  const account = credentials && findAccount(credentials.username, credentials.password, parts.changedPasswords);
  logged.username = account?.username ?? null;

  const match = matchRoute(percentDecode(rawPath));
  logged.route = match?.name ?? null;
  if (match === null) return answerPlainly(res, werkzeugPage(404), parts.latency.for(null), parts);
  if (method === 'OPTIONS') return answerPlainly(res, optionsAnswer(), parts.latency.for(match.name), parts);
  if (method !== 'GET' && method !== 'HEAD')
    return answerPlainly(res, werkzeugPage(405), parts.latency.for(match.name), parts);

  const fault = parts.faults.take(match.name);
  logged.fault = fault?.kind ?? null;
  const runRoute = (): EncodedAnswer => encodedRouteAnswer(match, routeContext(match, account, rawQuery, parts));
  const latencyMs = parts.latency.for(match.name);
  if (fault === null) {
    const answer = runRoute();
    await pause(latencyMs, parts);
    return send(res, answer);
  }
  await serveWithFault(fault, runRoute, latencyMs, req, res, parts);
}

/** How each fault kind bends the answer; see `faults.ts` for which strike before or after the route's effect. */
async function serveWithFault(
  fault: FaultRule,
  runRoute: () => EncodedAnswer,
  latencyMs: number,
  req: IncomingMessage,
  res: ServerResponse,
  parts: PortalServerParts,
): Promise<void> {
  switch (fault.kind) {
    case 'status': {
      await pause(latencyMs, parts);
      const answer: Answer = {
        kind: 'text',
        status: fault.status,
        body: fault.body ?? STATUS_CODES[fault.status] ?? '',
        headers: fault.headers ?? {},
      };
      return send(res, encodeAnswer(answer));
    }
    case 'reset':
      await pause(latencyMs, parts);
      return resetConnection(req);
    case 'resetAfterEffect':
      runRoute();
      await pause(latencyMs, parts);
      return resetConnection(req);
    case 'slowHeaders': {
      const answer = runRoute();
      await pause(latencyMs + fault.ms, parts);
      return send(res, answer);
    }
    case 'slowBody': {
      const answer = runRoute();
      await pause(latencyMs, parts);
      return sendSlowly(res, answer, fault.ms, parts);
    }
    case 'malformedJson': {
      const answer = runRoute();
      await pause(latencyMs, parts);
      return send(res, malformedJsonAnswer(answer));
    }
    case 'truncatedBody': {
      const answer = runRoute();
      await pause(latencyMs, parts);
      return sendTruncated(req, res, answer);
    }
    case 'wrongShape': {
      const answer = runRoute();
      await pause(latencyMs, parts);
      return send(res, wrongShapeAnswer(answer, fault.body));
    }
    case 'garbage':
      runRoute();
      await pause(latencyMs, parts);
      return send(res, garbageAnswer());
    case 'endlessBody': {
      const answer = runRoute();
      await pause(latencyMs, parts);
      return sendEndlessly(res, answer, parts);
    }
    case 'tricklingBody': {
      const answer = runRoute();
      await pause(latencyMs, parts);
      return sendTrickling(res, answer, fault.ms ?? 1000, parts);
    }
    default:
      throw new UnreachableFaultError(fault);
  }
}

class UnreachableFaultError extends Error {
  constructor(value: never) {
    super(`unknown fault kind: ${JSON.stringify(value)}`);
  }
}

function routeContext(match: RouteMatch, account: DemoAccount | null, rawQuery: string, parts: PortalServerParts) {
  // Only generate reads the query; parsing it for every list call would be wasted work under load.
  const query = match.name === 'license.generate' ? parseQuery(rawQuery) : new Map<string, string>();
  return { store: parts.store(), account, query, today: parts.clock.today(), now: parts.clock.now() };
}

async function answerPlainly(
  res: ServerResponse,
  answer: Answer,
  latencyMs: number,
  parts: PortalServerParts,
): Promise<void> {
  await pause(latencyMs, parts);
  send(res, encodeAnswer(answer));
}

function send(res: ServerResponse, answer: EncodedAnswer): void {
  if (res.destroyed) return;
  res.writeHead(answer.status, answer.headers);
  // For HEAD, Node drops the body and keeps Content-Length, as Werkzeug does.
  res.end(answer.body);
}

async function sendSlowly(
  res: ServerResponse,
  answer: EncodedAnswer,
  ms: number,
  parts: PortalServerParts,
): Promise<void> {
  if (res.destroyed) return;
  const half = Math.max(1, Math.floor(answer.body.length / 2));
  res.writeHead(answer.status, answer.headers);
  res.write(answer.body.subarray(0, half));
  await pause(ms, parts);
  if (!res.destroyed) res.end(answer.body.subarray(half));
}

/** A 200 JSON list that never ends, written as fast as the client reads it, until it or the emulator goes away. */
function sendEndlessly(res: ServerResponse, answer: EncodedAnswer, parts: PortalServerParts): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  const { opening, repeated } = endlessListPieces(answer);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.write(opening);
  return new Promise((resolve) => {
    const stop = () => {
      parts.lifetime.removeEventListener('abort', stop);
      res.destroy();
      resolve();
    };
    const pump = () => {
      while (!res.destroyed && !parts.lifetime.aborted) {
        if (!res.write(repeated)) return void res.once('drain', pump);
      }
      stop();
    };
    res.once('close', stop);
    parts.lifetime.addEventListener('abort', stop, { once: true });
    pump();
  });
}

/** The answer's headers with its full Content-Length, then its body one byte every `ms`. */
async function sendTrickling(
  res: ServerResponse,
  answer: EncodedAnswer,
  ms: number,
  parts: PortalServerParts,
): Promise<void> {
  if (res.destroyed) return;
  res.writeHead(answer.status, answer.headers);
  res.flushHeaders();
  for (let index = 0; index < answer.body.length && !res.destroyed; index += 1) {
    res.write(answer.body.subarray(index, index + 1));
    await pause(ms, parts);
  }
  if (!res.destroyed) res.end();
}

/** Headers that promise the whole body, half of it, then the connection closes (FIN, not reset). */
function sendTruncated(req: IncomingMessage, res: ServerResponse, answer: EncodedAnswer): void {
  if (res.destroyed) return;
  res.writeHead(answer.status, answer.headers);
  res.flushHeaders();
  const part = answer.body.subarray(0, Math.floor(answer.body.length / 2));
  if (part.length > 0) res.write(part, () => req.socket.destroy());
  else setImmediate(() => req.socket.destroy());
}

/** A TCP reset: the client sees ECONNRESET (or "other side closed") and no answer at all. */
function resetConnection(req: IncomingMessage): void {
  const socket = req.socket;
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/** Waits, unless the emulator closes first: then throws, and `failSafely` drops the connection quietly. */
async function pause(ms: number, parts: PortalServerParts): Promise<void> {
  if (ms <= 0) return;
  await sleep(ms, undefined, { signal: parts.lifetime });
}

function failSafely(error: unknown, req: IncomingMessage, res: ServerResponse, parts: PortalServerParts): void {
  if (parts.lifetime.aborted) {
    req.socket.destroy();
    return;
  }
  console.error(`[portal-emulator] unexpected error on ${req.method ?? '?'} ${String(req.url).slice(0, 200)}:`, error);
  try {
    if (!res.headersSent && !res.destroyed) send(res, encodeAnswer(werkzeugPage(500)));
    else req.socket.destroy();
  } catch {
    req.socket.destroy();
  }
}

function ignore(): void {}
