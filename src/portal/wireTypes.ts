/**
 * The portal's response bodies as they travel on the wire, and their validators.
 *
 * The vendor's page gives no bodies, so every shape here is the contract of `docs/portal-contract.md` (assumed, snake_case).
 * This file is the one place to change when the live portal turns out to differ; `npm run contract:check`
 * runs these same validators against a live portal and reports where they fail.
 */
import { z } from 'zod';

/** `YYYY-MM-DD` and a real calendar day. */
const wireDate = z.string().refine(isCalendarDate, { message: 'expected a date YYYY-MM-DD' });

/** An ISO 8601 instant with an offset (`Z` or `+hh:mm`). */
const wireDateTime = z.string().refine(isIsoInstant, {
  message: 'expected an ISO 8601 date-time with offset',
});

const wireId = z.number().int().positive();

export const productAssignmentWire = z.object({
  id: wireId,
  product_name: z.string(),
  product_code: z.string().nullable(),
  /** null: unlimited. */
  total_license_count: z.number().int().nonnegative().nullable(),
  used_license_count: z.number().int().nonnegative(),
  /** null: no upper bound on expiration. */
  valid_until: wireDate.nullable(),
  note: z.string().nullable(),
  created_at: wireDateTime.nullable(),
});

export const licenseWire = z.object({
  id: wireId,
  product_assignment_id: wireId,
  /** null: a universal licence. */
  hwid: z.string().nullable(),
  expiration_date: wireDate,
  note: z.string().nullable(),
  created_at: wireDateTime.nullable(),
});

export const licenseDetailWire = z.object({
  id: wireId,
  license_id: wireId,
  file_name: z.string(),
  customer: z.string().nullable(),
  products: z.array(z.string()),
  hwids: z.array(z.string()),
  expiration_date: wireDate.nullable(),
  created_at: wireDateTime.nullable(),
});

const groupedLicensesWire = z.object({
  product_assignment: productAssignmentWire,
  licenses: z.array(licenseWire),
});

export const productAssignmentListWire = z.array(productAssignmentWire);
export const licenseListWire = z.array(licenseWire);
export const licenseDetailListWire = z.array(licenseDetailWire);
export const groupedLicensesListWire = z.array(groupedLicensesWire);

export type ProductAssignmentWire = z.infer<typeof productAssignmentWire>;
export type LicenseWire = z.infer<typeof licenseWire>;
export type LicenseDetailWire = z.infer<typeof licenseDetailWire>;
export type GroupedLicensesWire = z.infer<typeof groupedLicensesWire>;

/** A licence file as downloaded: the exact bytes and the headers that describe them. */
export interface LicenseFileDownload {
  licenseId: number;
  fileName: string;
  contentType: string;
  bytes: Buffer;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** True for an ISO 8601 instant with an offset (`Z` or `+hh:mm`) that names a real moment. */
export function isIsoInstant(value: string): boolean {
  return ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value));
}

/** True for `YYYY-MM-DD` naming a day that exists (`2027-02-30` does not). */
export function isCalendarDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
