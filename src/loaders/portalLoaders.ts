/**
 * The per-request loaders: every read of the portal made while resolving one operation goes through here.
 *
 * They are made per request (in the context factory) and hold only that caller's data. The rules that keep a
 * nested query's upstream calls independent of list lengths are decided here:
 *
 * 1. Identical calls are made once: every list is fetched at most once per request, and every record by id is
 *    cached by its DataLoader.
 * 2. A list response primes the show-by-id loaders: once `license.list` has answered, `license(id:)` and
 *    `detail.license` cost nothing.
 * 3. A batch of ids of one kind uses what the request already has or is fetching (the list, or the grouped list);
 *    otherwise up to `SHOW_CALLS_THRESHOLD` ids become parallel show calls and more ids become one list call, so
 *    `license(id: 5)` never downloads the whole list, and 5,000 licences' assignments never make 5,000 calls.
 * 4. Licences of one assignment come from `license.byAssignment.show`; licences of several come from the one
 *    grouped call `license.byAssignment.list`, which also primes the assignments and the licences.
 * 5. An id that a list lacks is asked for by its show call, so that the caller still gets the portal's own
 *    answer for it (403 for another customer's record, 404 for none).
 */
import DataLoader from 'dataloader';
import type { PortalCaller, PortalClient } from '../portal/portalClient';
import type { GroupedLicensesWire, LicenseDetailWire, LicenseFileDownload, LicenseWire, ProductAssignmentWire } from '../portal/wireTypes';
import { eachKey, toError } from './batch';

/** Most ids of one kind fetched by parallel show calls in one batch; past it, one list call serves them all. */
export const SHOW_CALLS_THRESHOLD = 3;

export class PortalLoaders {
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

  private assignmentList: Promise<ProductAssignmentWire[]> | undefined;
  private licenseList: Promise<LicenseWire[]> | undefined;
  private detailList: Promise<LicenseDetailWire[]> | undefined;
  private groupedList: Promise<GroupedLicensesWire[]> | undefined;

  constructor(
    private readonly portal: PortalClient,
    private readonly caller: PortalCaller,
  ) {
    this.assignmentById = new DataLoader((ids) => this.batchAssignments(ids));
    this.licenseById = new DataLoader((ids) => this.batchLicenses(ids));
    this.detailByLicenseId = new DataLoader((ids) => this.batchDetails(ids));
    this.licensesByAssignmentId = new DataLoader((ids) => this.batchLicensesOfAssignments(ids));
    this.fileByLicenseId = new DataLoader((ids) => eachKey(ids, (id) => this.portal.downloadLicenseFile(this.caller, id)));
  }

  /** Every assignment of the caller; fetched once per request. */
  allAssignments(): Promise<ProductAssignmentWire[]> {
    this.assignmentList ??= this.portal.listProductAssignments(this.caller).then((list) => {
      for (const assignment of list) this.assignmentById.prime(assignment.id, assignment);
      return list;
    });
    return this.assignmentList;
  }

  /** Every licence of the caller; fetched once per request. */
  allLicenses(): Promise<LicenseWire[]> {
    this.licenseList ??= this.portal.listLicenses(this.caller).then((list) => {
      for (const license of list) this.licenseById.prime(license.id, license);
      return list;
    });
    return this.licenseList;
  }

  /** Every licence detail of the caller; fetched once per request. */
  allDetails(): Promise<LicenseDetailWire[]> {
    this.detailList ??= this.portal.listLicenseDetails(this.caller).then((list) => {
      for (const detail of list) this.detailByLicenseId.prime(detail.license_id, detail);
      return list;
    });
    return this.detailList;
  }

  /** Every assignment with its licences; fetched once per request; primes assignments and licences. */
  allGrouped(): Promise<GroupedLicensesWire[]> {
    this.groupedList ??= this.portal.listLicensesByAssignment(this.caller).then((groups) => {
      for (const group of groups) {
        this.assignmentById.prime(group.product_assignment.id, group.product_assignment);
        this.licensesByAssignmentId.prime(group.product_assignment.id, group.licenses);
        for (const license of group.licenses) this.licenseById.prime(license.id, license);
      }
      return groups;
    });
    return this.groupedList;
  }

