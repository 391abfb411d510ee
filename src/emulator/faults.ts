/**
 * Fault rules: switches that tests turn on to make the emulated portal fail the way real upstreams do, and the
 * transformations that mangle an answer accordingly.
 *
 * A rule matches a route (or every route), may expire after `times` requests, and may fire with a probability.
 * At most one rule applies to a request: the first added that matches and whose roll succeeds. Faults apply to
 * GET and HEAD requests on known routes; Werkzeug's own 404 and 405 pages are never faulted.
 *
 * When a fault strikes, relative to the route's work (generate's side effect):
 * - before any effect: `status`, `reset`;
 * - after the effect, so the caller cannot know it happened: every other kind (`resetAfterEffect`, `slowHeaders`,
 *   `slowBody`, `malformedJson`, `truncatedBody`, `wrongShape`, `garbage`, `endlessBody`, `tricklingBody`).
 */
import { randomBytes } from 'node:crypto';
import type { EncodedAnswer } from './answers';
import { flaskJson } from './answers';
import type { RouteName } from './routes';

export type FaultKind =
  | 'status'
  | 'reset'
  | 'resetAfterEffect'
  | 'slowHeaders'
  | 'slowBody'
  | 'malformedJson'
  | 'truncatedBody'
  | 'wrongShape'
  | 'garbage'
  | 'endlessBody'
  | 'tricklingBody';

const FAULT_KINDS: readonly FaultKind[] = [
  'status',
  'reset',
  'resetAfterEffect',
  'slowHeaders',
  'slowBody',
  'malformedJson',
  'truncatedBody',
  'wrongShape',
  'garbage',
  'endlessBody',
  'tricklingBody',
];

interface FaultMatch {
  /** The route or routes the rule applies to; omitted: every route. */
  route?: RouteName | readonly RouteName[];
  /** How many requests the rule strikes before it expires; omitted: until cleared. */
  times?: number;
  /** Chance in [0, 1] that a matching request is struck; default 1. Rolls come from the seeded generator. */
  probability?: number;
}

/**
 * One fault switch. Kinds:
 * - `status`: answers `status` with a text body (default: the reason phrase, e.g. `Service Unavailable`) and
 *   optional extra `headers` (e.g. `Retry-After`), before any effect.
 * - `reset`: destroys the connection with a TCP reset, answering nothing, before any effect.
 * - `resetAfterEffect`: does the route's work (generate creates its licence), then resets the connection.
 * - `slowHeaders`: waits `ms` more before sending the headers.
 * - `slowBody`: sends the headers and the first half of the body, waits `ms`, then sends the rest.
 * - `malformedJson`: answers 200 with the JSON cut in half (a complete HTTP answer whose body does not parse).
 * - `truncatedBody`: declares the full Content-Length, sends half the body, then closes the connection.
 * - `wrongShape`: answers 200 with valid JSON of the wrong shape: `body` if given, else the answer with keys
 *   camelCased, ids as strings, and lists wrapped in `{"items": […], "total": n}`.
 * - `garbage`: answers 200 `application/json` with 256 random bytes.
 * - `endlessBody`: answers 200 `application/json`, chunked, with a JSON list that never ends: the answer's first
 *   record (or the answer itself) again and again, as fast as the client reads, until it goes away.
 * - `tricklingBody`: sends the headers with the answer's full Content-Length, then one byte every `ms` (default
 *   1000), so that no gap between chunks is long enough for a body timeout.
 */
export type FaultRule = FaultMatch &
  (
    | { kind: 'status'; status: number; body?: string; headers?: Readonly<Record<string, string>> }
    | { kind: 'reset' }
    | { kind: 'resetAfterEffect' }
    | { kind: 'slowHeaders'; ms: number }
    | { kind: 'slowBody'; ms: number }
    | { kind: 'malformedJson' }
    | { kind: 'truncatedBody' }
    | { kind: 'wrongShape'; body?: unknown }
    | { kind: 'garbage' }
    | { kind: 'endlessBody' }
    | { kind: 'tricklingBody'; ms?: number }
  );

/** A rule as it stands: its id (for `remove`) and how many strikes it has left (null: unlimited). */
export interface ActiveFault {
  id: number;
  rule: FaultRule;
  remaining: number | null;
}

/** What tests hold: the emulator's fault switches. */
export interface FaultControl {
  /** Adds a rule after the existing ones and returns its id; throws a TypeError naming a bad field. */
  add(rule: FaultRule): number;
  remove(id: number): boolean;
  clear(): void;
  list(): ActiveFault[];
}

export class FaultSet implements FaultControl {
  private rules: ActiveFault[] = [];
  private nextId = 1;

  /** `random` gives numbers in [0, 1) for probability rolls; seeded, so that a run can be repeated. */
  constructor(private readonly random: () => number) {}

  add(rule: FaultRule): number {
    validateRule(rule);
    const id = this.nextId++;
    this.rules.push({ id, rule: { ...rule }, remaining: rule.times ?? null });
    return id;
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((active) => active.id !== id);
    return this.rules.length < before;
  }

  clear(): void {
    this.rules = [];
  }

