/**
 * The emulated portal's seeds: 'demo' (small, hand-written, every case the contract names), 'large' (tens of
 * assignments, thousands of licences, for load work) and 'xlarge' (the large seed ten times over: a customer with
 * years of history, whose licence list is about 10 MB).
 *
 * Seeding is deterministic: the same seed name, seed number and `today` give the same records, byte for byte.
 * Dates are relative to `today`, so that expired and soon-expiring licences exist whenever the emulator runs.
 */
import {
  ACME,
  GLOBEX,
  LICENSE_FILE_NAME,
  addDaysTo,
  portalDateTime,
  type License,
  type LicenseDetail,
  type ProductAssignment,
  type SeedData,
} from './data';

export const SEED_NAMES = ['demo', 'large', 'xlarge'] as const;
export type SeedName = (typeof SEED_NAMES)[number];

/** The first id of a seeded licence; details start far above, so a detail id is never mistaken for a licence id. */
const FIRST_LICENSE_ID = 1001;
const FIRST_DETAIL_ID = 88001;

export function buildSeed(name: SeedName, seedNumber: number, today: string): SeedData {
  const prng = new Prng(seedNumber);
  switch (name) {
    case 'demo':
      return demoSeed(prng, today);
    case 'large':
      return generatedSeed(LARGE_SHAPE, prng, today);
    case 'xlarge':
      return generatedSeed(XLARGE_SHAPE, prng, today);
    default:
      throw new UnreachableSeedError(name);
  }
}

