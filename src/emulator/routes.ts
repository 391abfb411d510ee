/**
 * The portal's routes: their names, their paths as Flask matches them, and what each answers for a caller.
 *
 * Checks run in the portal's order (docs/portal-contract.md): 401 for no or wrong credentials, 404 for an unknown id,
 * 403 for another customer's record, then generate's own 403s on its input, then its 400s. What Flask's router
 * refuses before a view runs (unknown paths, ids that are not integers, other methods) is the server's business.
 */
import { MESSAGES, badRequest, encodeAnswer, textAnswer, type Answer, type EncodedAnswer } from './answers';
import { isCalendarDate, type DemoAccount, type PortalStore } from './data';
import { licenseFileBytes } from './licenseFile';

/** Stable route names, the same the server's upstream adapter uses for its endpoints. */
export type RouteName =
  | 'license.list'
  | 'license.show'
  | 'licenseDetail.list'
  | 'licenseDetail.show'
  | 'productAssignment.list'
  | 'productAssignment.show'
  | 'license.byAssignment.list'
  | 'license.byAssignment.show'
  | 'license.generate'
  | 'licenseDetail.download';

/**
 * Paths as Flask rules. `<int:…>` is Werkzeug's IntegerConverter: ASCII digits only (no sign), leading zeros
 * allowed; no trailing slash (strict slashes), so `/api/license/list/` is an unknown path.
 */
const ROUTES: ReadonlyArray<{ name: RouteName; pattern: RegExp }> = [
  { name: 'license.list', pattern: /^\/api\/license\/list$/ },
  { name: 'license.show', pattern: /^\/api\/license\/show\/([0-9]+)$/ },
  { name: 'licenseDetail.list', pattern: /^\/api\/license-detail\/list$/ },
  { name: 'licenseDetail.show', pattern: /^\/api\/license-detail\/show\/([0-9]+)$/ },
  { name: 'productAssignment.list', pattern: /^\/api\/product-assignment\/list$/ },
  { name: 'productAssignment.show', pattern: /^\/api\/product-assignment\/show\/([0-9]+)$/ },
  { name: 'license.byAssignment.list', pattern: /^\/api\/license\/product-assignment\/list$/ },
  { name: 'license.byAssignment.show', pattern: /^\/api\/license\/product-assignment\/([0-9]+)$/ },
  { name: 'license.generate', pattern: /^\/api\/license\/generate\/([0-9]+)$/ },
  { name: 'licenseDetail.download', pattern: /^\/api\/license-detail\/download\/([0-9]+)$/ },
];

export const ROUTE_NAMES: readonly RouteName[] = ROUTES.map((route) => route.name);

export interface RouteMatch {
  name: RouteName;
  /** The path's id for routes that take one, else null. An id too large to be a record's is kept as NaN: "no such id". */
  id: number | null;
}

/** The route a decoded path names, or null for an unknown path (Werkzeug's 404 page). */
export function matchRoute(path: string): RouteMatch | null {
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    if (match[1] === undefined) return { name: route.name, id: null };
    const id = Number(match[1]);
    return { name: route.name, id: Number.isSafeInteger(id) ? id : Number.NaN };
  }
  return null;
}

export interface RouteContext {
  store: PortalStore;
  /** The caller, or null when the credentials were missing, unreadable or wrong. */
  account: DemoAccount | null;
  /** The query string's parameters, first value of each, decoded as Werkzeug's `request.args`. */
  query: ReadonlyMap<string, string>;
  /** The emulator's today, `YYYY-MM-DD`, and now, as the portal writes instants. */
  today: string;
  now: string;
}

/** The routes that answer a customer's whole list: their bytes depend only on the store and the customer. */
const LIST_ROUTES: ReadonlySet<RouteName> = new Set<RouteName>([
  'license.list',
  'licenseDetail.list',
  'productAssignment.list',
  'license.byAssignment.list',
]);

/**
 * `answerRoute`'s answer, encoded. A customer's list is encoded once for each state of the store (until its next
 * generate): an xlarge customer's 10 MB list took up to a second and a half to encode, on every call.
 */
