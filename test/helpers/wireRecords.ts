/**
 * Test helper: portal records as a checked body holds them (the portal's names and the schema's), with plain
 * defaults that a test overrides field by field.
 */
import {
  namedAssignment,
  namedDetail,
  namedLicense,
  type LicenseDetailOnWire,
  type LicenseDetailWire,
  type LicenseOnWire,
  type LicenseWire,
  type ProductAssignmentOnWire,
  type ProductAssignmentWire,
} from '../../src/portal/wireTypes';

export function assignmentRecord(id: number, fields: Partial<ProductAssignmentOnWire> = {}): ProductAssignmentWire {
  return namedAssignment({
    id,
    product_name: `Product ${id}`,
    product_code: null,
    total_license_count: null,
    used_license_count: 0,
    valid_until: null,
    note: null,
    created_at: null,
    ...fields,
  });
}

export function licenseRecord(id: number, fields: Partial<LicenseOnWire> = {}): LicenseWire {
  return namedLicense({
    id,
    product_assignment_id: 1,
    hwid: `HW${id}`,
    expiration_date: '2027-01-01',
    note: null,
    created_at: null,
    ...fields,
  });
}

/** A licence's detail: its hardware id and expiration date unless `fields` say otherwise. */
export function detailRecord(of: LicenseWire, fields: Partial<LicenseDetailOnWire> = {}): LicenseDetailWire {
  return namedDetail({
    id: of.id + 100_000,
    license_id: of.id,
    file_name: 'iengine.lic',
    customer: null,
    products: [],
    hwids: of.hwid === null ? [] : [of.hwid],
    expiration_date: of.expiration_date,
    created_at: null,
    ...fields,
  });
}