class UnreachableSeedError extends Error {
  constructor(value: never) {
    super(`unknown seed: ${String(value)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// 'demo': hand-written so that its ids can be named in docs and tests
// ---------------------------------------------------------------------------------------------------------

interface AssignmentRow {
  id: number;
  customer: string;
  product: Product;
  total: number | null;
  /** Days from today, or null for no upper bound. */
  validUntilInDays: number | null;
  note: string | null;
  createdDaysAgo: number;
}

/** `RANDOM_HWID` rows get a hardware id from the seed's generator, so seed numbers vary the data a little. */
const RANDOM_HWID = Symbol('random hwid');

interface LicenseRow {
  assignmentId: number;
  createdDaysAgo: number;
  hwid: string | null | typeof RANDOM_HWID;
  expiresInDays: number;
  note: string | null;
}

interface Product {
  code: string;
  name: string;
}

const IFACE: Product = { code: 'iface', name: 'IFace SDK' };
const IFACE_LIVENESS: Product = { code: 'iface-liveness', name: 'IFace Passive Liveness' };
const ISMARTCORE: Product = { code: 'ismartcore', name: 'ISmartCore' };
const DOT_CORE: Product = { code: 'dot-core', name: 'DOT Core Server' };
const DOT_DOCUMENT: Product = { code: 'dot-document', name: 'DOT Document' };
const DOT_FACE: Product = { code: 'dot-face', name: 'DOT Face' };
const IDKIT: Product = { code: 'idkit', name: 'IDKit Fingerprint SDK' };
const SMARTFACE: Product = { code: 'smartface', name: 'SmartFace Platform' };
const PRODUCTS: readonly Product[] = [
  IFACE,
  IFACE_LIVENESS,
  ISMARTCORE,
  DOT_CORE,
  DOT_DOCUMENT,
  DOT_FACE,
  IDKIT,
  SMARTFACE,
];

/**
 * Acme: 1 (room left), 2 (unlimited), 4 (exhausted, no valid_until), 5 (valid_until in 20 days), 7 (empty,
 * no valid_until), 8. Globex: 3, 6 (unlimited), 9 (exhausted). The owners interleave so that 403s are real.
 */
const DEMO_ASSIGNMENTS: readonly AssignmentRow[] = [
  {
    id: 1,
    customer: ACME,
    product: IFACE,
    total: 25,
    validUntilInDays: 540,
    note: 'Production, royalty free',
    createdDaysAgo: 700,
  },
  {
    id: 2,
    customer: ACME,
    product: IFACE_LIVENESS,
    total: null,
    validUntilInDays: 365,
    note: null,
    createdDaysAgo: 650,
  },
  {
    id: 3,
    customer: GLOBEX,
    product: IFACE,
    total: 10,
    validUntilInDays: 300,
    note: 'Access control',
    createdDaysAgo: 640,
  },
  {
    id: 4,
    customer: ACME,
    product: ISMARTCORE,
    total: 4,
    validUntilInDays: null,
    note: 'Pilot – Bratislava HQ',
    createdDaysAgo: 600,
  },
  {
    id: 5,
    customer: ACME,
    product: DOT_CORE,
    total: 10,
    validUntilInDays: 20,
    note: 'Renewal pending',
    createdDaysAgo: 550,
  },
  { id: 6, customer: GLOBEX, product: DOT_CORE, total: null, validUntilInDays: null, note: null, createdDaysAgo: 500 },
  { id: 7, customer: ACME, product: IFACE, total: 5, validUntilInDays: null, note: null, createdDaysAgo: 90 },
  {
    id: 8,
    customer: ACME,
    product: DOT_DOCUMENT,
    total: 12,
    validUntilInDays: 200,
    note: 'Mobile onboarding app',
    createdDaysAgo: 450,
  },
  {
    id: 9,
    customer: GLOBEX,
    product: IFACE_LIVENESS,
    total: 2,
    validUntilInDays: 100,
    note: 'Trial',
    createdDaysAgo: 300,
  },
];

/**
 * In creation order; licence ids are 1001, 1002, … down this table (so 1004 is Globex's, between Acme's).
 * Each expiration stays within its assignment's valid_until and after its creation day.
 */
const DEMO_LICENSES: readonly LicenseRow[] = [
  { assignmentId: 1, createdDaysAgo: 680, hwid: 'Apsh8svsn3/3xyID', expiresInDays: -200, note: 'Lobby camera 1' },
  { assignmentId: 1, createdDaysAgo: 670, hwid: 'IM0000ffc535fc60', expiresInDays: 300, note: 'Lobby camera 2' },
  { assignmentId: 2, createdDaysAgo: 640, hwid: null, expiresInDays: 330, note: 'Kubernetes cluster (prod)' },
  { assignmentId: 3, createdDaysAgo: 630, hwid: 'Gx7+Qm2pL0aZr9Tk', expiresInDays: 250, note: 'Gate A' },
  { assignmentId: 1, createdDaysAgo: 610, hwid: 'Zr0q+8bW/t1Lm4Ke', expiresInDays: -30, note: 'Vstupná kamera 2' },
  { assignmentId: 4, createdDaysAgo: 590, hwid: 'IM0000a3b4c5d6e7', expiresInDays: 400, note: null },
  { assignmentId: 2, createdDaysAgo: 560, hwid: null, expiresInDays: -5, note: null },
  { assignmentId: 4, createdDaysAgo: 540, hwid: 'Kp2/vX9+yR4sW1nQ', expiresInDays: 14, note: 'Server room – rack 3' },
  { assignmentId: 5, createdDaysAgo: 530, hwid: 'IM00001f2e3d4c5b', expiresInDays: 10, note: 'Onboarding API node 1' },
  { assignmentId: 6, createdDaysAgo: 480, hwid: null, expiresInDays: 700, note: null },
  { assignmentId: 1, createdDaysAgo: 470, hwid: 'Qw3rTy+u/I0pAs5D', expiresInDays: 25, note: null },
  { assignmentId: 8, createdDaysAgo: 440, hwid: 'Ab9/Cd8+Ef7Gh6Ij', expiresInDays: 180, note: 'Android build farm' },
  { assignmentId: 3, createdDaysAgo: 430, hwid: 'IM0000c0ffee1234', expiresInDays: -60, note: 'Gate B' },
  { assignmentId: 4, createdDaysAgo: 400, hwid: 'Mn5+Op4/Qr3St2Uv', expiresInDays: -1, note: 'Turniket č. 4' },
  { assignmentId: 2, createdDaysAgo: 380, hwid: 'IM00009988776655', expiresInDays: 360, note: 'Recepcia – tablet' },
  { assignmentId: 8, createdDaysAgo: 360, hwid: null, expiresInDays: 150, note: null },
  { assignmentId: 1, createdDaysAgo: 350, hwid: RANDOM_HWID, expiresInDays: 400, note: 'Parkovisko – vjazd' },
  { assignmentId: 5, createdDaysAgo: 340, hwid: null, expiresInDays: 20, note: null },
  { assignmentId: 6, createdDaysAgo: 320, hwid: 'Rt6/Yu7+Io8Pa9Sd', expiresInDays: 30, note: 'Warehouse' },
  { assignmentId: 4, createdDaysAgo: 310, hwid: RANDOM_HWID, expiresInDays: 500, note: null },
  { assignmentId: 8, createdDaysAgo: 290, hwid: RANDOM_HWID, expiresInDays: 120, note: 'QA device pool' },
  { assignmentId: 9, createdDaysAgo: 280, hwid: RANDOM_HWID, expiresInDays: 90, note: null },
  { assignmentId: 1, createdDaysAgo: 260, hwid: null, expiresInDays: 540, note: 'Docker – staging' },
  { assignmentId: 2, createdDaysAgo: 240, hwid: RANDOM_HWID, expiresInDays: 3, note: null },
  { assignmentId: 8, createdDaysAgo: 220, hwid: RANDOM_HWID, expiresInDays: -15, note: 'iOS test iPhone 12' },
  { assignmentId: 3, createdDaysAgo: 200, hwid: RANDOM_HWID, expiresInDays: 120, note: 'Gate C' },
  { assignmentId: 1, createdDaysAgo: 180, hwid: RANDOM_HWID, expiresInDays: 200, note: 'Kamera – sklad' },
  { assignmentId: 5, createdDaysAgo: 160, hwid: RANDOM_HWID, expiresInDays: 7, note: 'Onboarding API node 2' },
  { assignmentId: 8, createdDaysAgo: 150, hwid: RANDOM_HWID, expiresInDays: 190, note: null },
  { assignmentId: 2, createdDaysAgo: 140, hwid: RANDOM_HWID, expiresInDays: 300, note: 'Büro Wien' },
  { assignmentId: 3, createdDaysAgo: 130, hwid: null, expiresInDays: 280, note: null },
  { assignmentId: 1, createdDaysAgo: 120, hwid: RANDOM_HWID, expiresInDays: 60, note: null },
  { assignmentId: 8, createdDaysAgo: 110, hwid: RANDOM_HWID, expiresInDays: 200, note: 'Pobočka Košice' },
  { assignmentId: 9, createdDaysAgo: 100, hwid: RANDOM_HWID, expiresInDays: 95, note: 'Trial kiosk' },
  { assignmentId: 2, createdDaysAgo: 80, hwid: null, expiresInDays: 365, note: null },
  { assignmentId: 1, createdDaysAgo: 60, hwid: RANDOM_HWID, expiresInDays: 100, note: 'Lobby camera 3' },
  { assignmentId: 8, createdDaysAgo: 50, hwid: RANDOM_HWID, expiresInDays: 30, note: null },
  { assignmentId: 3, createdDaysAgo: 40, hwid: RANDOM_HWID, expiresInDays: 299, note: null },
  { assignmentId: 8, createdDaysAgo: 30, hwid: RANDOM_HWID, expiresInDays: 90, note: 'Vstupná kamera 5' },
  { assignmentId: 1, createdDaysAgo: 20, hwid: 'IM0000ffc535fc61', expiresInDays: 365, note: null },
  { assignmentId: 6, createdDaysAgo: 15, hwid: RANDOM_HWID, expiresInDays: 400, note: 'Sklad Žilina' },
];

function demoSeed(prng: Prng, today: string): SeedData {
  const rows = new Map(DEMO_ASSIGNMENTS.map((row) => [row.id, row]));
  const usedCounts = new Map<number, number>();
  for (const row of DEMO_LICENSES) usedCounts.set(row.assignmentId, (usedCounts.get(row.assignmentId) ?? 0) + 1);

  const assignments = DEMO_ASSIGNMENTS.map((row) => ({
    customer: row.customer,
    assignment: {
      id: row.id,
      product_name: row.product.name,
      product_code: row.product.code,
      total_license_count: row.total,
      used_license_count: usedCounts.get(row.id) ?? 0,
      valid_until: row.validUntilInDays === null ? null : addDaysTo(today, row.validUntilInDays),
      note: row.note,
      created_at: instantOn(addDaysTo(today, -row.createdDaysAgo), officeSecond(prng)),
    } satisfies ProductAssignment,
  }));

  let detailId = FIRST_DETAIL_ID;
  const licenses = DEMO_LICENSES.map((row, index) => {
    const owner = rows.get(row.assignmentId)!;
    const license: License = {
      id: FIRST_LICENSE_ID + index,
      product_assignment_id: row.assignmentId,
      hwid: row.hwid === RANDOM_HWID ? randomHwid(prng) : row.hwid,
      expiration_date: addDaysTo(today, row.expiresInDays),
      note: row.note,
      created_at: instantOn(addDaysTo(today, -row.createdDaysAgo), officeSecond(prng)),
    };
    const detail = detailOf(license, detailId, owner.customer, owner.product.code);
    detailId += prng.int(1, 4);
    return { license, detail };
  });
  return { assignments, licenses };
}

// ---------------------------------------------------------------------------------------------------------
// 'large' and 'xlarge': generated, for load work
// ---------------------------------------------------------------------------------------------------------

/** How many assignments and licences each customer of a generated seed holds. */
type SeedShape = Record<typeof ACME | typeof GLOBEX, { assignments: number; licenses: number }>;

const LARGE_SHAPE: SeedShape = {
  [ACME]: { assignments: 40, licenses: 5000 },
  [GLOBEX]: { assignments: 8, licenses: 600 },
};

/** Ten times the large seed: what a customer's list costs when it only grows. */
const XLARGE_SHAPE: SeedShape = {
  [ACME]: { assignments: 400, licenses: 50_000 },
  [GLOBEX]: { assignments: 80, licenses: 6000 },
};

/** The first Acme assignments (in id order) take these roles, so every landmark exists whatever the seed number. */
type AssignmentRole = 'unlimited' | 'exhausted' | 'noValidUntil' | 'soonValidUntil' | 'empty' | 'generatable' | 'any';
const FORCED_ROLES: readonly AssignmentRole[] = [
  'unlimited',
  'exhausted',
  'noValidUntil',
  'soonValidUntil',
  'empty',
  'generatable',
];

const NOTE_TEMPLATES: readonly string[] = [
  'Vstupná kamera #',
  'Lobby camera #',
  'Turniket č. #',
  'Recepcia – tablet #',
  'Büro Wien #',
  'Pobočka Košice #',
  'Parkovisko – vjazd #',
  'Server room – rack #',
  'Kiosk #',
  'QA device pool #',
  'Gate #',
  'Kubernetes node #',
];

function generatedSeed(shape: SeedShape, prng: Prng, today: string): SeedData {
  // Owners in id order: Acme first, the rest shuffled, so that Globex ids sit between Acme ids.
  const acmeCount = shape[ACME].assignments;
  const globexCount = shape[GLOBEX].assignments;
  const owners = [
    ACME,
    ...prng.shuffle([...Array<string>(acmeCount - 1).fill(ACME), ...Array<string>(globexCount).fill(GLOBEX)]),
  ];

  let createdDaysAgo = 1200;
  let acmeSeen = 0;
  const planned = owners.map((customer, index) => {
    const role: AssignmentRole = customer === ACME ? (FORCED_ROLES[acmeSeen++] ?? 'any') : 'any';
    createdDaysAgo -= prng.int(5, 20);
    return { id: index + 1, customer, role, createdDaysAgo, product: prng.pick(PRODUCTS) };
  });

  // How many licences each assignment holds: a random share of its customer's total; empty ones hold none.
  const counts = new Map<number, number>();
  for (const customer of [ACME, GLOBEX] as const) {
    const mine = planned.filter((p) => p.customer === customer);
    const weights = mine.map((p) => (p.role === 'empty' ? 0 : 0.2 + prng.next() * 1.8));
    const sum = weights.reduce((a, b) => a + b, 0);
    const target = shape[customer].licenses;
    let given = 0;
    mine.forEach((p, i) => {
      const count = Math.floor((target * weights[i]!) / sum);
      counts.set(p.id, count);
      given += count;
    });
    const first = mine.find((p) => p.role !== 'empty')!;
    counts.set(first.id, counts.get(first.id)! + (target - given));
  }

  const assignments = planned.map((p) => {
    const used = counts.get(p.id)!;
    return {
      customer: p.customer,
      assignment: {
        id: p.id,
        product_name: p.product.name,
        product_code: p.product.code,
        total_license_count: largeTotal(prng, p.role, used),
        used_license_count: used,
        valid_until: largeValidUntil(prng, p.role, today),
        note: prng.chance(0.4)
          ? null
          : `${p.product.name} – ${prng.pick(['production', 'staging', 'pilot', 'lab', 'pobočka Brno'])}`,
        created_at: instantOn(addDaysTo(today, -p.createdDaysAgo), officeSecond(prng)),
      } satisfies ProductAssignment,
      createdDaysAgo: p.createdDaysAgo,
    };
  });

  // Licences are created at random moments between their assignment's creation and yesterday, then numbered in
  // creation order (with the odd gap, as a real table has), so both customers' ids interleave.
  const drafts: Array<{ createdMs: number; assignment: ProductAssignment; customer: string }> = [];
  const todayMs = Date.parse(`${today}T00:00:00Z`);
  for (const { customer, assignment, createdDaysAgo: ago } of assignments) {
    for (let i = 0; i < assignment.used_license_count; i += 1) {
      const fromMs = todayMs - ago * DAY_MS + DAY_MS;
      const createdMs = fromMs + Math.floor(prng.next() * (todayMs - DAY_MS - fromMs));
      drafts.push({ createdMs, assignment, customer });
    }
  }
  drafts.sort((a, b) => a.createdMs - b.createdMs);

  let licenseId = FIRST_LICENSE_ID;
  let detailId = FIRST_DETAIL_ID;
  const licenses = drafts.map(({ createdMs, assignment, customer }) => {
    const createdDay = new Date(createdMs).toISOString().slice(0, 10);
    let expiration = addDaysTo(createdDay, prng.int(30, 1100));
    if (assignment.valid_until !== null && expiration > assignment.valid_until) expiration = assignment.valid_until;
    const license: License = {
      id: licenseId,
      product_assignment_id: assignment.id,
      hwid: prng.chance(0.12) ? null : randomHwid(prng),
      expiration_date: expiration,
      note: prng.chance(0.35) ? null : prng.pick(NOTE_TEMPLATES).replace('#', String(prng.int(1, 40))),
      created_at: portalDateTime(new Date(createdMs)),
    };
    const detail = detailOf(license, detailId, customer, assignment.product_code);
    licenseId += prng.chance(0.03) ? prng.int(2, 6) : 1;
    detailId += prng.int(1, 3);
    return { license, detail };
  });

  return { assignments: assignments.map(({ customer, assignment }) => ({ customer, assignment })), licenses };
}

function largeTotal(prng: Prng, role: AssignmentRole, used: number): number | null {
  switch (role) {
    case 'unlimited':
      return null;
    case 'exhausted':
      return used;
    case 'generatable':
      return used + 500;
    case 'noValidUntil':
    case 'soonValidUntil':
    case 'empty':
      return used + prng.int(5, 50);
    case 'any':
      return prng.chance(0.2) ? null : used + (prng.chance(0.2) ? 0 : prng.int(1, 40));
    default:
      throw new UnreachableRoleError(role);
  }
}

function largeValidUntil(prng: Prng, role: AssignmentRole, today: string): string | null {
  switch (role) {
    case 'noValidUntil':
    case 'generatable':
      return null;
    case 'soonValidUntil':
      return addDaysTo(today, prng.int(5, 25));
    case 'unlimited':
    case 'exhausted':
    case 'empty':
      return addDaysTo(today, prng.int(400, 900));
    case 'any':
      return prng.chance(0.25) ? null : addDaysTo(today, prng.int(60, 1000));
    default:
      throw new UnreachableRoleError(role);
  }
}

class UnreachableRoleError extends Error {
  constructor(value: never) {
    super(`unknown assignment role: ${String(value)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------------------

const DAY_MS = 24 * 60 * 60 * 1000;
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** A hardware id as seen in the wild: 16 base64-alphabet characters, or `IM0000` and 10 hex digits. */
function randomHwid(prng: Prng): string {
  if (prng.chance(0.4)) {
    let hex = '';
    for (let i = 0; i < 10; i += 1) hex += '0123456789abcdef'[prng.int(0, 15)];
    return `IM0000${hex}`;
  }
  let id = '';
  for (let i = 0; i < 16; i += 1) id += BASE64_ALPHABET[prng.int(0, 63)];
  return id;
}

function detailOf(license: License, id: number, customer: string, productCode: string): LicenseDetail {
  return {
    id,
    license_id: license.id,
    file_name: LICENSE_FILE_NAME,
    customer,
    products: [productCode],
    hwids: license.hwid === null ? [] : [license.hwid],
    expiration_date: license.expiration_date,
    created_at: license.created_at,
  };
}

/** A second of the day between 07:00 and 18:59, when people at the customer generate licences. */
function officeSecond(prng: Prng): number {
  return prng.int(7 * 3600, 19 * 3600 - 1);
}

function instantOn(day: string, secondOfDay: number): string {
  return portalDateTime(new Date(Date.parse(`${day}T00:00:00Z`) + secondOfDay * 1000));
}

/**
 * A small seeded generator (mulberry32): the emulator's own, so seeds never change with a library's version.
 * Not for anything secret.
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    // Fold the high bits in too, so that seeds beyond 32 bits still differ.
    this.state = ((seed >>> 0) ^ Math.floor(seed / 0x100000000) ^ 0x9e3779b9) >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i -= 1) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
