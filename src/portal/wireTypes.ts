/**
 * The portal's response bodies as they travel on the wire, and their validators: the one place to change when the
 * live portal turns out to differ from `docs/portal-contract.md` (assumed, snake_case; the vendor's page gives no
 * bodies). `npm run contract:check` runs these same validators against a live portal.
 *
 * Each shape is written twice: as a zod schema, which says in words where a body does not fit, and as a check made
 * in place (`fits…`), which copies nothing, since zod builds a new object for every record it accepts. A body is
 * checked in place and handed on as parsed; only one that fails is given to zod, for its words (or, should the
 * check ever be stricter than the schema, for its answer). `wireTypes.test.ts` holds the check to the schema: it
 * never accepts what the schema refuses.
 *
 * A record accepted is given, in place, the GraphQL schema's names for the fields the portal spells otherwise
 * (`fileName` beside `file_name`), so the executor reads them straight from the record, with no resolver call per
 * field of every record only to rename it.
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

/** A product assignment as the portal sends it, and as this server holds it once read: with the schema's names. */
export type ProductAssignmentOnWire = z.infer<typeof productAssignmentWire>;
export type ProductAssignmentWire = ProductAssignmentOnWire & {
  productName: string;
  productCode: string | null;
  totalLicenseCount: number | null;
  usedLicenseCount: number;
  validUntil: string | null;
  createdAt: string | null;
};
export type LicenseOnWire = z.infer<typeof licenseWire>;
export type LicenseWire = LicenseOnWire & { expirationDate: string; createdAt: string | null };
export type LicenseDetailOnWire = z.infer<typeof licenseDetailWire>;
export type LicenseDetailWire = LicenseDetailOnWire & {
  fileName: string;
  expirationDate: string | null;
  createdAt: string | null;
};
type GroupedLicensesOnWire = z.infer<typeof groupedLicensesWire>;
export interface GroupedLicensesWire {
  product_assignment: ProductAssignmentWire;
  licenses: LicenseWire[];
}

/**
 * A wire shape: its zod schema, the same contract checked in place, and the naming of what either accepted. `W` is
 * the body as sent, `T` as this server holds it.
 */
export interface WireShape<T, W = unknown> {
  schema: z.ZodType<W>;
  /** True only for a value the schema accepts as it is: every key the schema names, valid, and no other key. */
  fits(value: unknown): value is W;
  /** Gives an accepted body's records the schema's names, in place, and answers it. */
  named(value: W): T;
}

/** Gives an assignment the schema's names for its fields (again, harmlessly, when it has them). */
export function namedAssignment(record: ProductAssignmentOnWire): ProductAssignmentWire {
  const named = record as ProductAssignmentWire;
  named.productName = record.product_name;
  named.productCode = record.product_code;
  named.totalLicenseCount = record.total_license_count;
  named.usedLicenseCount = record.used_license_count;
  named.validUntil = record.valid_until;
  named.createdAt = record.created_at;
  return named;
}

/** Gives a licence the schema's names for its fields (again, harmlessly, when it has them). */
export function namedLicense(record: LicenseOnWire): LicenseWire {
  const named = record as LicenseWire;
  named.expirationDate = record.expiration_date;
  named.createdAt = record.created_at;
  return named;
}

/** Gives a licence's detail the schema's names for its fields (again, harmlessly, when it has them). */
export function namedDetail(record: LicenseDetailOnWire): LicenseDetailWire {
  const named = record as LicenseDetailWire;
  named.fileName = record.file_name;
  named.expirationDate = record.expiration_date;
  named.createdAt = record.created_at;
  return named;
}

function namedGroup(group: GroupedLicensesOnWire): GroupedLicensesWire {
  namedAssignment(group.product_assignment);
  for (const license of group.licenses) namedLicense(license);
  return group as GroupedLicensesWire;
}

/** Names every record of a list, in place. */
function namedEach<W, T>(named: (record: W) => T): (records: W[]) => T[] {
  return (records) => {
    for (const record of records) named(record);
    return records as unknown as T[];
  };
}

