/**
 * Generating a licence safely. The portal's generate endpoint is a GET with side effects, so:
 * - the call is sent once, never retried, never merged, never served from a cache, and not tied to the client's
 *   connection (a client that goes away must not turn a made licence into an unknown outcome);
 * - with an `idempotencyKey`, the same caller with the same key gets the first call's licence back and no second
 *   generate call, also when both requests arrive at once; and a retry after a lost answer finds the licence the
 *   lost call made (a new licence of the assignment with the same input) instead of generating a second one.
 *
 * Keys are scoped to the caller by its key (an HMAC of its credentials, however spelled: `src/http/callerKeys.ts`),
 * so one caller's key never returns another's licence, one caller's keys never push out another's, and no
 * credential is kept.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { PortalCaller, PortalClient } from '../portal/portalClient';
import { PortalError } from '../portal/portalErrors';
import type { LicenseWire } from '../portal/wireTypes';
import type { KeyRecord, KeyStore } from './keyStore';

type PendingRecord = Extract<KeyRecord, { state: 'pending' }>;

export interface GenerateInput {
  productAssignmentId: number;
  hwid: string;
  expirationDate: string;
  note: string | undefined;
}

/** The key was used before with other input: answering the first licence would be wrong, generating anew too. */
export class KeyReusedError extends Error {
  override readonly name = 'KeyReusedError';
}

/** Without an operation deadline, how long a request waits for another with the same key. */
const PENDING_WAIT_MS = 30_000;
const MAX_ROUNDS = 5;
/** Default lease of a claim: how long its owner may take before a retry may reconcile in its place. */
const DEFAULT_LEASE_MS = 60_000;

export interface LicenseGeneratorOptions {
  /** How long a claim is its owner's before a retry may take it over (longer than any generate call can take). */
  leaseMs?: number;
  /** The clock of the claims' leases and times (epoch ms); `Date.now` unless given. */
  now?: () => number;
}

export class LicenseGenerator {
  private readonly leaseMs: number;
  private readonly now: () => number;

  constructor(
    private readonly portal: PortalClient,
    private readonly store: KeyStore,
    options: LicenseGeneratorOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.now = options.now ?? Date.now;
  }

