/**
 * The soak's licence ledger: every licence a client meant to generate (an intent, with its idempotency key), what
 * each attempt answered, and the check of the emulator's licences against them once the run is over.
 *
 * An intent's note is `soak <key>` and its hwid unique, so every licence the run created names the intent it
 * belongs to; a created licence that names none, or two that name the same intent, is a violation.
 */

/** One licence a client means to generate; retried with the same key until acknowledged or given up. */
export interface GenerateIntent {
  key: string;
  username: string;
  customer: string;
  productAssignmentId: number;
  hwid: string;
  expirationDate: string;
  note: string;
  /** What each attempt answered: `ok`, an error code, `http <status>` or `no answer`. */
  attempts: string[];
  /** The licence id the server acknowledged, if it did. */
  acknowledgedId?: number;
  /** Whether the acknowledgement came in the final pass, after the run (faults off). */
  acknowledgedInFinalPass?: boolean;
}

/** A licence of the emulator that the run created (id above the seed's highest). */
export interface CreatedLicence {
  id: number;
  customer: string;
  productAssignmentId: number;
  hwid: string | null;
  expirationDate: string;
  note: string | null;
}

/** Answers after which a licence may exist although the client was not told of one. */
const AMBIGUOUS = new Set(['OUTCOME_UNKNOWN', 'UPSTREAM_TIMEOUT', 'no answer']);

export interface LedgerReport {
  intents: number;
  acknowledged: number;
  /** Acknowledged at the first attempt, after retries with the same key, or only in the final pass. */
  acknowledgedFirstTry: number;
  acknowledgedAfterRetries: number;
  acknowledgedInFinalPass: number;
  /** Intents the client gave up on (before any final pass). */
  gaveUp: number;
  /** Created for an intent that was never acknowledged: intended, but its client does not know it exists. */
  unacknowledgedButIntended: number[];
  /** Intents given up with nothing created. */
  givenUpWithNothingMade: number;
  createdLicences: number;
  /** Violations, each a sentence naming ids and keys. Empty: the ledger holds. */
  violations: string[];
  holds: boolean;
}

export function noteOf(key: string): string {
  return `soak ${key}`;
}

/** Checks the licences the run created against what the clients intended and were told. */
export function checkLedger(intents: readonly GenerateIntent[], created: readonly CreatedLicence[]): LedgerReport {
  const violations: string[] = [];
  const intentByNote = new Map(intents.map((intent) => [intent.note, intent]));
  const createdByNote = new Map<string, CreatedLicence[]>();
  for (const licence of created) {
    const intent = licence.note === null ? undefined : intentByNote.get(licence.note);
    if (!intent) {
      violations.push(
        `licence ${licence.id} (${licence.customer}, hwid ${licence.hwid ?? 'none'}) was created but no client asked for it`,
      );
      continue;
    }
    const list = createdByNote.get(licence.note!) ?? [];
    list.push(licence);
    createdByNote.set(licence.note!, list);
  }

  const acknowledgedBy = new Map<number, string>();
  const unacknowledgedButIntended: number[] = [];
  let givenUpWithNothingMade = 0;
  for (const intent of intents) {
    const made = createdByNote.get(intent.note) ?? [];
    if (made.length > 1)
      violations.push(`key ${intent.key} has ${made.length} licences: ${made.map((licence) => licence.id).join(', ')}`);
    for (const licence of made) {
      const wrong = [
        licence.customer !== intent.customer && `customer ${licence.customer}`,
        licence.productAssignmentId !== intent.productAssignmentId && `assignment ${licence.productAssignmentId}`,
        licence.hwid !== intent.hwid && `hwid ${licence.hwid}`,
        licence.expirationDate !== intent.expirationDate && `expiration ${licence.expirationDate}`,
      ].filter(Boolean);
      if (wrong.length > 0)
        violations.push(`licence ${licence.id} of key ${intent.key} differs from its request: ${wrong.join(', ')}`);
    }
    if (intent.acknowledgedId !== undefined) {
      const other = acknowledgedBy.get(intent.acknowledgedId);
      if (other !== undefined)
        violations.push(`licence ${intent.acknowledgedId} was acknowledged to two keys: ${other} and ${intent.key}`);
      acknowledgedBy.set(intent.acknowledgedId, intent.key);
      if (!made.some((licence) => licence.id === intent.acknowledgedId)) {
        violations.push(
          `key ${intent.key} was acknowledged licence ${intent.acknowledgedId}, which the portal does not hold for it`,
        );
      }
      continue;
    }
    if (made.length === 0) {
      givenUpWithNothingMade += 1;
      continue;
    }
    unacknowledgedButIntended.push(...made.map((licence) => licence.id));
    if (!intent.attempts.some((answer) => AMBIGUOUS.has(answer) || answer.startsWith('http '))) {
      violations.push(
        `licence ${made[0]!.id} exists for key ${intent.key}, yet every answer said none was made (${intent.attempts.join(', ')})`,
      );
    }
  }

  const acknowledged = intents.filter((intent) => intent.acknowledgedId !== undefined);
  const inFinalPass = acknowledged.filter((intent) => intent.acknowledgedInFinalPass).length;
  const firstTry = acknowledged.filter(
    (intent) => !intent.acknowledgedInFinalPass && intent.attempts.length === 1,
  ).length;
  return {
    intents: intents.length,
    acknowledged: acknowledged.length,
    acknowledgedFirstTry: firstTry,
    acknowledgedAfterRetries: acknowledged.length - firstTry - inFinalPass,
    acknowledgedInFinalPass: inFinalPass,
    gaveUp: intents.filter((intent) => intent.acknowledgedId === undefined || intent.acknowledgedInFinalPass).length,
    unacknowledgedButIntended,
    givenUpWithNothingMade,
    createdLicences: created.length,
    violations,
    holds: violations.length === 0,
  };
}
