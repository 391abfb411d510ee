/**
 * The planned loaders: every read of the portal made while resolving one operation goes through here.
 *
 * They are made per request (in the context factory) and hold only that caller's data. They carry out the plan of
 * `src/planner/operationPlan.ts` and decide nothing: `prefetch` starts its list calls and named records at once,
 * before any resolver runs, and every batch then reads each kind of record where the planner's rules say
 * (`src/planner/recordSources.ts`: a list the request has started, else the plan's choice of a list or one show call
 * per id), and asks a record a list lacks for by its show call when those rules allow it.
 *
 * Identical calls are made once: every list at most once per request, every record by id once (DataLoader's
 * cache); a record a list brought is served by the show-by-id loaders from the list, with no call. A record a list
 * lacks that the rules give no show call fails as UNAVAILABLE (the lists changed while they were read; try again).
 */
import DataLoader from 'dataloader';
import type { PortalCaller, PortalClient } from '../portal/portalClient';
import type {
  GroupedLicensesWire,
  LicenseDetailWire,
  LicenseFileDownload,
  LicenseWire,
  ProductAssignmentWire,
} from '../portal/wireTypes';
import { PortalError } from '../portal/portalErrors';
import { isKept, keptList, keptView } from '../portal/keptLists';
import type { EndpointName } from '../portal/endpoints';
import { showCallsPlan, type OperationPlan, type RecordKind } from '../planner/operationPlan';
import { MissingRecordCalls, batchSource, wholeListSource, type ListsStarted } from '../planner/recordSources';
import { eachKey, toError } from './batch';
import { detailInList, type KnownRecords, type Loaders, type RecordIds } from './loaders';

/** The portal's reads, all the loaders call. */
export type PortalReads = Pick<
  PortalClient,
  | 'listProductAssignments'
  | 'showProductAssignment'
  | 'listLicenses'
  | 'showLicense'
  | 'listLicensesByAssignment'
  | 'listLicensesOfAssignment'
  | 'listLicenseDetails'
  | 'showLicenseDetail'
  | 'downloadLicenseFile'
>;

export class PortalLoaders implements Loaders {
  /** Product assignments by id. */
  readonly assignmentById: DataLoader<number, ProductAssignmentWire>;
  /** Licences by id. */
  readonly licenseById: DataLoader<number, LicenseWire>;
  /** Licence details by their licence's id (not the detail's own id). */
  readonly detailByLicenseId: DataLoader<number, LicenseDetailWire>;
  /** The licences of each product assignment, in ascending id order. */
  readonly licensesByAssignmentId: DataLoader<number, LicenseWire[]>;
  /** Licence files by licence id; downloaded only when a query selects them. */
  readonly fileByLicenseId: DataLoader<number, LicenseFileDownload>;

  /**
   * Records this request has in hand, by id, from its lists and its show calls: served without a promise, since a
   * field that resolves to a plain value costs graphql-js far less than one that resolves to a promise, 5,000
   * times per nested query; and read by `known()` to count an answer before it is resolved.
   */
  private readonly listed = {
    assignments: new RecordsById<ProductAssignmentWire>((assignment) => assignment.id, 'byId'),
    licenses: new RecordsById<LicenseWire>((license) => license.id, 'byId'),
    detailsByLicenseId: new RecordsById<LicenseDetailWire>((detail) => detail.license_id, 'byLicenseId'),
    licensesByAssignmentId: new Map<number, LicenseWire[]>(),
  };
  /** The lists as they arrived (undefined until then). */
  private readonly lists: {
    assignments?: ProductAssignmentWire[];
    licenses?: LicenseWire[];
    details?: LicenseDetailWire[];
    grouped?: GroupedLicensesWire[];
  } = {};
  /** The grouped list's assignments and licences as lists of their own, made once per grouped list. */
  private ungrouped?: {
    from: GroupedLicensesWire[];
    assignments: ProductAssignmentWire[];
    licenses: LicenseWire[];
  };
  /** The detail list by the details' own ids, made once per list when one is looked up. */
  private detailsById?: { from: readonly LicenseDetailWire[]; byId: ReadonlyMap<number, LicenseDetailWire> };
  private assignmentList: Promise<ProductAssignmentWire[]> | undefined;
  private licenseList: Promise<LicenseWire[]> | undefined;
  private detailList: Promise<LicenseDetailWire[]> | undefined;
  private groupedList: Promise<GroupedLicensesWire[]> | undefined;
  /** The plan being carried out; until `prefetch` gives one, show calls only. */
  private plan: OperationPlan = showCallsPlan();
  /** The show calls the operation may make for records a list lacks. */
  private missingCalls = new MissingRecordCalls(this.plan);

