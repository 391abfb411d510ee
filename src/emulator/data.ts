/**
 * The emulated portal's data model: its records in their wire shapes, its demo accounts, and the store that
 * answers every query and generates licences. Seeding lives in `seed.ts`; nothing here knows HTTP.
 *
 * Records are kept exactly as the portal serializes them (snake_case, `docs/portal-contract.md`), so a route answers a
 * record as it is; the store never hands out its own objects, only copies, so a caller can never change it.
 */
import { toBasicAuthorization } from './basicAuth';

// ---------------------------------------------------------------------------------------------------------
// Records, as on the wire
// ---------------------------------------------------------------------------------------------------------

/** A product credited to a customer: the pool that licences are generated from. */
export interface ProductAssignment {
  id: number;
  product_name: string;
  product_code: string;
  /** null: unlimited. */
  total_license_count: number | null;
  used_license_count: number;
  /** null: no upper bound on a licence's expiration. */
  valid_until: string | null;
  note: string | null;
  created_at: string;
}

/** One licence generated from an assignment. */
export interface License {
  id: number;
  product_assignment_id: number;
  /** null: a universal licence, bound to no hardware. */
  hwid: string | null;
  expiration_date: string;
  note: string | null;
  created_at: string;
}

/** The contract of one licence; exactly one per licence, with an id of its own. */
export interface LicenseDetail {
  id: number;
  license_id: number;
  file_name: string;
  customer: string;
  products: string[];
  hwids: string[];
  expiration_date: string;
  created_at: string;
}

/** One entry of `/api/license/product-assignment/list`. */
export interface LicensesOfAssignment {
  product_assignment: ProductAssignment;
  licenses: License[];
}

/** The name every licence file is served under. */
export const LICENSE_FILE_NAME = 'iengine.lic';

// ---------------------------------------------------------------------------------------------------------
// Demo accounts
// ---------------------------------------------------------------------------------------------------------

export const ACME = 'Acme Security s.r.o.';
export const GLOBEX = 'Globex Biometrics a.s.';

/** A login of the emulated portal, with the header that authenticates as it. */
export interface DemoAccount {
  readonly username: string;
  readonly password: string;
  /** The company the login belongs to; it sees that company's records only. */
  readonly customer: string;
  /** A ready `Authorization` header value: `Basic base64(username:password)`. */
  readonly authorization: string;
}

function demoAccount(username: string, password: string, customer: string): DemoAccount {
  return Object.freeze({ username, password, customer, authorization: toBasicAuthorization(username, password) });
}

/** Two logins of Acme (so that "same customer, other user" is testable) and one of Globex. */
export const DEMO_ACCOUNTS: readonly DemoAccount[] = Object.freeze([
  demoAccount('demo', 'demo', ACME),
  demoAccount('acme-ops', 'acme-ops', ACME),
  demoAccount('globex', 'globex', GLOBEX),
]);

/**
 * The account with these exact credentials, or null. `changed` holds the passwords changed since seeding (a user who
 * changed theirs in the portal), by username: an account listed there takes only its new password.
 */
export function findAccount(
  username: string,
  password: string,
  changed: ReadonlyMap<string, string> = new Map(),
): DemoAccount | null {
  return (
    DEMO_ACCOUNTS.find(
      (account) => account.username === username && (changed.get(username) ?? account.password) === password,
    ) ?? null
  );
}

// ---------------------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------------------

/** What a seed hands the store: every record with the customer that owns it, in any order. */
export interface SeedData {
  assignments: Array<{ customer: string; assignment: ProductAssignment }>;
  /** Each licence with its detail; the owner is the owner of the licence's assignment. */
  licenses: Array<{ license: License; detail: LicenseDetail }>;
}

