/**
 * Filtering, ordering and paging of the portal's unpaginated lists into connections.
 *
 * A cursor names a position by sort key and id (not by index), so paging stays correct when licences are added
 * between pages; it is opaque to clients (base64url of a small JSON) and carries the order it was made for, so a
 * cursor from another list or order is refused rather than silently misread.
 */
import { LRUCache } from 'lru-cache';
import type { LicenseDetailWire, LicenseWire } from '../portal/wireTypes';
import { keptView } from '../portal/keptLists';
import type { LicenseFilter, LicenseOrder, LicenseOrderField, OrderDirection } from '../generated/graphql';
import { InputError } from './errors';
import { parseDate, parseFirst, parseId } from './inputs';

/** An item of a page and its position; the cursor is encoded only when a query asks for it. */
export interface EdgeModel<T> {
  node: T;
  position: { tag: string; key: SortKey; id: number };
}

/** The opaque cursor of an edge. */
export function cursorOf(edge: EdgeModel<unknown>): string {
  return encodeCursor(edge.position.tag, edge.position.key, edge.position.id);
}

/**
 * One page of a list, with what the connection's fields need. Its edges (positions, for cursors) are made only when
 * asked for: most queries read `nodes`, and a page of 4,000 licences would make 8,000 objects for nothing.
 */
export class Page<T> {
  constructor(
    /** The page's items, in order; it may be the very list it was cut from, so it is never changed. */
    readonly nodes: readonly T[],
    readonly totalCount: number,
    readonly hasNextPage: boolean,
    readonly hasPreviousPage: boolean,
    private readonly ordering: Ordering<T>,
  ) {}

  get edges(): EdgeModel<T>[] {
    return this.nodes.map((node) => this.edgeOf(node));
  }

  /** An item of this page with its position. */
  edgeOf(node: T): EdgeModel<T> {
    return { node, position: { tag: this.ordering.tag, ...positionOf(node, this.ordering) } };
  }
}

export type LicensePage = Page<LicenseWire>;
export type LicenseDetailPage = Page<LicenseDetailWire>;
export type LicenseEdgeModel = EdgeModel<LicenseWire>;
export type LicenseDetailEdgeModel = EdgeModel<LicenseDetailWire>;

type SortKey = number | string | null;

/** How one list is sorted: the key of an item, its direction, and the tag a cursor carries. */
interface Ordering<T> {
  tag: string;
  /** What a key is: text, or a number (or null, for a licence with no creation time). */
  keyType: 'string' | 'number';
  direction: OrderDirection;
  keyOf: (item: T) => SortKey;
  idOf: (item: T) => number;
}

/** Page arguments, checked. */
export interface PageArgs {
  first: number | undefined;
  after: Position | undefined;
}

/** A licence filter, checked: ids are numbers, dates are calendar dates, search is lower case. */
export interface CheckedLicenseFilter {
  productAssignmentId?: number;
  hwid?: string;
  universal?: boolean;
  expiresBefore?: string;
  expiresAfter?: string;
  search?: string;
}

/** Checks `filter`; throws `BAD_USER_INPUT` naming the field. */
export function checkLicenseFilter(filter: LicenseFilter | null | undefined): CheckedLicenseFilter {
  if (!filter) return {};
  const checked: CheckedLicenseFilter = {};
  if (filter.productAssignmentId != null)
    checked.productAssignmentId = parseId(filter.productAssignmentId, 'productAssignmentId');
  if (filter.hwid != null) checked.hwid = filter.hwid;
  if (filter.universal != null) checked.universal = filter.universal;
  if (filter.expiresBefore != null) checked.expiresBefore = parseDate(filter.expiresBefore, 'expiresBefore');
  if (filter.expiresAfter != null) checked.expiresAfter = parseDate(filter.expiresAfter, 'expiresAfter');
  if (filter.search != null) checked.search = filter.search.toLowerCase();
  return checked;
}

export function licenseMatches(license: LicenseWire, filter: CheckedLicenseFilter): boolean {
  if (filter.productAssignmentId !== undefined && license.product_assignment_id !== filter.productAssignmentId)
    return false;
  if (filter.hwid !== undefined && license.hwid !== filter.hwid) return false;
  if (filter.universal !== undefined && (license.hwid === null) !== filter.universal) return false;
  if (filter.expiresBefore !== undefined && !(license.expiration_date < filter.expiresBefore)) return false;
  if (filter.expiresAfter !== undefined && !(license.expiration_date > filter.expiresAfter)) return false;
  if (filter.search !== undefined) {
    const needle = filter.search;
    const inHwid = license.hwid !== null && license.hwid.toLowerCase().includes(needle);
    const inNote = license.note !== null && license.note.toLowerCase().includes(needle);
    if (!inHwid && !inNote) return false;
  }
  return true;
}