  constructor(
    private readonly portal: PortalReads,
    private readonly caller: PortalCaller,
    onBatch: (loader: string, size: number) => void = () => undefined,
  ) {
    const observed =
      <V>(loader: string, batch: (ids: readonly number[]) => Promise<Array<V | Error>>) =>
      (ids: readonly number[]) => {
        onBatch(loader, ids.length);
        return batch(ids);
      };
    /** Keeps every record a batch brought, by its key, beside the loader's cache of promises. */
    const keeping =
      <V>(kept: Kept<V>, batch: (ids: readonly number[]) => Promise<Array<V | Error>>) =>
      async (ids: readonly number[]) => {
        const results = await batch(ids);
        results.forEach((result, index) => {
          if (!(result instanceof Error)) kept.set(ids[index]!, result);
        });
        return results;
      };
    /**
     * Answers the ids in hand (a list brought them) from `kept`, and hands only the others to the batch. This
     * stands for priming the loader with every listed record: a resolved promise per record, 8,000 per nested
     * query, for the few a caller loads by id.
     */
    const inHandFirst =
      <V>(kept: Kept<V>, batch: (ids: readonly number[]) => Promise<Array<V | Error>>) =>
      async (ids: readonly number[]): Promise<Array<V | Error>> => {
        const missing = ids.filter((id) => !kept.has(id));
        if (missing.length === 0) return ids.map((id) => kept.get(id)!);
        const results = await batch(missing);
        const fetched = new Map(missing.map((id, index) => [id, results[index]!]));
        return ids.map((id) => (fetched.has(id) ? fetched.get(id)! : kept.get(id)!));
      };
    const loaderOf = <V>(name: string, kept: Kept<V>, batch: (ids: readonly number[]) => Promise<Array<V | Error>>) =>
      new DataLoader(inHandFirst(kept, observed(name, keeping(kept, batch))));
    this.assignmentById = loaderOf('assignmentById', this.listed.assignments, (ids) => this.batchAssignments(ids));
    this.licenseById = loaderOf('licenseById', this.listed.licenses, (ids) => this.batchLicenses(ids));
    this.detailByLicenseId = loaderOf('detailByLicenseId', this.listed.detailsByLicenseId, (ids) =>
      this.batchDetails(ids),
    );
    this.licensesByAssignmentId = loaderOf('licensesByAssignmentId', this.listed.licensesByAssignmentId, (ids) =>
      this.batchLicensesOfAssignments(ids),
    );
    this.fileByLicenseId = new DataLoader(
      observed('fileByLicenseId', (ids) => eachKey(ids, (id) => this.portal.downloadLicenseFile(this.caller, id))),
    );
  }

  /** Starts, all at once, every list call the plan names and every record it names by id; settles once they have. */
  async prefetch(plan: OperationPlan): Promise<void> {
    this.plan = plan;
    this.missingCalls = new MissingRecordCalls(plan);
    const started: Array<Promise<unknown>> = [];
    if (plan.lists.grouped) started.push(this.allGrouped());
    if (plan.lists.assignments) started.push(this.allAssignments());
    if (plan.lists.licenses) started.push(this.allLicenses());
    if (plan.lists.details) started.push(this.allDetails());
    const { assignment, license, detail, licensesOfAssignment } = plan.knownIds;
    started.push(
      ...this.loadsOf({
        assignments: assignment,
        licenses: license,
        details: detail,
        licensesOf: licensesOfAssignment,
      }),
    );
    // A failure is kept by the list or the loader and reported by the resolver that asks; none is unhandled here.
    await Promise.allSettled(started);
  }