/** Ids worth knowing in a seed, found in the data itself (so they hold for every seed and seed number). */
export interface SeedLandmarks {
  /** All for the customer of the `demo` account (Acme) unless named `otherCustomer…`. */
  unlimitedAssignmentId: number;
  exhaustedAssignmentId: number;
  /** An assignment with no licence at all. */
  emptyAssignmentId: number;
  noValidUntilAssignmentId: number;
  /** An assignment whose `valid_until` is within 30 days of today. */
  soonValidUntilAssignmentId: number;
  /** An assignment that accepts a new licence expiring in 30 days (room left, valid long enough). */
  generatableAssignmentId: number;
  universalLicenseId: number;
  hwidBoundLicenseId: number;
  expiredLicenseId: number;
  /** A licence that has not expired but will within 30 days. */
  soonExpiringLicenseId: number;
  nonAsciiNoteLicenseId: number;
  nullNoteLicenseId: number;
  /** Records of the other customer (Globex), whose ids sit between Acme's. */
  otherCustomerAssignmentId: number;
  otherCustomerLicenseId: number;
}

/** The outcome of `PortalStore.generateLicense`: the new licence, or why the portal refuses (its 400 detail). */
export type GenerateOutcome = { ok: true; license: License; detail: LicenseDetail } | { ok: false; reason: string };

export interface GenerateLicenseInput {
  assignmentId: number;
  hwid: string;
  expirationDate: string;
  note: string | null;
}

interface StoredAssignment {
  customer: string;
  assignment: ProductAssignment;
  /** In ascending id order; the same License objects as in `licenses`. */
  licenses: License[];
}

interface StoredLicense {
  customer: string;
  license: License;
  detail: LicenseDetail;
}

/**
 * Holds one seeded world and answers for it. All lists come in ascending id order; every record returned is a
 * copy. Dates compare as `YYYY-MM-DD` strings, which sort as dates.
 */
export class PortalStore {
  private readonly assignments: StoredAssignment[];
  private readonly assignmentsById = new Map<number, StoredAssignment>();
  private readonly licenses: StoredLicense[];
  private readonly licensesById = new Map<number, StoredLicense>();
  private nextLicenseId: number;
  private nextDetailId: number;
  /** Values made from the store as it is now (`remember`), dropped at its next write. */
  private readonly remembered = new Map<string, unknown>();

  constructor(seed: SeedData) {
    this.assignments = seed.assignments
      .map(({ customer, assignment }) => ({ customer, assignment: { ...assignment }, licenses: [] as License[] }))
      .sort((a, b) => a.assignment.id - b.assignment.id);
    for (const stored of this.assignments) {
      if (this.assignmentsById.has(stored.assignment.id)) {
        throw new Error(`seed has two product assignments with id ${stored.assignment.id}`);
      }
      this.assignmentsById.set(stored.assignment.id, stored);
    }
    this.licenses = [];
    for (const { license, detail } of [...seed.licenses].sort((a, b) => a.license.id - b.license.id)) {
      const owner = this.assignmentsById.get(license.product_assignment_id);
      if (!owner)
        throw new Error(`seed licence ${license.id} names unknown assignment ${license.product_assignment_id}`);
      if (this.licensesById.has(license.id)) throw new Error(`seed has two licences with id ${license.id}`);
      const stored = { customer: owner.customer, license: { ...license }, detail: cloneDetail(detail) };
      this.licenses.push(stored);
      this.licensesById.set(license.id, stored);
      owner.licenses.push(stored.license);
    }
    // A seed states its used counts; they must agree with the licences it holds, or the emulator would lie.
    for (const stored of this.assignments) {
      if (stored.assignment.used_license_count !== stored.licenses.length) {
        throw new Error(
          `seed assignment ${stored.assignment.id} says ${stored.assignment.used_license_count} used but holds ${stored.licenses.length} licences`,
        );
      }
    }
    this.nextLicenseId = 1 + Math.max(0, ...this.licenses.map((s) => s.license.id));
    this.nextDetailId = 1 + Math.max(0, ...this.licenses.map((s) => s.detail.id));
  }

  // --- everything, with owners (for tests) ---

  allAssignments(): Array<{ customer: string; assignment: ProductAssignment }> {
    return this.assignments.map((s) => ({ customer: s.customer, assignment: { ...s.assignment } }));
  }

  allLicenses(): Array<{ customer: string; license: License; detail: LicenseDetail }> {
    return this.licenses.map((s) => ({
      customer: s.customer,
      license: { ...s.license },
      detail: cloneDetail(s.detail),
    }));
  }

  // --- one customer's lists, as the portal answers them ---

  assignmentsOf(customer: string): ProductAssignment[] {
    return this.assignments.filter((s) => s.customer === customer).map((s) => ({ ...s.assignment }));
  }

