/**
 * The emulator's record of every request it served, for tests to assert what a client really sent: how many
 * calls, to which routes, as whom, and which of them overlapped in time.
 *
 * It holds the authenticated username only: never a password, never an Authorization header.
 */
import type { FaultKind } from './faults';
import type { RouteName } from './routes';

export interface RequestLogEntry {
  /** Arrival order, from 1 since the log was last cleared; entries are listed in this order. */
  seq: number;
  method: string;
  /** The path as sent, without the query. */
  path: string;
  /** The query string as sent, without `?`; '' when none. */
  query: string;
  /** The W3C `traceparent` header the client sent (a portal that traces joins the client's trace); null: none. */
  traceparent: string | null;
  /** The route the path matched, or null for an unknown path. */
  route: RouteName | null;
  /** The status answered, or null when the connection was reset before any header was sent. */
  status: number | null;
  /** The account the credentials named, or null when they were missing or wrong. */
  username: string | null;
  /** The fault that struck this request, if any. */
  fault: FaultKind | null;
  /** True when the whole answer was written; false when the connection ended first (a fault, or the client left). */
  completed: boolean;
  /** High-resolution wall-clock milliseconds (`performance.timeOrigin + performance.now()`). */
  startedAt: number;
  endedAt: number;
}

export interface RequestLogFilter {
  /** Only this route; `null` selects the requests that matched no route. */
  route?: RouteName | null;
  username?: string | null;
}

/** What tests hold: the finished requests, and a way to wait for those still running. */
export interface RequestLog {
  /** Finished requests in arrival order, optionally filtered. */
  entries(filter?: RequestLogFilter): RequestLogEntry[];
  byRoute(route: RouteName): RequestLogEntry[];
  count(filter?: RequestLogFilter): number;
  /** Requests received whose answer has not ended yet. */
  inFlight(): number;
  /** Resolves once no request is in flight (at once if none is). */
  whenIdle(): Promise<void>;
  /** Forgets every entry, including those of requests still in flight, and numbers from 1 again. */
  clear(): void;
}

/** A request while it runs: the server fills in what it learns, and the log seals it when the answer ends. */
export class PendingRequest {
  route: RouteName | null = null;
  username: string | null = null;
  fault: FaultKind | null = null;
  /** Set once, when the answer ended. */
  entry: RequestLogEntry | null = null;

  constructor(
    readonly seq: number,
    readonly method: string,
    readonly path: string,
    readonly query: string,
    readonly traceparent: string | null,
    readonly startedAt: number,
  ) {}
}

function highResolutionNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Entries kept at most; the oldest go first, so that a long-running standalone emulator stays small. */
const DEFAULT_LIMIT = 100_000;

export class RecordingLog implements RequestLog {
  private requests: PendingRequest[] = [];
  private nextSeq = 1;
  private running = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly limit = DEFAULT_LIMIT) {}

  begin(request: { method: string; path: string; query: string; traceparent?: string | null }): PendingRequest {
    this.running += 1;
    const pending = new PendingRequest(
      this.nextSeq++,
      request.method,
      request.path,
      request.query,
      request.traceparent ?? null,
      highResolutionNow(),
    );
    this.requests.push(pending);
    // Trimmed in batches, so that a busy emulator does not copy the whole array on every request.
    if (this.requests.length > this.limit + 1000) this.requests.splice(0, this.requests.length - this.limit);
    return pending;
  }

  /** Call exactly once per `begin`, when the answer ended (finished or cut). */
  end(pending: PendingRequest, outcome: { status: number | null; completed: boolean }): void {
    this.running -= 1;
    pending.entry = {
      seq: pending.seq,
      method: pending.method,
      path: pending.path,
      query: pending.query,
      traceparent: pending.traceparent,
      route: pending.route,
      status: outcome.status,
      username: pending.username,
      fault: pending.fault,
      completed: outcome.completed,
      startedAt: pending.startedAt,
      endedAt: highResolutionNow(),
    };
    if (this.running === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  entries(filter: RequestLogFilter = {}): RequestLogEntry[] {
    return this.requests
      .map((request) => request.entry)
      .filter((entry): entry is RequestLogEntry => entry !== null)
      .filter((entry) => !('route' in filter) || entry.route === filter.route)
      .filter((entry) => !('username' in filter) || entry.username === filter.username)
      .map((entry) => ({ ...entry }));
  }

  byRoute(route: RouteName): RequestLogEntry[] {
    return this.entries({ route });
  }

  count(filter: RequestLogFilter = {}): number {
    return this.entries(filter).length;
  }

  inFlight(): number {
    return this.running;
  }

  whenIdle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  clear(): void {
    // Requests still in flight are dropped too: they seal an entry no list holds any more.
    this.requests = [];
    this.nextSeq = 1;
  }
}