  async load(ids: RecordIds): Promise<void> {
    await Promise.allSettled(this.loadsOf(ids));
  }

  /** Starts the loads of records by id, each kind through its loader. */
  private loadsOf(ids: { [Kind in keyof RecordIds]: Iterable<number> }): Array<Promise<unknown>> {
    return [
      ...[...ids.assignments].map((id) => this.assignmentById.load(id)),
      ...[...ids.licenses].map((id) => this.licenseById.load(id)),
      ...[...ids.details].map((id) => this.detailByLicenseId.load(id)),
      ...[...ids.licensesOf].map((id) => this.licensesByAssignmentId.load(id)),
    ];
  }

  known(): KnownRecords {
    const { listed, lists } = this;
    const grouped = lists.grouped;
    let licensesByAssignment: ReadonlyMap<number, readonly LicenseWire[]> | undefined;
    // The grouped list holds every assignment and licence too; their order does not matter to a count.
    if (grouped && this.ungrouped?.from !== grouped) {
      this.ungrouped = {
        from: grouped,
        assignments: grouped.map((group) => group.product_assignment),
        licenses: grouped.flatMap((group) => group.licenses),
      };
    }
    return {
      assignments: lists.assignments ?? this.ungrouped?.assignments,
      licenses: lists.licenses ?? this.ungrouped?.licenses,
      details: lists.details,
      assignment: (id) => listed.assignments.get(id),
      license: (id) => listed.licenses.get(id),
      detail: (licenseId) => listed.detailsByLicenseId.get(licenseId),
      detailById: (id) => (lists.details ? this.byOwnId(lists.details).get(id) : undefined),
      licensesOf(assignmentId) {
        const own = listed.licensesByAssignmentId.get(assignmentId);
        if (own || grouped || !lists.licenses) return own ?? (grouped ? [] : undefined);
        // The whole licence list is here: an assignment with no licence in it has none.
        licensesByAssignment ??= licensesByAssignmentOf(lists.licenses);
        return licensesByAssignment.get(assignmentId) ?? [];
      },
    };
  }

  /** Every assignment of the caller; fetched once per request, or taken from the grouped list when it is here. */
  allAssignments(): Promise<ProductAssignmentWire[]> {
    this.assignmentList ??= (
      wholeListSource('assignments', this.started()) === 'grouped'
        ? this.allGrouped().then((groups) => assignmentsOfGroups(groups, true))
        : this.portal.listProductAssignments(this.caller).then((list) => {
            this.listed.assignments.addList(list);
            return list;
          })
    ).then((list) => (this.lists.assignments = list));
    return this.assignmentList;
  }

  /** Every licence of the caller; fetched once per request, or taken from the grouped list when it is here. */
  allLicenses(): Promise<LicenseWire[]> {
    this.licenseList ??= (
      wholeListSource('licenses', this.started()) === 'grouped'
        ? this.allGrouped().then((groups) => licensesOfGroups(groups, true))
        : this.portal.listLicenses(this.caller).then((list) => {
            this.listed.licenses.addList(list);
            return list;
          })
    ).then((list) => (this.lists.licenses = list));
    return this.licenseList;
  }

  /** Every licence detail of the caller; fetched once per request. */
  allDetails(): Promise<LicenseDetailWire[]> {
    this.detailList ??= this.portal.listLicenseDetails(this.caller).then((list) => {
      this.listed.detailsByLicenseId.addList(list);
      return (this.lists.details = list);
    });
    return this.detailList;
  }