/** A licence page's arguments as a client gives them, on `Query.licenses` and `ProductAssignment.licenses`. */
interface LicensePageInput {
  filter?: LicenseFilter | null;
  orderBy?: LicenseOrder | null;
  first?: number | null;
  after?: string | null;
}

/** A licence page's arguments, checked: which licences match, in what order, and which of them the page is. */
export interface LicensePageArgs {
  filter: CheckedLicenseFilter;
  ordering: Ordering<LicenseWire>;
  page: PageArgs;
}

/** Checks a licence page's arguments; throws `BAD_USER_INPUT` naming the field. */
export function checkLicensePageArgs(input: LicensePageInput): LicensePageArgs {
  const filter = checkLicenseFilter(input.filter);
  const ordering = licenseOrdering(input.orderBy);
  return { filter, ordering, page: checkPageArgs(ordering, input.first, input.after) };
}

/**
 * Licence pages, each cut once (by `licensePage`), kept by the list they were cut from and their arguments. Within a
 * request: the resolver (`licensesPage`) and the answer counter cut the same pages of the same lists (the counter once
 * per round), and a page costs a pass over its whole list, 50,000 licences for the xlarge seed's customer; a
 * request's pages are as many as its document names. Across requests, for a list of at least
 * `KEPT_PAGES_FROM_ITEMS` licences that the read cache keeps (frozen, so its pages never change): a dashboard polling
 * one page, or ten tabs opening it, cut it once while the list is kept. Those pages are kept with the list, weighed
 * by their licences and their arguments' text, at most `KEPT_PAGES.maxSize` bytes of them per list (about two thirds
 * of what such a list itself is weighed at), least recently used first out: a client that varies a filter or a
 * cursor on every request only turns them over.
 */
export class LicensePages {
  private readonly cut = new WeakMap<readonly LicenseWire[], Map<string, LicensePage>>();

  /** The page of `licenses` that `args` asks for: those that match the filter, in order, cut. */
  of(licenses: readonly LicenseWire[], args: LicensePageArgs): LicensePage {
    const { filter, ordering, page } = args;
    const key = JSON.stringify([filter, ordering.tag, page.first, page.after]);
    let pages = this.cut.get(licenses);
    if (!pages) this.cut.set(licenses, (pages = new Map<string, LicensePage>()));
    let cut = pages.get(key);
    if (cut) return cut;
    const kept =
      licenses.length >= KEPT_PAGES_FROM_ITEMS
        ? keptView(licenses, 'pages', () => new LRUCache<string, LicensePage>(KEPT_PAGES))
        : undefined;
    cut = kept?.get(key);
    if (!cut) {
      cut = licensePage(licenses, filter, ordering, page);
      kept?.set(key, cut);
    }
    pages.set(key, cut);
    return cut;
  }
}

/** The smallest kept list whose pages are kept across requests: below it, a page costs too little to keep. */
const KEPT_PAGES_FROM_ITEMS = 1_000;
/**
 * The pages kept with one kept list: at most 256 KiB, each weighed at 8 bytes a licence (a reference), two a
 * character of its arguments, and 100 for itself; at most 64 of them.
 */
const KEPT_PAGES = {
  max: 64,
  maxSize: 256 * 1024,
  sizeCalculation: (page: LicensePage, key: string) => page.nodes.length * 8 + key.length * 2 + 100,
};

export function licenseOrdering(order: LicenseOrder | null | undefined): Ordering<LicenseWire> {
  const field: LicenseOrderField = order?.field ?? 'ID';
  const direction: OrderDirection = order?.direction ?? 'ASC';
  const keyOf = licenseKey(field);
  const keyType = field === 'EXPIRATION_DATE' ? 'string' : 'number';
  return { tag: `license:${field}:${direction}`, keyType, direction, keyOf, idOf: (license) => license.id };
}

function licenseKey(field: LicenseOrderField): (license: LicenseWire) => SortKey {
  switch (field) {
    case 'ID':
      return (license) => license.id;
    case 'EXPIRATION_DATE':
      return (license) => license.expiration_date;
    case 'CREATED_AT':
      // Instants compare by time, not by text: `…T12:00:00Z` and `…T14:00:00+02:00` are the same moment.
      return (license) => (license.created_at === null ? null : Date.parse(license.created_at));
    default: {
      const unreachable: never = field;
      throw new InputError(`Unknown order field: ${String(unreachable)}`, 'field');
    }
  }
}