  list(): ActiveFault[] {
    return this.rules.map((active) => ({ ...active, rule: { ...active.rule } }));
  }

  /** The rule that strikes a request on this route, if any; counts the strike. */
  take(route: RouteName): FaultRule | null {
    for (const active of this.rules) {
      if (!routeMatches(active.rule.route, route)) continue;
      const probability = active.rule.probability ?? 1;
      if (probability < 1 && !(this.random() < probability)) continue;
      if (active.remaining !== null) {
        active.remaining -= 1;
        if (active.remaining <= 0) this.remove(active.id);
      }
      return active.rule;
    }
    return null;
  }
}

function routeMatches(wanted: FaultMatch['route'], route: RouteName): boolean {
  if (wanted === undefined) return true;
  return typeof wanted === 'string' ? wanted === route : wanted.includes(route);
}

function validateRule(rule: FaultRule): void {
  const fail = (what: string, got: unknown): never => {
    throw new TypeError(`fault rule '${String(rule.kind)}': ${what}, but got: ${JSON.stringify(got)}`);
  };
  if (rule.times !== undefined && !(Number.isSafeInteger(rule.times) && rule.times > 0))
    fail('times must be a positive integer', rule.times);
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
    fail('probability must be a number in [0, 1]', rule.probability);
  }
  switch (rule.kind) {
    case 'status':
      if (!(Number.isInteger(rule.status) && rule.status >= 100 && rule.status <= 599))
        fail('status must be an HTTP status 100..599', rule.status);
      return;
    case 'slowHeaders':
    case 'slowBody':
      if (!(Number.isFinite(rule.ms) && rule.ms >= 0)) fail('ms must be a number of milliseconds >= 0', rule.ms);
      return;
    case 'tricklingBody':
      if (rule.ms !== undefined && !(Number.isFinite(rule.ms) && rule.ms > 0))
        fail('ms must be a number of milliseconds > 0', rule.ms);
      return;
    case 'reset':
    case 'resetAfterEffect':
    case 'malformedJson':
    case 'truncatedBody':
    case 'wrongShape':
    case 'garbage':
    case 'endlessBody':
      return;
    default: {
      // Reachable from untyped callers (tests in JavaScript, `as never`), so it fails with a message, not a crash.
      const unknownRule: never = rule;
      fail(`kind must be one of ${FAULT_KINDS.join(', ')}`, (unknownRule as { kind: unknown }).kind);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Mangled answers
// ---------------------------------------------------------------------------------------------------------

const JSON_TYPE = 'application/json';

function jsonAnswer(body: Buffer): EncodedAnswer {
  return { status: 200, headers: { 'Content-Type': JSON_TYPE, 'Content-Length': String(body.length) }, body };
}

function isJson(answer: EncodedAnswer): boolean {
  return answer.headers['Content-Type'] === JSON_TYPE;
}

/** A 200 whose body is the JSON cut in half: an array or object left open never parses. */
export function malformedJsonAnswer(answer: EncodedAnswer): EncodedAnswer {
  const broken = isJson(answer)
    ? answer.body.subarray(0, Math.max(1, Math.floor(answer.body.length / 2)))
    : Buffer.from('{"id": 1, "hwid": "', 'utf8');
  return jsonAnswer(Buffer.from(broken));
}

/** A 200 with valid JSON the contract does not allow. */
export function wrongShapeAnswer(answer: EncodedAnswer, body: unknown): EncodedAnswer {
  const source = isJson(answer)
    ? (JSON.parse(answer.body.toString('utf8')) as unknown)
    : { message: answer.body.toString('utf8') };
  return jsonAnswer(Buffer.from(flaskJson(body !== undefined ? body : misshape(source)), 'utf8'));
}

export function garbageAnswer(): EncodedAnswer {
  return jsonAnswer(randomBytes(256));
}

/**
 * The pieces of an endless JSON list made from an answer: its opening, and a chunk of about 64 KiB that repeats
 * the answer's first record (or the answer itself) for ever. Concatenated, they never close the list.
 */
export function endlessListPieces(answer: EncodedAnswer): { opening: Buffer; repeated: Buffer } {
  let record = answer.body.toString('utf8');
  if (isJson(answer)) {
    const parsed = JSON.parse(record) as unknown;
    const first: unknown = Array.isArray(parsed) ? parsed[0] : parsed;
    record = JSON.stringify(first ?? { id: 1 });
  } else {
    record = JSON.stringify({ message: record });
  }
  const item = Buffer.from(`${record},`, 'utf8');
  const copies = Math.max(1, Math.floor((64 * 1024) / item.length));
  return {
    opening: Buffer.from(`[${record},`, 'utf8'),
    repeated: Buffer.concat(Array.from({ length: copies }, () => item)),
  };
}

function misshape(value: unknown): unknown {
  return Array.isArray(value) ? { items: value.map(misshapeRecord), total: value.length } : misshapeRecord(value);
}

function misshapeRecord(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(misshapeRecord);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    const isId = key === 'id' || key.endsWith('_id');
    out[key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase())] =
      isId && typeof field === 'number' ? String(field) : misshapeRecord(field);
  }
  return out;
}