  licensesOf(customer: string): License[] {
    return this.licenses.filter((s) => s.customer === customer).map((s) => ({ ...s.license }));
  }

  detailsOf(customer: string): LicenseDetail[] {
    // Details are created with their licences, so licence order is detail-id order too; sort anyway to keep the contract.
    return this.licenses
      .filter((s) => s.customer === customer)
      .map((s) => cloneDetail(s.detail))
      .sort((a, b) => a.id - b.id);
  }

  licensesByAssignmentOf(customer: string): LicensesOfAssignment[] {
    return this.assignments
      .filter((s) => s.customer === customer)
      .map((s) => ({ product_assignment: { ...s.assignment }, licenses: s.licenses.map((l) => ({ ...l })) }));
  }

  // --- single records, with their owner ---

  assignment(id: number): { customer: string; assignment: ProductAssignment; licenses: License[] } | undefined {
    const stored = this.assignmentsById.get(id);
    if (!stored) return undefined;
    return {
      customer: stored.customer,
      assignment: { ...stored.assignment },
      // Copied only when read (by the by-assignment route): generate and the show look an assignment up on every
      // call, and copying its licences each time made every generate slower than the last on a busy assignment.
      get licenses() {
        return stored.licenses.map((l) => ({ ...l }));
      },
    };
  }

  license(id: number): { customer: string; license: License; detail: LicenseDetail } | undefined {
    const stored = this.licensesById.get(id);
    return stored && { customer: stored.customer, license: { ...stored.license }, detail: cloneDetail(stored.detail) };
  }

  counts(): { assignments: number; licenses: number } {
    return { assignments: this.assignments.length, licenses: this.licenses.length };
  }

  /**
   * The value `make` gives for `key`, made once for the store as it is now and kept until its next write. For
   * answers that depend only on the store, such as a customer's encoded list (an xlarge one takes a second to
   * encode). The caller bounds the keys: one per list route and customer.
   */
  remember<T>(key: string, make: () => T): T {
    if (this.remembered.has(key)) return this.remembered.get(key) as T;
    const value = make();
    this.remembered.set(key, value);
    return value;
  }

  // --- the one write ---

  /**
   * Generates a licence as the portal does, or says why not. The caller has already checked that the assignment
   * exists, belongs to the caller, and that hwid and date are well formed; this checks the business rules, in the
   * order the portal is assumed to: licences left, expiration not in the past, expiration within `valid_until`.
   */
  generateLicense(input: GenerateLicenseInput, today: string, now: string): GenerateOutcome {
    const stored = this.assignmentsById.get(input.assignmentId);
    if (!stored) return { ok: false, reason: `Product assignment ${input.assignmentId} does not exist` };
    const { assignment } = stored;
    if (assignment.total_license_count !== null && assignment.used_license_count >= assignment.total_license_count) {
      return { ok: false, reason: `No licenses left on product assignment ${assignment.id}` };
    }
    if (input.expirationDate < today) {
      return { ok: false, reason: `Expiration date ${input.expirationDate} is in the past` };
    }
    if (assignment.valid_until !== null && input.expirationDate > assignment.valid_until) {
      return {
        ok: false,
        reason: `Expiration date ${input.expirationDate} is after the product assignment's validity ${assignment.valid_until}`,
      };
    }
    const license: License = {
      id: this.nextLicenseId++,
      product_assignment_id: assignment.id,
      hwid: input.hwid,
      expiration_date: input.expirationDate,
      note: input.note,
      created_at: now,
    };
    const detail: LicenseDetail = {
      id: this.nextDetailId++,
      license_id: license.id,
      file_name: LICENSE_FILE_NAME,
      customer: stored.customer,
      products: [assignment.product_code],
      hwids: [input.hwid],
      expiration_date: input.expirationDate,
      created_at: now,
    };
    const record = { customer: stored.customer, license, detail };
    this.remembered.clear();
    this.licenses.push(record);
    this.licensesById.set(license.id, record);
    stored.licenses.push(license);
    assignment.used_license_count += 1;
    return { ok: true, license: { ...license }, detail: cloneDetail(detail) };
  }

  // --- landmarks ---