export const licenseDetailOrdering: Ordering<LicenseDetailWire> = {
  tag: 'licenseDetail:ID:ASC',
  keyType: 'number',
  direction: 'ASC',
  keyOf: (detail) => detail.id,
  idOf: (detail) => detail.id,
};

/** Checks `first` and `after` against the ordering they are used with; throws `BAD_USER_INPUT`. */
export function checkPageArgs<T>(
  ordering: Ordering<T>,
  first: number | null | undefined,
  after: string | null | undefined,
): PageArgs {
  return { first: parseFirst(first), after: after == null ? undefined : decodeCursor(ordering, after) };
}

/**
 * The page of `licenses` that `filter`, `ordering` and `page` name: the one rule for which licences a page holds and
 * in what order, for the resolver that answers it and for the count that weighs it first. From a list the read cache
 * keeps, the page is cut from the list's order made once and kept with it (`keptView`), at the cost of one pass
 * of the filter and the page; from any other list, the matching licences are sorted for this page alone.
 */
export function licensePage(
  licenses: readonly LicenseWire[],
  filter: CheckedLicenseFilter,
  ordering: Ordering<LicenseWire>,
  page: PageArgs,
): LicensePage {
  const filtered = Object.keys(filter).length > 0;
  const sorted = keptView(licenses, `order:${ordering.tag}`, (all) => inOrder(all, ordering));
  // No filter, no copy: the page may be the list itself.
  if (!sorted)
    return paginate(
      filtered ? licenses.filter((license) => licenseMatches(license, filter)) : licenses,
      ordering,
      page,
    );
  if (!filtered) return cut(sorted, ordering, page);
  const compare = comparePositions(ordering.direction);
  const start = page.after === undefined ? 0 : firstIndexAfter(sorted, ordering, page.after, compare);
  let before = 0;
  for (let index = 0; index < start; index += 1) if (licenseMatches(sorted[index]!, filter)) before += 1;
  const nodes: LicenseWire[] = [];
  let after = 0;
  for (let index = start; index < sorted.length; index += 1) {
    const license = sorted[index]!;
    if (!licenseMatches(license, filter)) continue;
    if (page.first === undefined || nodes.length < page.first) nodes.push(license);
    else after += 1;
  }
  return new Page(nodes, before + nodes.length + after, after > 0, before > 0, ordering);
}

/**
 * Sorts, skips to after the cursor, and cuts a page; `totalCount` counts every item given. A page of the first N of
 * items out of order is picked in one pass (`firstAfter`), with no sort of the rest.
 */
export function paginate<T>(items: readonly T[], ordering: Ordering<T>, args: PageArgs): Page<T> {
  if (args.first !== undefined && !isInOrder(items, ordering))
    return firstAfter(items, ordering, args.first, args.after);
  return cut(inOrder(items, ordering), ordering, args);
}

/** Skips to after the cursor and cuts a page of items already in the order. */
function cut<T>(sorted: readonly T[], ordering: Ordering<T>, args: PageArgs): Page<T> {
  const compare = comparePositions(ordering.direction);
  const start = args.after === undefined ? 0 : firstIndexAfter(sorted, ordering, args.after, compare);
  const end = args.first === undefined ? sorted.length : Math.min(sorted.length, start + args.first);
  const nodes = start === 0 && end === sorted.length ? sorted : sorted.slice(start, end);
  return new Page(nodes, sorted.length, end < sorted.length, start > 0, ordering);
}

/** Where an item sorts: its key, then its id. */
interface Position {
  key: SortKey;
  id: number;
}

function positionOf<T>(item: T, ordering: Ordering<T>): Position {
  return { key: ordering.keyOf(item), id: ordering.idOf(item) };
}

function comparePositions(direction: OrderDirection): (a: Position, b: Position) => number {
  const compare = compareInDirection(direction);
  return (a, b) => compare(a.key, a.id, b.key, b.id);
}

/** Compares two positions given as their keys and ids, in `direction`: the one rule every order here follows. */
function compareInDirection(
  direction: OrderDirection,
): (keyA: SortKey, idA: number, keyB: SortKey, idB: number) => number {
  const sign = direction === 'ASC' ? 1 : -1;
  return (keyA, idA, keyB, idB) => sign * (compareKeys(keyA, keyB) || idA - idB);
}

/**
 * `items` in the order; `items` itself when they already are, as the portal's lists come (by ascending id), so
 * that the usual page costs no copy. The sort is stable, so either way equal positions keep their order.
 */