  /** Every assignment with its licences; fetched once per request; serves assignments and licences by id. */
  allGrouped(): Promise<GroupedLicensesWire[]> {
    this.groupedList ??= this.portal.listLicensesByAssignment(this.caller).then((groups) => {
      for (const group of groups) {
        this.listed.assignments.set(group.product_assignment.id, group.product_assignment);
        this.listed.licensesByAssignmentId.set(group.product_assignment.id, group.licenses);
      }
      // Their licences as one list: for a kept grouped list, one made once, looked up in its own index.
      if (isKept(groups)) this.listed.licenses.addList(licensesOfGroups(groups, true));
      else for (const group of groups) this.listed.licenses.addList(group.licenses);
      return (this.lists.grouped = groups);
    });
    return this.groupedList;
  }

  /** An assignment by id: at once when a list brought it, else through its loader. */
  assignment(id: number): ProductAssignmentWire | Promise<ProductAssignmentWire> {
    return this.listed.assignments.get(id) ?? this.assignmentById.load(id);
  }

  /** A licence by id: at once when a list brought it, else through its loader. */
  license(id: number): LicenseWire | Promise<LicenseWire> {
    return this.listed.licenses.get(id) ?? this.licenseById.load(id);
  }

  /** The detail of a licence: at once when the detail list brought it, else through its loader. */
  detail(licenseId: number): LicenseDetailWire | Promise<LicenseDetailWire> {
    return this.listed.detailsByLicenseId.get(licenseId) ?? this.detailByLicenseId.load(licenseId);
  }

  async detailByOwnId(id: number): Promise<LicenseDetailWire> {
    return detailInList(this.byOwnId(await this.allDetails()), id);
  }

  /**
   * The detail list by the details' own ids: for `detailByOwnId` and the answer's count alike, made once per list
   * (a kept list's once for every read of it).
   */
  private byOwnId(details: readonly LicenseDetailWire[]): ReadonlyMap<number, LicenseDetailWire> {
    if (this.detailsById?.from !== details) {
      const index = (all: readonly LicenseDetailWire[]) => new Map(all.map((detail) => [detail.id, detail]));
      this.detailsById = { from: details, byId: keptView(details, 'byId', index) ?? index(details) };
    }
    return this.detailsById.byId;
  }

  /** Forgets everything loaded, so that reads after a change (a generated licence) see it. */
  clearAll(): void {
    // What is read after a write follows the plan made for it.
    this.plan = this.plan.afterWrite ?? this.plan;
    this.listed.assignments.clear();
    this.listed.licenses.clear();
    this.listed.detailsByLicenseId.clear();
    this.listed.licensesByAssignmentId.clear();
    this.lists.assignments = this.lists.licenses = this.lists.details = this.lists.grouped = undefined;
    this.assignmentList = this.licenseList = this.detailList = this.groupedList = undefined;
    this.assignmentById.clearAll();
    this.licenseById.clearAll();
    this.detailByLicenseId.clearAll();
    this.licensesByAssignmentId.clearAll();
    this.fileByLicenseId.clearAll();
  }

  /** The caller's lists this request has started. */
  private started(): ListsStarted {
    return {
      grouped: this.groupedList !== undefined,
      assignments: this.assignmentList !== undefined,
      licenses: this.licenseList !== undefined,
      details: this.detailList !== undefined,
    };
  }

  private batchAssignments(ids: readonly number[]): Promise<Array<ProductAssignmentWire | Error>> {
    const source = batchSource(this.plan, 'assignment', this.started());
    const list =
      source === 'show'
        ? undefined
        : source === 'grouped'
          ? this.allGrouped().then((groups) => assignmentsOfGroups(groups, false))
          : this.allAssignments();
    return this.fromListOrShow('assignment', ids, list, 'productAssignment.show', (id) =>
      this.portal.showProductAssignment(this.caller, id),
    );
  }

  private batchLicenses(ids: readonly number[]): Promise<Array<LicenseWire | Error>> {
    const source = batchSource(this.plan, 'license', this.started());
    const list =
      source === 'show'
        ? undefined
        : source === 'grouped'
          ? this.allGrouped().then((groups) => licensesOfGroups(groups, false))
          : this.allLicenses();
    return this.fromListOrShow('license', ids, list, 'license.show', (id) => this.portal.showLicense(this.caller, id));
  }