export function encodedRouteAnswer(match: RouteMatch, context: RouteContext): EncodedAnswer {
  const { account, store } = context;
  const encode = () => encodeAnswer(answerRoute(match, context));
  return account !== null && LIST_ROUTES.has(match.name)
    ? store.remember(`${match.name} ${account.customer}`, encode)
    : encode();
}

/**
 * What the portal answers on a matched route. May change the store (generate only); never writes to a socket,
 * so that faults decide afterwards how (or whether) the answer travels.
 */
function answerRoute(match: RouteMatch, context: RouteContext): Answer {
  const { account, store } = context;
  if (account === null) return textAnswer(401, MESSAGES.unauthorized);
  const customer = account.customer;
  switch (match.name) {
    case 'license.list':
      return json(store.licensesOf(customer));
    case 'licenseDetail.list':
      return json(store.detailsOf(customer));
    case 'productAssignment.list':
      return json(store.assignmentsOf(customer));
    case 'license.byAssignment.list':
      return json(store.licensesByAssignmentOf(customer));
    case 'license.show':
    case 'licenseDetail.show': {
      const found = store.license(idOf(match));
      if (!found) return textAnswer(404, MESSAGES.notFound);
      if (found.customer !== customer) return textAnswer(403, MESSAGES.forbidden);
      return json(match.name === 'license.show' ? found.license : found.detail);
    }
    case 'productAssignment.show':
    case 'license.byAssignment.show': {
      const found = store.assignment(idOf(match));
      if (!found) return textAnswer(404, MESSAGES.notFound);
      if (found.customer !== customer) return textAnswer(403, MESSAGES.forbidden);
      return json(match.name === 'productAssignment.show' ? found.assignment : found.licenses);
    }
    case 'license.generate':
      return generate(idOf(match), context, customer);
    case 'licenseDetail.download': {
      // The vendor page lists only 401 and this 403 for download: a licence that does not exist is one the
      // caller does not have, so it answers the same 403 (a one-line change here if the live portal says 404).
      const found = store.license(idOf(match));
      if (!found || found.customer !== customer) return textAnswer(403, MESSAGES.downloadForbidden);
      return { kind: 'file', fileName: found.detail.file_name, bytes: licenseFileBytes(found.detail) };
    }
    default:
      throw new UnreachableRouteError(match.name);
  }
}

function generate(assignmentId: number, context: RouteContext, customer: string): Answer {
  const { store, query } = context;
  const found = store.assignment(assignmentId);
  if (!found) return textAnswer(404, MESSAGES.notFound);
  if (found.customer !== customer) return textAnswer(403, MESSAGES.forbidden);
  const hwid = query.get('hwid');
  if (hwid === undefined || !isValidHardwareId(hwid)) return textAnswer(403, MESSAGES.invalidHardwareId);
  const expirationDate = query.get('expiration_date');
  if (expirationDate === undefined || !isCalendarDate(expirationDate))
    return textAnswer(403, MESSAGES.invalidExpirationDate);
  // An empty note is taken as no note, as a form with an empty field would be.
  const note = query.get('note') || null;
  const outcome = store.generateLicense({ assignmentId, hwid, expirationDate, note }, context.today, context.now);
  return outcome.ok ? json(outcome.license) : badRequest(outcome.reason);
}

/** *(assumed rule)* 1 to 128 characters (code points, as Python counts), none of them whitespace or control. */
function isValidHardwareId(hwid: string): boolean {
  const length = [...hwid].length;
  return length >= 1 && length <= 128 && !/[\s\p{Cc}]/u.test(hwid);
}

function json(value: unknown): Answer {
  return { kind: 'json', value };
}

function idOf(match: RouteMatch): number {
  if (match.id === null) throw new Error(`route ${match.name} was matched without an id`);
  return match.id;
}

class UnreachableRouteError extends Error {
  constructor(value: never) {
    super(`unknown route: ${String(value)}`);
  }
}