function fitsProductAssignment(value: unknown): value is ProductAssignmentOnWire {
  if (!isRecordOf(value, 8)) return false;
  const total = value.total_license_count;
  const validUntil = value.valid_until;
  return (
    isWireId(value.id) &&
    typeof value.product_name === 'string' &&
    isStringOrNull(value.product_code) &&
    (total === null || isCount(total)) &&
    isCount(value.used_license_count) &&
    (validUntil === null || (typeof validUntil === 'string' && isCalendarDate(validUntil))) &&
    isStringOrNull(value.note) &&
    isInstantOrNull(value.created_at)
  );
}

function fitsLicense(value: unknown): value is LicenseOnWire {
  if (!isRecordOf(value, 6)) return false;
  const expiration = value.expiration_date;
  return (
    isWireId(value.id) &&
    isWireId(value.product_assignment_id) &&
    isStringOrNull(value.hwid) &&
    typeof expiration === 'string' &&
    isCalendarDate(expiration) &&
    isStringOrNull(value.note) &&
    isInstantOrNull(value.created_at)
  );
}

function fitsLicenseDetail(value: unknown): value is LicenseDetailOnWire {
  if (!isRecordOf(value, 8)) return false;
  const expiration = value.expiration_date;
  return (
    isWireId(value.id) &&
    isWireId(value.license_id) &&
    typeof value.file_name === 'string' &&
    isStringOrNull(value.customer) &&
    isStringList(value.products) &&
    isStringList(value.hwids) &&
    (expiration === null || (typeof expiration === 'string' && isCalendarDate(expiration))) &&
    isInstantOrNull(value.created_at)
  );
}

function fitsGroupedLicenses(value: unknown): value is GroupedLicensesOnWire {
  return (
    isRecordOf(value, 2) &&
    fitsProductAssignment(value.product_assignment) &&
    Array.isArray(value.licenses) &&
    value.licenses.every(fitsLicense)
  );
}

function listOf<T>(fits: (value: unknown) => value is T): (value: unknown) => value is T[] {
  return (value): value is T[] => Array.isArray(value) && value.every(fits);
}

export const productAssignmentShape: WireShape<ProductAssignmentWire, ProductAssignmentOnWire> = {
  schema: productAssignmentWire,
  fits: fitsProductAssignment,
  named: namedAssignment,
};
export const licenseShape: WireShape<LicenseWire, LicenseOnWire> = {
  schema: licenseWire,
  fits: fitsLicense,
  named: namedLicense,
};
export const licenseDetailShape: WireShape<LicenseDetailWire, LicenseDetailOnWire> = {
  schema: licenseDetailWire,
  fits: fitsLicenseDetail,
  named: namedDetail,
};
export const productAssignmentListShape: WireShape<ProductAssignmentWire[], ProductAssignmentOnWire[]> = {
  schema: productAssignmentListWire,
  fits: listOf(fitsProductAssignment),
  named: namedEach(namedAssignment),
};
export const licenseListShape: WireShape<LicenseWire[], LicenseOnWire[]> = {
  schema: licenseListWire,
  fits: listOf(fitsLicense),
  named: namedEach(namedLicense),
};
export const licenseDetailListShape: WireShape<LicenseDetailWire[], LicenseDetailOnWire[]> = {
  schema: licenseDetailListWire,
  fits: listOf(fitsLicenseDetail),
  named: namedEach(namedDetail),
};
export const groupedLicensesListShape: WireShape<GroupedLicensesWire[], GroupedLicensesOnWire[]> = {
  schema: groupedLicensesListWire,
  fits: listOf(fitsGroupedLicenses),
  named: namedEach(namedGroup),
};

/**
 * A plain object with exactly `keys` own enumerable keys. With every named key then checked to hold a value
 * (`undefined` never fits), it has exactly the keys the schema names: zod would drop any other, so a record
 * with more is left to zod, which copies it without them.
 */
function isRecordOf(value: unknown, keys: number): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  let count = 0;
  for (const key in value) if (Object.hasOwn(value, key)) count += 1;
  return count === keys;
}