  private batchDetails(ids: readonly number[]): Promise<Array<LicenseDetailWire | Error>> {
    const source = batchSource(this.plan, 'detail', this.started());
    return this.fromListOrShow(
      'detail',
      ids,
      source === 'show' ? undefined : this.allDetails(),
      'licenseDetail.show',
      (id) => this.portal.showLicenseDetail(this.caller, id),
      (detail) => detail.license_id,
      'byLicenseId',
    );
  }

  private async batchLicensesOfAssignments(ids: readonly number[]): Promise<Array<LicenseWire[] | Error>> {
    const showOne = (id: number) =>
      this.portal.listLicensesOfAssignment(this.caller, id).then((licenses) => {
        for (const license of licenses) this.licenseById.prime(license.id, license);
        return licenses;
      });
    const source = batchSource(this.plan, 'licensesOfAssignment', this.started());
    if (source === 'licenses') {
      // The whole licence list is here: group it. An assignment with no licence in it has none.
      const byAssignment = await settle(this.allLicenses(), licensesByAssignmentOf);
      if (byAssignment instanceof Error) return ids.map(() => byAssignment);
      return ids.map((id) => byAssignment.get(id) ?? []);
    }
    if (source === 'show') return eachKey(ids, showOne);
    const groups = await settle(
      this.allGrouped(),
      (list) => new Map(list.map((group) => [group.product_assignment.id, group.licenses])),
    );
    if (groups instanceof Error) return ids.map(() => groups);
    const shown = await this.showMissing('licensesOfAssignment', ids, groups, 'license.byAssignment.show', showOne);
    return ids.map((id) => groups.get(id) ?? shown.get(id)!);
  }

  /** Answers a batch from `list`, asking the show call for ids it lacks as the rules allow; without one, show calls. */
  private async fromListOrShow<V extends { id: number }>(
    kind: RecordKind,
    ids: readonly number[],
    list: Promise<V[]> | undefined,
    showEndpoint: EndpointName,
    show: (id: number) => Promise<V>,
    keyOf: (record: V) => number = (record) => record.id,
    keyName = 'byId',
  ): Promise<Array<V | Error>> {
    if (!list) return eachKey(ids, show);
    const found = await settle(list, (records) => {
      const index = (all: readonly V[]) => new Map(all.map((record) => [keyOf(record), record]));
      return keptView(records, keyName, index) ?? index(records);
    });
    if (found instanceof Error) return ids.map(() => found);
    const shown = await this.showMissing(kind, ids, found, showEndpoint, show);
    return ids.map((id) => found.get(id) ?? shown.get(id)!);
  }

  /**
   * Show calls for the ids a list lacks, where `MissingRecordCalls` allows them. Any other fails as UNAVAILABLE: the
   * lists disagree, and settling it would take more calls than the budget allows.
   */
  private async showMissing<V>(
    kind: RecordKind,
    ids: readonly number[],
    found: ReadonlyMap<number, unknown>,
    endpoint: EndpointName,
    show: (id: number) => Promise<V>,
  ): Promise<Map<number, V | Error>> {
    const asked: number[] = [];
    const shown = new Map<number, V | Error>();
    for (const id of ids) {
      if (found.has(id)) continue;
      if (this.missingCalls.allows(this.plan, kind, id)) asked.push(id);
      else {
        const message = `Record ${id} is named by one Customer Portal list and missing from another (they changed while they were read); try again.`;
        shown.set(id, new PortalError('UNAVAILABLE', message, { endpoint }));
      }
    }
    if (asked.length > 0) (await eachKey(asked, show)).forEach((result, index) => shown.set(asked[index]!, result));
    return shown;
  }
}

/** Where a loader keeps the records it has in hand. */
interface Kept<V> {
  get(id: number): V | undefined;
  set(id: number, record: V): unknown;
  has(id: number): boolean;
}

