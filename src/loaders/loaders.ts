/**
 * What resolvers read through: the interface of one request's loaders, met by the planned `PortalLoaders` and by
 * whatever other approach the benchmark hands in to compare with.
 */
import type DataLoader from 'dataloader';
import type { OperationPlan } from '../planner/operationPlan';
import { PortalError } from '../portal/portalErrors';
import type { PortalCaller, PortalClient } from '../portal/portalClient';
import type { LicenseDetailWire, LicenseFileDownload, LicenseWire, ProductAssignmentWire } from '../portal/wireTypes';

export interface Loaders {
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
  /** An assignment by id; a plain value when it is already here. */
  assignment(id: number): ProductAssignmentWire | Promise<ProductAssignmentWire>;
  /** A licence by id; a plain value when it is already here. */
  license(id: number): LicenseWire | Promise<LicenseWire>;
  /** The detail of a licence, by the licence's id; a plain value when it is already here. */
  detail(licenseId: number): LicenseDetailWire | Promise<LicenseDetailWire>;
  /**
   * A detail by its own id (a Federation representation's), from the detail list: the portal shows a detail only by
   * its licence's id. Fails with `NOT_FOUND` when the caller's list lacks it (`detailInList`).
   */
  detailByOwnId(id: number): Promise<LicenseDetailWire>;
  /** Every assignment of the caller, in ascending id order. */
  allAssignments(): Promise<ProductAssignmentWire[]>;
  /** Every licence of the caller, in ascending id order. */
  allLicenses(): Promise<LicenseWire[]>;
  /** Every licence detail of the caller. */
  allDetails(): Promise<LicenseDetailWire[]>;
  /** Starts the calls an operation's plan names, before its resolvers run; settles (never rejects) once they have. */
  prefetch(plan: OperationPlan): Promise<void>;
  /** What this request has loaded so far, to read without a promise; undefined when the strategy keeps no such view. */
  known(): KnownRecords | undefined;
  /** Loads records by id through the loaders (as resolvers would); settles (never rejects) once they are in or failed. */
  load(ids: RecordIds): Promise<void>;
  /** Forgets everything loaded, so that reads after a change see it. */
  clearAll(): void;
}

/**
 * Makes one request's loaders for its caller; `onBatch` is told of every batch (metrics) and must not throw. The
 * server's own are `PortalLoaders`; the benchmark hands in another approach to compare with.
 */
export type LoadersFactory = (
  portal: PortalClient,
  caller: PortalCaller,
  onBatch?: (loader: string, size: number) => void,
) => Loaders;

/**
 * The records one request has in hand, read synchronously (the size of an answer is counted from them before it is
 * resolved). Undefined means "not loaded (yet)", never "does not exist".
 */
export interface KnownRecords {
  /** Every assignment of the caller, once a list brought them. */
  readonly assignments: readonly ProductAssignmentWire[] | undefined;
  /** Every licence of the caller, once a list brought them. */
  readonly licenses: readonly LicenseWire[] | undefined;
  /** Every licence detail of the caller, once the detail list brought them. */
  readonly details: readonly LicenseDetailWire[] | undefined;
  assignment(id: number): ProductAssignmentWire | undefined;
  license(id: number): LicenseWire | undefined;
  detail(licenseId: number): LicenseDetailWire | undefined;
  /** A detail by its own id (a Federation representation's), once the detail list brought them. */
  detailById(id: number): LicenseDetailWire | undefined;
  /** The licences of one assignment, from the grouped list, the licence list or its own call. */
  licensesOf(assignmentId: number): readonly LicenseWire[] | undefined;
}

/** Ids of records of each kind: what a count wants loaded. */
export interface RecordIds {
  assignments: Set<number>;
  licenses: Set<number>;
  /** Details by their licence's id. */
  details: Set<number>;
  /** The licences of these assignments. */
  licensesOf: Set<number>;
}

export function noRecordIds(): RecordIds {
  return { assignments: new Set(), licenses: new Set(), details: new Set(), licensesOf: new Set() };
}

/**
 * The detail whose own id is `id`, from the caller's detail list (`byId` indexes it); `NOT_FOUND` when the list lacks
 * it. Without a show call by a detail's own id there is no asking the portal whose it is: another customer's detail
 * and none at all answer alike.
 */
export function detailInList(byId: ReadonlyMap<number, LicenseDetailWire>, id: number): LicenseDetailWire {
  const detail = byId.get(id);
  if (detail) return detail;
  throw new PortalError('NOT_FOUND', `No licence detail of the caller has the id ${id}.`, {
    endpoint: 'licenseDetail.list',
  });
}
