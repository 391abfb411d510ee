/**
 * A caller's data as the portal holds it, served from memory by the reads the loaders call, with a log of the
 * calls made: for in-process tests of the call policy. Integration tests use the emulator over real sockets.
 */
import type { PortalReads } from '../../src/loaders/portalLoaders';
import { PortalError } from '../../src/portal/portalErrors';
import type { LicenseDetailWire, LicenseWire, ProductAssignmentWire } from '../../src/portal/wireTypes';
import { assignmentRecord, detailRecord, licenseRecord } from './wireRecords';

/** The licences the benchmark names by id (query 3); the rest are numbered from 1. */
export const NAMED_LICENSE_IDS = [2647, 3321, 4022, 4352, 5971];
export const ASSIGNMENTS = 40;
export const LICENSES = 1000;

/** A caller's data as the portal holds it, and a log of the calls made to read it. */
export class PortalInMemory implements PortalReads {
  readonly calls: string[] = [];
  readonly assignments: ProductAssignmentWire[];
  readonly licenses: LicenseWire[];
  readonly details: LicenseDetailWire[];
  /** Licences of another customer: their show call is refused (403). */
  readonly foreignLicenseIds = new Set<number>();
  /** Details (by licence id) the detail list leaves out, as a list read before they were made would. */
  readonly unlistedDetails = new Set<number>();

  constructor() {
    this.assignments = Array.from({ length: ASSIGNMENTS }, (_, index) => assignmentRecord(index + 1));
    const ids = [...Array.from({ length: LICENSES - NAMED_LICENSE_IDS.length }, (_, index) => index + 1)];
    ids.push(...NAMED_LICENSE_IDS);
    this.licenses = ids.map((id, index) =>
      licenseRecord(id, {
        product_assignment_id: (index % ASSIGNMENTS) + 1,
        hwid: index % 3 === 0 ? null : `HW-${id}`,
        expiration_date: index % 2 === 0 ? '2030-01-01' : '2020-01-01',
      }),
    );
    this.details = this.licenses.map((license) => detailRecord(license));
  }

  async listProductAssignments() {
    this.calls.push('productAssignment.list');
    return this.assignments;
  }
  async showProductAssignment(_caller: unknown, id: number) {
    this.calls.push(`productAssignment.show ${id}`);
    return found(this.assignments.find((assignment) => assignment.id === id));
  }
  async listLicenses() {
    this.calls.push('license.list');
    return this.licenses;
  }
  async showLicense(_caller: unknown, id: number) {
    this.calls.push(`license.show ${id}`);
    if (this.foreignLicenseIds.has(id)) throw new PortalError('FORBIDDEN', 'Forbidden', { endpoint: 'license.show' });
    return found(this.licenses.find((license) => license.id === id));
  }
  async listLicensesByAssignment() {
    this.calls.push('license.byAssignment.list');
    return this.assignments.map((assignment) => ({
      product_assignment: assignment,
      licenses: this.licenses.filter((license) => license.product_assignment_id === assignment.id),
    }));
  }
  async listLicensesOfAssignment(_caller: unknown, id: number) {
    this.calls.push(`license.byAssignment.show ${id}`);
    return this.licenses.filter((license) => license.product_assignment_id === id);
  }
  async listLicenseDetails() {
    this.calls.push('licenseDetail.list');
    return this.details.filter((detail) => !this.unlistedDetails.has(detail.license_id));
  }
  async showLicenseDetail(_caller: unknown, licenseId: number) {
    this.calls.push(`licenseDetail.show ${licenseId}`);
    return found(this.details.find((detail) => detail.license_id === licenseId));
  }
  async downloadLicenseFile(): Promise<never> {
    throw new Error('no benchmark query downloads a file');
  }
}

function found<T>(record: T | undefined): T {
  if (!record) throw new PortalError('NOT_FOUND', 'Not Found', { endpoint: 'license.show' });
  return record;
}
