/**
 * A faithful emulator of the Innovatrics Customer Portal licensing REST API, for tests, demos and load work.
 *
 * It shares no code with the server on purpose: a test that passes against it proves the server speaks the
 * portal's contract (`docs/portal-contract.md`), not that two halves of one codebase agree with each other.
 *
 * @example
 *   const portal = await startEmulator({ seed: 'demo' });
 *   const res = await fetch(`${portal.url}/api/license/list`, { headers: { authorization: portal.account('demo').authorization } });
 *   portal.faults.add({ kind: 'status', status: 503, route: 'license.generate', times: 1 });
 *   expect(portal.requestLog.byRoute('license.list')).toHaveLength(1);
 *   await portal.close();
 */
import type { AddressInfo } from 'node:net';
import {
  ACME,
  DEMO_ACCOUNTS,
  GLOBEX,
  PortalStore,
  isCalendarDate,
  portalDateTime,
  utcDateOf,
  type DemoAccount,
  type License,
  type LicenseDetail,
  type LicensesOfAssignment,
  type ProductAssignment,
  type SeedLandmarks,
} from './data';
import { FaultSet, type FaultControl } from './faults';
import { licenseFileBytes } from './licenseFile';
import { RecordingLog, type RequestLog } from './requestLog';
import type { RouteName } from './routes';
import { Prng, SEED_NAMES, buildSeed, type SeedName } from './seed';
import { LatencySettings, createPortalServer, type Clock } from './server';

export type { DemoAccount, License, LicenseDetail, ProductAssignment, SeedLandmarks } from './data';
export type { FaultKind, FaultRule } from './faults';
export type { RequestLogEntry } from './requestLog';
export type { RouteName } from './routes';
export { ROUTE_NAMES } from './routes';
export type { SeedName } from './seed';
export { SEED_NAMES } from './seed';

export interface EmulatorOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 'demo'. */
  seed?: SeedName;
  /** Default 1. Varies the generated parts of a seed (and fault probability rolls); the same number, the same data. */
  seedNumber?: number;
  /** Added milliseconds before each answer. Default 0. */
  latencyMs?: number;
  /** The emulator's today, `YYYY-MM-DD`; default: the real UTC date. Seeds and generate's checks use it. */
  today?: string;
}

/**
 * Read access to the emulator's records, for tests to compute what the portal should answer. Every method
 * returns copies, current as of the call (generate's effects included); lists in ascending id order.
 */
interface EmulatorState {
  readonly seed: SeedName;
  readonly seedNumber: number;
  /** The emulator's today, `YYYY-MM-DD`. */
  today(): string;
  /** Notable ids of the data as seeded (they do not move when generate adds licences). */
  landmarks(): SeedLandmarks;
  /** The customer an account belongs to; throws for an unknown username. */
  customerOf(username: string): string;
  /** What each list endpoint answers this account. */
  assignmentsOf(username: string): ProductAssignment[];
  licensesOf(username: string): License[];
  detailsOf(username: string): LicenseDetail[];
  licensesByAssignmentOf(username: string): LicensesOfAssignment[];
  /** Every record, with its owner. */
  allAssignments(): Array<{ customer: string; assignment: ProductAssignment }>;
  allLicenses(): Array<{ customer: string; license: License; detail: LicenseDetail }>;
  /** One record with its owner, or undefined. */
  assignment(id: number): { customer: string; assignment: ProductAssignment; licenses: License[] } | undefined;
  license(id: number): { customer: string; license: License; detail: LicenseDetail } | undefined;
  /** The bytes download answers for a licence, or undefined when there is no such licence. */
  licenseFile(licenseId: number): Buffer | undefined;
  counts(): { assignments: number; licenses: number };
}

export interface Emulator {
  /** e.g. `http://127.0.0.1:41234`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /**
   * `demo` / `demo` and `acme-ops` / `acme-ops` of Acme Security s.r.o., then `globex` / `globex` of
   * Globex Biometrics a.s., in that order, each with a ready `authorization` header value.
   */
  readonly accounts: readonly DemoAccount[];
  /** The demo account with this username; throws a TypeError naming the known ones otherwise. */
  account(username: string): DemoAccount;
  readonly state: EmulatorState;
  readonly requestLog: RequestLog;
  readonly faults: FaultControl;
  /**
   * Added milliseconds before each answer; with `route`, for that route only (overriding the global value).
   * The route's work is done first, then the wait: a client that gives up during it has still generated its licence.
   */
  setLatency(ms: number, route?: RouteName): void;
  /**
   * Test hook: from now on the portal takes only `password` for this account, as after its user changed it in the
   * portal's own pages. `accounts` keep the seeded passwords; `reset()` restores them. Throws a TypeError for an
   * unknown username or an empty password.
   */
  setPassword(username: string, password: string): void;
  /** Reseeds (same options), clears the request log and the faults, restores the starting latency and the passwords. */
  reset(): void;
  /** Closes the server and every connection, keep-alive and in-flight ones included; waits end at once. */
  close(): Promise<void>;
}