/**
 * Records by id, from show calls and from lists; a list's records are indexed only once one is looked up, since a
 * query that reads a list in order (4,000 licences under their assignments) never looks one up by id. Lists and
 * single records replace each other in the order they were added, as if each list were set record by record. A list
 * the read cache keeps, looked up first, is looked up in its own index, made once for every read of it.
 */
class RecordsById<V> implements Kept<V> {
  private readonly byId = new Map<number, V>();
  /** A kept list's index, under `byId`: what `byId` holds was added after it. */
  private base: ReadonlyMap<number, V> | undefined;
  private unindexed: Array<readonly V[]> = [];

  /** `view` names the kept index by `idOf`. */
  constructor(
    private readonly idOf: (record: V) => number,
    private readonly view: string,
  ) {}

  addList(records: readonly V[]): void {
    this.unindexed.push(records);
  }

  set(id: number, record: V): void {
    this.index();
    this.byId.set(id, record);
  }

  get(id: number): V | undefined {
    this.index();
    return this.byId.get(id) ?? this.base?.get(id);
  }

  has(id: number): boolean {
    this.index();
    return this.byId.has(id) || this.base?.has(id) === true;
  }

  clear(): void {
    this.byId.clear();
    this.base = undefined;
    this.unindexed = [];
  }

  private index(): void {
    if (this.unindexed.length === 0) return;
    const [first] = this.unindexed;
    if (this.unindexed.length === 1 && this.byId.size === 0 && this.base === undefined) {
      this.base = keptView(
        first!,
        this.view,
        (records) => new Map(records.map((record) => [this.idOf(record), record])),
      );
      if (this.base) {
        this.unindexed = [];
        return;
      }
    }
    if (this.base) {
      // A list added after the kept one: what that held, and `byId` does not, goes under what comes next.
      for (const [id, record] of this.base) if (!this.byId.has(id)) this.byId.set(id, record);
      this.base = undefined;
    }
    for (const records of this.unindexed) for (const record of records) this.byId.set(this.idOf(record), record);
    this.unindexed = [];
  }
}

/** The grouped list's assignments, as `ofGroups` gives them. */
function assignmentsOfGroups(groups: readonly GroupedLicensesWire[], sorted: boolean): ProductAssignmentWire[] {
  return ofGroups(groups, 'assignments', sorted, (list) => list.map((group) => group.product_assignment));
}

/** The grouped list's licences, as `ofGroups` gives them. */
function licensesOfGroups(groups: readonly GroupedLicensesWire[], sorted: boolean): LicenseWire[] {
  return ofGroups(groups, 'licenses', sorted, (list) => list.flatMap((group) => group.licenses));
}

/**
 * Records taken out of the grouped list by `all`, by id when `sorted` (a batch looks them up by id, in any order);
 * made once, by id, for a grouped list the read cache keeps (its view `name`).
 */
function ofGroups<V extends { id: number }>(
  groups: readonly GroupedLicensesWire[],
  name: string,
  sorted: boolean,
  all: (list: readonly GroupedLicensesWire[]) => V[],
): V[] {
  const kept = keptList(groups, name, (list) => all(list).sort(byId));
  return kept ?? (sorted ? all(groups).sort(byId) : all(groups));
}

function byId(a: { id: number }, b: { id: number }): number {
  return a.id - b.id;
}

async function settle<T, R>(promise: Promise<T>, then: (value: T) => R): Promise<R | Error> {
  try {
    return then(await promise);
  } catch (error) {
    return toError(error);
  }
}

/** A licence list's licences by assignment, in the list's order: made once for a list the read cache keeps. */
function licensesByAssignmentOf(licenses: readonly LicenseWire[]): ReadonlyMap<number, LicenseWire[]> {
  const group = (all: readonly LicenseWire[]) => groupBy(all, (license) => license.product_assignment_id);
  // Shared by every read of the kept list, like the list itself: frozen.
  const frozen = (all: readonly LicenseWire[]) => {
    const groups = group(all);
    for (const each of groups.values()) Object.freeze(each);
    return groups;
  };
  return keptView(licenses, 'byAssignment', frozen) ?? group(licenses);
}

function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