  /** Forgets everything loaded, so that reads after a change (a generated licence) see it. */
  clearAll(): void {
    this.assignmentList = this.licenseList = this.detailList = this.groupedList = undefined;
    this.assignmentById.clearAll();
    this.licenseById.clearAll();
    this.detailByLicenseId.clearAll();
    this.licensesByAssignmentId.clearAll();
    this.fileByLicenseId.clearAll();
  }

  private batchAssignments(ids: readonly number[]): Promise<Array<ProductAssignmentWire | Error>> {
    const list =
      this.assignmentList ??
      this.groupedList?.then((groups) => groups.map((group) => group.product_assignment)) ??
      (ids.length > SHOW_CALLS_THRESHOLD ? this.allAssignments() : undefined);
    return this.fromListOrShow(ids, list, (id) => this.portal.showProductAssignment(this.caller, id));
  }

  private batchLicenses(ids: readonly number[]): Promise<Array<LicenseWire | Error>> {
    const list =
      this.licenseList ??
      this.groupedList?.then((groups) => groups.flatMap((group) => group.licenses)) ??
      (ids.length > SHOW_CALLS_THRESHOLD ? this.allLicenses() : undefined);
    return this.fromListOrShow(ids, list, (id) => this.portal.showLicense(this.caller, id));
  }

  private batchDetails(ids: readonly number[]): Promise<Array<LicenseDetailWire | Error>> {
    const list = this.detailList ?? (ids.length > SHOW_CALLS_THRESHOLD ? this.allDetails() : undefined);
    return this.fromListOrShow(ids, list, (id) => this.portal.showLicenseDetail(this.caller, id), (detail) => detail.license_id);
  }

  private async batchLicensesOfAssignments(ids: readonly number[]): Promise<Array<LicenseWire[] | Error>> {
    const showOne = (id: number) =>
      this.portal.listLicensesOfAssignment(this.caller, id).then((licenses) => {
        for (const license of licenses) this.licenseById.prime(license.id, license);
        return licenses;
      });
    if (this.licenseList) {
      // The whole licence list is here already: group it. An assignment with no licence in it has none.
      const byAssignment = await settle(this.licenseList, (licenses) => groupBy(licenses, (license) => license.product_assignment_id));
      if (byAssignment instanceof Error) return ids.map(() => byAssignment);
      return ids.map((id) => byAssignment.get(id) ?? []);
    }
    if (!this.groupedList && ids.length === 1) return eachKey(ids, showOne);
    const groups = await settle(this.allGrouped(), (list) => new Map(list.map((group) => [group.product_assignment.id, group.licenses])));
    if (groups instanceof Error) return ids.map(() => groups);
    const missing = ids.filter((id) => !groups.has(id));
    const shown = new Map(missing.length === 0 ? [] : zip(missing, await eachKey(missing, showOne)));
    return ids.map((id) => groups.get(id) ?? shown.get(id)!);
  }

  /**
   * Answers a batch from a list when there is one (rule 3), asking the show call for ids the list lacks
   * (rule 5); without a list, one show call per id, in parallel.
   */
  private async fromListOrShow<V extends { id: number }>(
    ids: readonly number[],
    list: Promise<V[]> | undefined,
    show: (id: number) => Promise<V>,
    keyOf: (record: V) => number = (record) => record.id,
  ): Promise<Array<V | Error>> {
    if (!list) return eachKey(ids, show);
    const byId = await settle(list, (records) => new Map(records.map((record) => [keyOf(record), record])));
    if (byId instanceof Error) return ids.map(() => byId);
    const missing = ids.filter((id) => !byId.has(id));
    const shown = new Map(missing.length === 0 ? [] : zip(missing, await eachKey(missing, show)));
    return ids.map((id) => byId.get(id) ?? shown.get(id)!);
  }
}

async function settle<T, R>(promise: Promise<T>, then: (value: T) => R): Promise<R | Error> {
  try {
    return then(await promise);
  } catch (error) {
    return toError(error);
  }
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

function zip<A, B>(left: readonly A[], right: readonly B[]): Array<[A, B]> {
  return left.map((value, index) => [value, right[index]!]);
}