/** Starts an emulator and resolves once it listens. Throws a TypeError naming the first bad option. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const settings = validateOptions(options);
  const clock = makeClock(settings.today);
  const lifetime = new AbortController();
  const log = new RecordingLog();
  const latency = new LatencySettings(settings.latencyMs);
  const changedPasswords = new Map<string, string>();

  let faultRolls = new Prng(settings.seedNumber);
  const faults = new FaultSet(() => faultRolls.next());
  let world = seedWorld(settings.seed, settings.seedNumber, clock.today());

  const server = createPortalServer({
    store: () => world.store,
    clock,
    faults,
    log,
    latency,
    lifetime: lifetime.signal,
    changedPasswords,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => console.error('[portal-emulator] server error:', error));
  const port = (server.address() as AddressInfo).port;

  const accountNamed = (username: string): DemoAccount => {
    const account = DEMO_ACCOUNTS.find((a) => a.username === username);
    if (!account)
      throw new TypeError(
        `no demo account is named ${JSON.stringify(username)}; there are: ${DEMO_ACCOUNTS.map((a) => a.username).join(', ')}`,
      );
    return account;
  };
  const customerOf = (username: string): string => accountNamed(username).customer;

  const state: EmulatorState = {
    seed: settings.seed,
    seedNumber: settings.seedNumber,
    today: () => clock.today(),
    landmarks: () => ({ ...world.landmarks }),
    customerOf,
    assignmentsOf: (username) => world.store.assignmentsOf(customerOf(username)),
    licensesOf: (username) => world.store.licensesOf(customerOf(username)),
    detailsOf: (username) => world.store.detailsOf(customerOf(username)),
    licensesByAssignmentOf: (username) => world.store.licensesByAssignmentOf(customerOf(username)),
    allAssignments: () => world.store.allAssignments(),
    allLicenses: () => world.store.allLicenses(),
    assignment: (id) => world.store.assignment(id),
    license: (id) => world.store.license(id),
    licenseFile: (licenseId) => {
      const found = world.store.license(licenseId);
      return found && licenseFileBytes(found.detail);
    },
    counts: () => world.store.counts(),
  };

  let closing: Promise<void> | null = null;
  return {
    url: `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`,
    port,
    host: settings.host,
    accounts: DEMO_ACCOUNTS,
    account: accountNamed,
    state,
    requestLog: log,
    faults,
    setLatency: (ms, route) => latency.set(ms, route),
    setPassword: (username, password) => {
      accountNamed(username);
      if (typeof password !== 'string' || password === '')
        throw new TypeError(
          `setPassword: the password must be a non-empty string, but got: ${JSON.stringify(password)}`,
        );
      changedPasswords.set(username, password);
    },
    reset: () => {
      world = seedWorld(settings.seed, settings.seedNumber, clock.today());
      faultRolls = new Prng(settings.seedNumber);
      faults.clear();
      log.clear();
      latency.reset();
      changedPasswords.clear();
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        lifetime.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

interface Settings {
  port: number;
  host: string;
  seed: SeedName;
  seedNumber: number;
  latencyMs: number;
  today: string | null;
}

function validateOptions(options: EmulatorOptions): Settings {
  const fail = (what: string, got: unknown): never => {
    throw new TypeError(`startEmulator: ${what}, but got: ${JSON.stringify(got)}`);
  };
  const { port = 0, host = '127.0.0.1', seed = 'demo', seedNumber = 1, latencyMs = 0, today } = options;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) fail('port must be an integer 0..65535', port);
  if (typeof host !== 'string' || host === '') fail('host must be a non-empty string', host);
  if (!SEED_NAMES.includes(seed)) fail(`seed must be one of ${SEED_NAMES.join(', ')}`, seed);
  if (!Number.isSafeInteger(seedNumber)) fail('seedNumber must be an integer', seedNumber);
  if (!(Number.isFinite(latencyMs) && latencyMs >= 0))
    fail('latencyMs must be a number of milliseconds >= 0', latencyMs);
  if (today !== undefined && !(typeof today === 'string' && isCalendarDate(today)))
    fail('today must be a date YYYY-MM-DD', today);
  return { port, host, seed, seedNumber, latencyMs, today: today ?? null };
}

/** A fixed `today` keeps the real time of day for `created_at`, so new records still sort after seeded ones. */
function makeClock(fixedToday: string | null): Clock {
  return {
    today: () => fixedToday ?? utcDateOf(new Date()),
    now: () => {
      const now = new Date();
      return fixedToday === null ? portalDateTime(now) : `${fixedToday}${portalDateTime(now).slice(10)}`;
    },
  };
}

function seedWorld(
  seed: SeedName,
  seedNumber: number,
  today: string,
): { store: PortalStore; landmarks: SeedLandmarks } {
  const store = new PortalStore(buildSeed(seed, seedNumber, today));
  return { store, landmarks: store.landmarks(ACME, GLOBEX, today) };
}
