/**
 * Generating a licence safely. The portal's generate endpoint is a GET with side effects, so:
 * - the call is sent once, never retried, never merged, never served from a cache, and not tied to the client's
 *   connection (a client that goes away must not turn a made licence into an unknown outcome);
 * - with an `idempotencyKey`, the same caller with the same key gets the first call's licence back and no second
 *   generate call, also when both requests arrive at once; and a retry after a lost answer finds the licence the
 *   lost call made (a new licence of the assignment with the same input) instead of generating a second one.
 *
 * Keys are scoped to the caller by an HMAC of its `Authorization` header under a per-process secret, so one
 * caller's key never returns another's licence and no credential is kept.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { PortalCaller, PortalClient } from '../portal/portalClient';
import { PortalError } from '../portal/portalErrors';
import type { LicenseWire } from '../portal/wireTypes';
import type { KeyRecord, KeyStore } from './keyStore';

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

/** How long a request waits for another with the same key to finish before giving up on it. */
const PENDING_WAIT_MS = 30_000;
const MAX_ROUNDS = 5;

export class LicenseGenerator {
  private readonly secret: Buffer;

  constructor(
    private readonly portal: PortalClient,
    private readonly store: KeyStore,
    secret: Buffer = randomBytes(32),
  ) {
    this.secret = secret;
  }

  /** Generates one licence; with a key, at most one per caller and key. */
  async generate(caller: PortalCaller, input: GenerateInput, idempotencyKey?: string): Promise<LicenseWire> {
    // Not the request's abort signal: once sent, the call runs to its answer so that its outcome is known, also
    // when the client goes away. The operation's deadline still ends it (as OUTCOME_UNKNOWN), so that a portal
    // that trickles its answer cannot hold the request for ever.
    const detached: PortalCaller = { authorization: caller.authorization };
    if (caller.onCall) detached.onCall = caller.onCall;
    if (caller.deadlineSignal) detached.signal = caller.deadlineSignal;
    if (caller.deadline !== undefined) detached.deadline = caller.deadline;
    if (idempotencyKey === undefined) return this.portal.generateLicense(detached, input);

    const key = this.scopedKey(caller.authorization, idempotencyKey);
    const fingerprint = fingerprintOf(input);
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const pending: KeyRecord = { state: 'pending', fingerprint, since: Date.now() };
      const existing = await this.store.claim(key, pending);
      if (!existing) return this.generateHoldingKey(key, fingerprint, detached, input, undefined);
      if (existing.fingerprint !== fingerprint) {
        throw new KeyReusedError(
          'This idempotencyKey was used before with other input; use a new key for a new licence.',
        );
      }
      switch (existing.state) {
        case 'succeeded':
          return existing.license;
        case 'pending':
          await this.store.whenSettled(key, PENDING_WAIT_MS);
          break;
        case 'unknown': {
          const takeOver: KeyRecord = { state: 'pending', fingerprint, since: Date.now() };
          if (await this.store.replace(key, existing, takeOver)) return this.reconcile(key, existing, detached, input);
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
   * Makes the one generate call for a key this request holds. First notes the assignment's licences (unless the
   * caller already knows them), so that if the answer is lost, a retry can tell the licence it made from the rest.
   */
  private async generateHoldingKey(
    key: string,
    fingerprint: string,
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
      license = await this.portal.generateLicense(caller, input);
    } catch (error) {
      if (error instanceof PortalError && error.code === 'OUTCOME_UNKNOWN' && known) {
        await this.store.settle(key, {
          state: 'unknown',
          fingerprint,
          since: Date.now(),
          productAssignmentId: input.productAssignmentId,
          knownLicenseIds: known,
        });
      } else {
        await this.store.release(key);
      }
      throw error;
    }
    await this.store.settle(key, { state: 'succeeded', fingerprint, since: Date.now(), license });
    return license;
  }

  /**
   * A retry of a key whose answer was lost: a new licence of the assignment with the same input is the one the
   * lost call made. None: nothing was made, so generate now. Several: it cannot be told which, so the outcome
   * stays unknown and the user must look.
   */
  private async reconcile(
    key: string,
    lost: Extract<KeyRecord, { state: 'unknown' }>,
    caller: PortalCaller,
    input: GenerateInput,
  ): Promise<LicenseWire> {
    let current: LicenseWire[];
    try {
      current = await this.portal.listLicensesOfAssignment(caller, lost.productAssignmentId);
    } catch (error) {
      await this.store.settle(key, lost);
      throw error;
    }
    const known = new Set(lost.knownLicenseIds);
    const made = current.filter((license) => !known.has(license.id) && sameInput(license, input));
    if (made.length === 1) {
      await this.store.settle(key, {
        state: 'succeeded',
        fingerprint: lost.fingerprint,
        since: Date.now(),
        license: made[0]!,
      });
      return made[0]!;
    }
    if (made.length === 0) {
      return this.generateHoldingKey(
        key,
        lost.fingerprint,
        caller,
        input,
        current.map((license) => license.id),
      );
    }
    await this.store.settle(key, lost);
    throw new PortalError(
      'OUTCOME_UNKNOWN',
      'Several new licences match this request; it cannot be told which one it made.',
      {
        endpoint: 'license.generate',
      },
    );
  }

  private scopedKey(authorization: string | undefined, idempotencyKey: string): string {
    const caller = createHmac('sha256', this.secret)
      .update(authorization ?? '')
      .digest('base64url');
    return `${caller}:${idempotencyKey}`;
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