  /** Finds the ids of `SeedLandmarks` in the data; throws if a seed lacks one, since tests rely on all of them. */
  landmarks(customer: string, otherCustomer: string, today: string): SeedLandmarks {
    const soon = addDaysTo(today, 30);
    const own = this.assignments.filter((s) => s.customer === customer);
    const ownLicenses = this.licenses.filter((s) => s.customer === customer).map((s) => s.license);
    const firstAssignment = (what: string, test: (s: StoredAssignment) => boolean): number => {
      const found = own.find(test);
      if (!found) throw new Error(`seed has no ${what} assignment for ${customer}`);
      return found.assignment.id;
    };
    const firstLicense = (what: string, test: (l: License) => boolean): number => {
      const found = ownLicenses.find(test);
      if (!found) throw new Error(`seed has no ${what} licence for ${customer}`);
      return found.id;
    };
    const otherAssignment = this.assignments.find((s) => s.customer === otherCustomer);
    const otherLicense = this.licenses.find((s) => s.customer === otherCustomer);
    if (!otherAssignment || !otherLicense) throw new Error(`seed has no records for ${otherCustomer}`);
    return {
      unlimitedAssignmentId: firstAssignment('unlimited', (s) => s.assignment.total_license_count === null),
      exhaustedAssignmentId: firstAssignment(
        'exhausted',
        (s) =>
          s.assignment.total_license_count !== null &&
          s.assignment.used_license_count >= s.assignment.total_license_count,
      ),
      emptyAssignmentId: firstAssignment('empty', (s) => s.licenses.length === 0),
      noValidUntilAssignmentId: firstAssignment('open-ended', (s) => s.assignment.valid_until === null),
      soonValidUntilAssignmentId: firstAssignment(
        'soon-ending',
        (s) =>
          s.assignment.valid_until !== null && s.assignment.valid_until >= today && s.assignment.valid_until <= soon,
      ),
      generatableAssignmentId: firstAssignment(
        'generatable',
        (s) =>
          (s.assignment.total_license_count === null ||
            s.assignment.used_license_count < s.assignment.total_license_count) &&
          (s.assignment.valid_until === null || s.assignment.valid_until >= addDaysTo(today, 365)),
      ),
      universalLicenseId: firstLicense('universal', (l) => l.hwid === null),
      hwidBoundLicenseId: firstLicense('hardware-bound', (l) => l.hwid !== null),
      expiredLicenseId: firstLicense('expired', (l) => l.expiration_date < today),
      soonExpiringLicenseId: firstLicense(
        'soon-expiring',
        (l) => l.expiration_date >= today && l.expiration_date <= soon,
      ),
      nonAsciiNoteLicenseId: firstLicense('non-ASCII note', (l) => l.note !== null && /[^\u0000-\u007f]/.test(l.note)),
      nullNoteLicenseId: firstLicense('null note', (l) => l.note === null),
      otherCustomerAssignmentId: otherAssignment.assignment.id,
      otherCustomerLicenseId: otherLicense.license.id,
    };
  }
}

function cloneDetail(detail: LicenseDetail): LicenseDetail {
  return { ...detail, products: [...detail.products], hwids: [...detail.hwids] };
}

// ---------------------------------------------------------------------------------------------------------
// Calendar helpers shared by the store and the seeds
// ---------------------------------------------------------------------------------------------------------

/** True for `YYYY-MM-DD` (ASCII digits, exactly) naming a day that exists: `2027-02-30` and `2027-2-3` are not. */
export function isCalendarDate(value: string): boolean {
  const match = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1) return false; // Python's datetime has no year 0; strptime refuses it.
  const date = new Date(Date.UTC(2000, month - 1, day));
  date.setUTCFullYear(year);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** The `YYYY-MM-DD` that is `days` after (or before, if negative) the given one. */
export function addDaysTo(date: string, days: number): string {
  const at = new Date(`${date}T00:00:00Z`);
  at.setUTCDate(at.getUTCDate() + days);
  return at.toISOString().slice(0, 10);
}

/** The UTC calendar day of an instant, as `YYYY-MM-DD`. */
export function utcDateOf(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/** An instant as the portal writes it: `YYYY-MM-DDTHH:MM:SSZ`, no fraction. */
export function portalDateTime(instant: Date): string {
  return `${instant.toISOString().slice(0, 19)}Z`;
}