function inOrder<T>(items: readonly T[], ordering: Ordering<T>): readonly T[] {
  if (isInOrder(items, ordering)) return items;
  const compare = comparePositions(ordering.direction);
  return items
    .map((item) => ({ item, position: positionOf(item, ordering) }))
    .sort((a, b) => compare(a.position, b.position))
    .map((entry) => entry.item);
}

/** Whether no item sorts before the one ahead of it; reads the items in place, with no position made. */
function isInOrder<T>(items: readonly T[], { direction, keyOf, idOf }: Ordering<T>): boolean {
  const compare = compareInDirection(direction);
  for (let index = 1; index < items.length; index += 1) {
    const before = items[index - 1]!;
    const item = items[index]!;
    if (compare(keyOf(before), idOf(before), keyOf(item), idOf(item)) > 0) return false;
  }
  return true;
}

/**
 * The page of the first `first` items after `after` (all of them without it) in the order, picked in one pass: each
 * item is compared with the last of the page so far, and only one that sorts before it is put in its place (a
 * binary search). A page of 20 of 50,000 licences in expiration order cost a sort of all 50,000 (a third of the
 * request's CPU at the xlarge seed); now about one comparison a licence. Even a list in the reverse of the order
 * costs one insertion each, of at most MAX_PAGE_SIZE moves.
 */
function firstAfter<T>(
  items: readonly T[],
  ordering: Ordering<T>,
  first: number,
  after: Position | undefined,
): Page<T> {
  const compare = compareInDirection(ordering.direction);
  const { keyOf, idOf } = ordering;
  const page: Array<{ item: T; key: SortKey; id: number }> = [];
  let skipped = 0;
  for (const item of items) {
    const key = keyOf(item);
    const id = idOf(item);
    if (after !== undefined && compare(key, id, after.key, after.id) <= 0) {
      skipped += 1;
      continue;
    }
    const last = page[page.length - 1];
    if (page.length === first && (last === undefined || compare(key, id, last.key, last.id) > 0)) continue;
    let low = 0;
    let high = page.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = page[middle]!;
      if (compare(other.key, other.id, key, id) < 0) low = middle + 1;
      else high = middle;
    }
    page.splice(low, 0, { item, key, id });
    if (page.length > first) page.pop();
  }
  const afterCursor = items.length - skipped;
  return new Page(
    page.map((entry) => entry.item),
    items.length,
    afterCursor > first,
    skipped > 0,
    ordering,
  );
}

/** Binary search for the first item strictly after `position` (which need not be in the list any more). */
function firstIndexAfter<T>(
  sorted: readonly T[],
  ordering: Ordering<T>,
  position: Position,
  compare: (a: Position, b: Position) => number,
): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compare(positionOf(sorted[middle]!, ordering), position) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** nulls first, then numbers or strings in their natural order. */
function compareKeys(a: SortKey, b: SortKey): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

function encodeCursor(tag: string, key: SortKey, id: number): string {
  return Buffer.from(JSON.stringify([tag, key, id]), 'utf8').toString('base64url');
}

/**
 * The position a cursor names, for `ordering`; a cursor of another order, or whose key is not of the order's type
 * (one made by hand), is refused: a key of another type would compare with no order, and a page cut from a sorted
 * list and from an unsorted one would differ.
 */
function decodeCursor(
  { tag, keyType }: Pick<Ordering<unknown>, 'tag' | 'keyType'>,
  cursor: string,
): { key: SortKey; id: number } {
  let decoded: unknown;
  try {
    decoded = cursor.length <= 512 ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) : undefined;
  } catch {
    decoded = undefined;
  }
  if (
    !Array.isArray(decoded) ||
    decoded.length !== 3 ||
    typeof decoded[0] !== 'string' ||
    !(decoded[1] === null || typeof decoded[1] === 'number' || typeof decoded[1] === 'string') ||
    !Number.isSafeInteger(decoded[2])
  ) {
    throw new InputError(
      '`after` is not a cursor of this API; take it from an edge or from pageInfo.endCursor.',
      'after',
    );
  }
  if (decoded[0] !== tag) {
    throw new InputError('`after` is a cursor of another list or order; use the orderBy it came from.', 'after');
  }
  if (keyType === 'string' ? typeof decoded[1] !== 'string' : typeof decoded[1] === 'string') {
    throw new InputError(
      '`after` is not a cursor of this API; take it from an edge or from pageInfo.endCursor.',
      'after',
    );
  }
  return { key: decoded[1] as SortKey, id: decoded[2] as number };
}