/** `wireId`: a positive safe integer (zod's `int()` is a safe integer). */
function isWireId(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isStringOrNull(value: unknown): boolean {
  return value === null || typeof value === 'string';
}

function isInstantOrNull(value: unknown): boolean {
  return value === null || (typeof value === 'string' && isIsoInstant(value));
}

function isStringList(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== 'string') return false;
  return true;
}

/** A licence file as downloaded: the exact bytes and the headers that describe them. */
export interface LicenseFileDownload {
  licenseId: number;
  fileName: string;
  contentType: string;
  bytes: Buffer;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * True for an ISO 8601 instant with an offset (`Z` or `+hh:mm`) that names a real moment, as `Date.parse` reads it.
 * The portal's own form (`2023-08-31T10:33:04Z`: seconds, a fraction of at most three digits, a day that exists,
 * an hour below 24) is read digit by digit, since it runs for every record of every list; any other form is left
 * to `Date.parse`, whose rules for the rest (a 24th hour, 31 February rolled into March) are its own.
 */
export function isIsoInstant(value: string): boolean {
  return isPlainInstant(value) || (ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value)));
}

/**
 * True for `YYYY-MM-DD` naming a day that exists (`2027-02-30` does not), in the years 0100 to 9999. Read digit by
 * digit, without a regular expression or a `Date`: it runs for every licence of every list.
 */
export function isCalendarDate(value: string): boolean {
  return value.length === 10 && startsWithCalendarDate(value);
}

const DASH = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const DOT = 0x2e;
const PLUS = 0x2b;
const LETTER_T = 0x54;
const LETTER_Z = 0x5a;

function startsWithCalendarDate(value: string): boolean {
  if (value.length < 10 || value.charCodeAt(4) !== DASH || value.charCodeAt(7) !== DASH) return false;
  const year = digitsAt(value, 0, 4);
  const month = digitsAt(value, 5, 2);
  const day = digitsAt(value, 8, 2);
  // Years before 100 were never accepted: `Date.UTC`, which this replaced, reads them as 1900 and later.
  return year >= 100 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/**
 * `YYYY-MM-DDThh:mm:ss`, an optional fraction of one to three digits, then `Z` or `±hh:mm`, every part in range;
 * false for any other form, which `Date.parse` may still accept.
 */
function isPlainInstant(value: string): boolean {
  if (value.length < 20 || !startsWithCalendarDate(value) || value.charCodeAt(10) !== LETTER_T) return false;
  if (value.charCodeAt(13) !== COLON || value.charCodeAt(16) !== COLON) return false;
  if (!isTimeAt(value, 11, 23) || !isBelowAt(value, 17, 59)) return false;
  let end = 19;
  if (value.charCodeAt(end) === DOT) {
    let digits = 0;
    while (digits < 3 && isDigit(value.charCodeAt(end + 1 + digits))) digits += 1;
    if (digits === 0) return false;
    end += 1 + digits;
  }
  const sign = value.charCodeAt(end);
  if (value.length === end + 1) return sign === LETTER_Z;
  return (
    value.length === end + 6 &&
    (sign === PLUS || sign === DASH) &&
    value.charCodeAt(end + 3) === COLON &&
    isTimeAt(value, end + 1, 23)
  );
}

/** `hh:mm` at `start`, the hour at most `maxHour`. */
function isTimeAt(value: string, start: number, maxHour: number): boolean {
  return isBelowAt(value, start, maxHour) && isBelowAt(value, start + 3, 59);
}

/** Two digits at `start` reading at most `max`. */
function isBelowAt(value: string, start: number, max: number): boolean {
  const number = digitsAt(value, start, 2);
  return number >= 0 && number <= max;
}

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}

/** The number written by `length` decimal digits at `start`, or -1 when one of them is not a digit (or not there). */
function digitsAt(text: string, start: number, length: number): number {
  let number = 0;
  for (let index = start; index < start + length; index += 1) {
    const code = text.charCodeAt(index);
    if (!isDigit(code)) return -1;
    number = number * 10 + code - ZERO;
  }
  return number;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
