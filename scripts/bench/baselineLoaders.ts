/**
 * The benchmark's baseline, the usual approach: what Apollo's `RESTDataSource` does with one show-by-id call per
 * parent. Each relation is resolved with its own call per parent, deduplicated only when identical (the same path
 * in the same request); lists prime nothing, nothing is grouped or started early. `baselineServer.ts` hands these
 * to the server in place of its planned loaders.
 */
import DataLoader from 'dataloader';
import type { PortalCaller, PortalClient } from '../../src/portal/portalClient';
import type {
  LicenseDetailWire,
  LicenseFileDownload,
  LicenseWire,
  ProductAssignmentWire,
} from '../../src/portal/wireTypes';
import { eachKey } from '../../src/loaders/batch';
import { detailInList, type Loaders } from '../../src/loaders/loaders';

export class BaselineLoaders implements Loaders {
  readonly assignmentById: DataLoader<number, ProductAssignmentWire>;
  readonly licenseById: DataLoader<number, LicenseWire>;
  readonly detailByLicenseId: DataLoader<number, LicenseDetailWire>;
  readonly licensesByAssignmentId: DataLoader<number, LicenseWire[]>;
  readonly fileByLicenseId: DataLoader<number, LicenseFileDownload>;
  private readonly lists = new Map<string, Promise<unknown>>();

  constructor(
    private readonly portal: PortalClient,
    private readonly caller: PortalCaller,
  ) {
    this.assignmentById = new DataLoader((ids) => eachKey(ids, (id) => portal.showProductAssignment(caller, id)));
    this.licenseById = new DataLoader((ids) => eachKey(ids, (id) => portal.showLicense(caller, id)));
    this.detailByLicenseId = new DataLoader((ids) => eachKey(ids, (id) => portal.showLicenseDetail(caller, id)));
    this.licensesByAssignmentId = new DataLoader((ids) =>
      eachKey(ids, (id) => portal.listLicensesOfAssignment(caller, id)),
    );
    this.fileByLicenseId = new DataLoader((ids) => eachKey(ids, (id) => portal.downloadLicenseFile(caller, id)));
  }

  assignment(id: number): Promise<ProductAssignmentWire> {
    return this.assignmentById.load(id);
  }

  license(id: number): Promise<LicenseWire> {
    return this.licenseById.load(id);
  }

  detail(licenseId: number): Promise<LicenseDetailWire> {
    return this.detailByLicenseId.load(licenseId);
  }

  async detailByOwnId(id: number): Promise<LicenseDetailWire> {
    const details = await this.allDetails();
    return detailInList(new Map(details.map((detail) => [detail.id, detail])), id);
  }

  allAssignments(): Promise<ProductAssignmentWire[]> {
    return this.once('assignments', () => this.portal.listProductAssignments(this.caller));
  }

  allLicenses(): Promise<LicenseWire[]> {
    return this.once('licenses', () => this.portal.listLicenses(this.caller));
  }

  allDetails(): Promise<LicenseDetailWire[]> {
    return this.once('details', () => this.portal.listLicenseDetails(this.caller));
  }

  async prefetch(): Promise<void> {
    // The usual approach starts nothing early.
  }

  known(): undefined {
    return undefined; // Nothing is kept beside the loaders' own caches.
  }

  async load(): Promise<void> {
    // Nothing is counted ahead: the usual approach resolves as it goes.
  }

  clearAll(): void {
    this.lists.clear();
    for (const loader of [
      this.assignmentById,
      this.licenseById,
      this.detailByLicenseId,
      this.licensesByAssignmentId,
      this.fileByLicenseId,
    ]) {
      (loader as DataLoader<number, unknown>).clearAll();
    }
  }

  private once<T>(name: string, fetch: () => Promise<T>): Promise<T> {
    let list = this.lists.get(name) as Promise<T> | undefined;
    if (!list) {
      list = fetch();
      this.lists.set(name, list);
    }
    return list;
  }
}