  /** Generates one licence; with a key, at most one per caller and key. */
  async generate(caller: PortalCaller, input: GenerateInput, idempotencyKey?: string): Promise<LicenseWire> {
    // Not the request's abort signal: once sent, the call runs to its answer so that its outcome is known, also
    // when the client goes away. The operation's deadline still ends it (as OUTCOME_UNKNOWN), so that a portal
    // that trickles its answer cannot hold the request for ever.
    const detached: PortalCaller = { authorization: caller.authorization, callerKey: caller.callerKey };
    if (caller.onCall) detached.onCall = caller.onCall;
    if (caller.deadlineSignal) detached.signal = caller.deadlineSignal;
    if (caller.deadline !== undefined) detached.deadline = caller.deadline;
    if (caller.span) detached.span = caller.span;
    if (idempotencyKey === undefined) return this.portal.generateLicense(detached, input);
    // The key's steps, as events of the operation's span when traced (never the key itself: a client's value).
    const step = (name: string, attributes?: Record<string, string | number>) =>
      caller.span?.addEvent(`idempotency.${name}`, attributes);

    const key = `${caller.callerKey}:${idempotencyKey}`;
    const fingerprint = fingerprintOf(input);
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const claim = this.newClaim(fingerprint);
      const existing = await this.store.claim(key, claim);
      if (!existing) {
        step('claimed', { round });
        return this.generateHoldingKey(key, claim, detached, input, undefined);
      }
      if (existing.fingerprint !== fingerprint) {
        throw new KeyReusedError(
          'This idempotencyKey was used before with other input; use a new key for a new licence.',
        );
      }
      switch (existing.state) {
        case 'succeeded':
          step('replayed', { 'license.id': existing.license.id });
          return existing.license;
        case 'pending': {
          if (existing.leaseUntil > this.now()) {
            // Another request (here or on another replica) holds the key: wait for its outcome.
            const waitMs = detached.deadline === undefined ? PENDING_WAIT_MS : detached.deadline - performance.now();
            step('waiting', { round });
            await this.store.whenSettled(key, Math.max(0, waitMs));
            step('waited', { round });
            break;
          }
          // Its lease ran out: its owner died or hangs. Take over; if it had noted the licences before its call,
          // the call may have been made, so reconcile as after a lost answer; if not, it never sent one.
          if (existing.knownLicenseIds === undefined || existing.productAssignmentId === undefined) {
            const takeOver = this.newClaim(fingerprint);
            if (!(await this.store.replace(key, existing, takeOver))) break;
            step('took_over', { round });
            return this.generateHoldingKey(key, takeOver, detached, input, undefined);
          }
          const lost = { productAssignmentId: existing.productAssignmentId, knownLicenseIds: existing.knownLicenseIds };
          const takeOver = this.newClaim(fingerprint, lost);
          if (!(await this.store.replace(key, existing, takeOver))) break;
          step('reconciling', { round, after: 'lease_expired' });
          return this.reconcile(key, takeOver, lost, detached, input);
        }
        case 'unknown': {
          const lost = { productAssignmentId: existing.productAssignmentId, knownLicenseIds: existing.knownLicenseIds };
          const takeOver = this.newClaim(fingerprint, lost);
          if (await this.store.replace(key, existing, takeOver)) {
            step('reconciling', { round, after: 'outcome_unknown' });
            return this.reconcile(key, takeOver, lost, detached, input);
          }
          break;
        }
        default: {
          const unreachable: never = existing;
          throw new Error(`Unknown key state: ${JSON.stringify(unreachable)}`);
        }
      }
    }
    throw new PortalError(
      'UNAVAILABLE',
      'Another request with this idempotencyKey is still running; try again shortly.',
      {
        endpoint: 'license.generate',
      },
    );
  }

  /**
   * A new claim. One that takes over a call that may have been made carries that call's noted licences (`lost`),
   * so that should this claim, too, be lost (its owner dies, or the store's answer to the takeover is lost), the
   * next takeover still reconciles instead of taking the key for one that never sent a call. (The soak across two
   * replicas with Redis restarted found this: such a takeover made a second licence.)
   */
  private newClaim(
    fingerprint: string,
    lost?: { productAssignmentId: number; knownLicenseIds: number[] },
  ): PendingRecord {
    const now = this.now();
    return { state: 'pending', fingerprint, since: now, owner: randomUUID(), leaseUntil: now + this.leaseMs, ...lost };
  }

  /**
   * Makes the one generate call for a key this request holds. First notes the assignment's licences in the claim
   * (renewing its lease), so that if the answer is lost, or this process dies, a retry can tell the licence the
   * call made from the rest. A claim lost before the call (taken over after its lease) makes no call.
   */
  private async generateHoldingKey(
    key: string,
    claim: PendingRecord,
    caller: PortalCaller,
    input: GenerateInput,
    knownLicenseIds: number[] | undefined,
  ): Promise<LicenseWire> {
    let known = knownLicenseIds;
    let license: LicenseWire;
    try {
      known ??= (await this.portal.listLicensesOfAssignment(caller, input.productAssignmentId)).map(
        (existing) => existing.id,
      );
      const noted: PendingRecord = {
        ...claim,
        leaseUntil: this.now() + this.leaseMs,
        productAssignmentId: input.productAssignmentId,
        knownLicenseIds: known,
      };
      if (!(await this.store.settle(key, claim.owner, noted))) {
        throw new PortalError(
          'UNAVAILABLE',
          'This idempotencyKey was taken over by a retry; no licence was generated here.',
          {
            endpoint: 'license.generate',
          },
        );
      }
    } catch (error) {
      await this.store.release(key, claim.owner).catch(() => undefined);
      throw error;
    }
    try {
      license = await this.portal.generateLicense(caller, input);
    } catch (error) {
      const record: KeyRecord | undefined =
        error instanceof PortalError && error.code === 'OUTCOME_UNKNOWN'
          ? {
              state: 'unknown',
              fingerprint: claim.fingerprint,
              since: this.now(),
              productAssignmentId: input.productAssignmentId,
              knownLicenseIds: known,
            }
          : undefined;
      // A store that fails now leaves the noted claim: after its lease, a retry reconciles. Never mask the error.
      if (record) await this.store.settle(key, claim.owner, record).catch(() => false);
      else await this.store.release(key, claim.owner).catch(() => undefined);
      throw error;
    }
    // The licence exists whatever the store says now; a failed settle leaves the noted claim to be reconciled.
    await this.store
      .settle(key, claim.owner, { state: 'succeeded', fingerprint: claim.fingerprint, since: this.now(), license })
      .catch(() => false);
    return license;
  }

  /**
   * A retry of a key whose answer was lost: a new licence of the assignment with the same input is the one the
   * lost call made. None: nothing was made, so generate now. Several: it cannot be told which, so the outcome
   * stays unknown and the user must look.
   */
  private async reconcile(
    key: string,
    claim: PendingRecord,
    lost: { productAssignmentId: number; knownLicenseIds: number[] },
    caller: PortalCaller,
    input: GenerateInput,
  ): Promise<LicenseWire> {
    const unknown: KeyRecord = { state: 'unknown', fingerprint: claim.fingerprint, since: this.now(), ...lost };
    let current: LicenseWire[];
    try {
      current = await this.portal.listLicensesOfAssignment(caller, lost.productAssignmentId);
    } catch (error) {
      await this.store.settle(key, claim.owner, unknown).catch(() => false);
      throw error;
    }
    const known = new Set(lost.knownLicenseIds);
    const made = current.filter((license) => !known.has(license.id) && sameInput(license, input));
    caller.span?.addEvent('idempotency.reconciled', { 'licenses.matching': made.length });
    if (made.length === 1) {
      const license = made[0]!;
      // The lost call's process may have died before its reads moved on past the licence: move them on here.
      await this.portal.noteWrite(caller);
      await this.store
        .settle(key, claim.owner, { state: 'succeeded', fingerprint: claim.fingerprint, since: this.now(), license })
        .catch(() => false);
      return license;
    }
    if (made.length === 0) {
      return this.generateHoldingKey(
        key,
        claim,
        caller,
        input,
        current.map((license) => license.id),
      );
    }
    await this.store.settle(key, claim.owner, unknown).catch(() => false);
    throw new PortalError(
      'OUTCOME_UNKNOWN',
      'Several new licences match this request; it cannot be told which one it made.',
      {
        endpoint: 'license.generate',
      },
    );
  }
}

function fingerprintOf(input: GenerateInput): string {
  const canonical = JSON.stringify([input.productAssignmentId, input.hwid, input.expirationDate, input.note ?? null]);
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The portal stores an empty note as none. */
function sameInput(license: LicenseWire, input: GenerateInput): boolean {
  return (
    license.product_assignment_id === input.productAssignmentId &&
    license.hwid === input.hwid &&
    license.expiration_date === input.expirationDate &&
    (license.note ?? '') === (input.note ?? '')
  );
}
