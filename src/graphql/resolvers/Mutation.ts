/**
 * `Mutation.generateLicense`: input checked before any call, the portal's side-effecting GET sent exactly once
 * (`idempotentGenerate.ts`), and everything the request had loaded forgotten afterwards, so the new licence and
 * counts are seen. The portal client keeps the caller's later reads fresh past the write (`src/portal/readCache.ts`).
 */
import type { LicenseWire } from '../../portal/wireTypes';
import type { MutationResolvers, GenerateLicensePayloadResolvers } from '../../generated/graphql';
import { KeyReusedError } from '../../idempotency/idempotentGenerate';
import { InputError } from '../errors';
import { parseDate, parseId } from '../inputs';

/** The payload as resolved: the new licence and the id of the assignment to read fresh. */
export interface GenerateLicenseResult {
  license: LicenseWire;
  productAssignmentId: number;
}

const MAX_HWID_LENGTH = 128;
const MAX_NOTE_LENGTH = 1000;

export const Mutation: MutationResolvers = {
  async generateLicense(_parent, { input }, { generator, caller, loaders }) {
    const productAssignmentId = parseId(input.productAssignmentId, 'productAssignmentId');
    const hwid = checkHwid(input.hwid);
    const expirationDate = parseDate(input.expirationDate, 'expirationDate');
    const note = checkNote(input.note);
    const idempotencyKey = checkIdempotencyKey(input.idempotencyKey);
    let license: LicenseWire;
    try {
      license = await generator.generate(caller, { productAssignmentId, hwid, expirationDate, note }, idempotencyKey);
    } catch (error) {
      if (error instanceof KeyReusedError) throw new InputError(error.message, 'idempotencyKey');
      throw error;
    }
    // Whatever this request read before is stale now (counts, lists): the rest of the operation reads afresh.
    loaders.clearAll();
    loaders.licenseById.prime(license.id, license);
    return { license, productAssignmentId: license.product_assignment_id };
  },
};

export const GenerateLicensePayload: GenerateLicensePayloadResolvers = {
  license: (result) => result.license,
  productAssignment: (result, _args, { loaders }) => loaders.assignmentById.load(result.productAssignmentId),
};

/**
 * A hardware id: 1 to 128 characters, no whitespace or control characters (the portal's own rule), and none that
 * would not reach the licence as it was meant: invisible formatting characters (general category Cf: zero-width
 * spaces and joiners, bidirectional marks and overrides, the byte-order mark), which make an id that looks like
 * another, and unpaired surrogates, which the portal stores as U+FFFD.
 */
function checkHwid(hwid: string): string {
  if (hwid.length === 0) throw new InputError('`hwid` must not be empty.', 'hwid');
  if ([...hwid].length > MAX_HWID_LENGTH)
    throw new InputError(`\`hwid\` must be at most ${MAX_HWID_LENGTH} characters.`, 'hwid');
  const surrogate = /\p{Cs}/u.exec(hwid)?.[0];
  if (surrogate !== undefined)
    throw new InputError(
      `\`hwid\` must be well-formed Unicode text, but has an unpaired surrogate (${codePointOf(surrogate)}).`,
      'hwid',
    );
  const formatting = /\p{Cf}/u.exec(hwid)?.[0];
  if (formatting !== undefined)
    throw new InputError(
      `\`hwid\` must not contain invisible formatting characters (zero-width, bidirectional or byte-order marks), but has ${codePointOf(formatting)}.`,
      'hwid',
    );
  if (/[\s\p{Cc}]/u.test(hwid))
    throw new InputError('`hwid` must not contain whitespace or control characters.', 'hwid');
  return hwid;
}

/** `U+200B`: a character named by its code point, for a message about an invisible one. */
function codePointOf(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

function checkIdempotencyKey(key: string | null | undefined): string | undefined {
  if (key === null || key === undefined) return undefined;
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new InputError(`\`idempotencyKey\` must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`, 'idempotencyKey');
  }
  return key;
}

function checkNote(note: string | null | undefined): string | undefined {
  if (note === null || note === undefined) return undefined;
  if ([...note].length > MAX_NOTE_LENGTH)
    throw new InputError(`\`note\` must be at most ${MAX_NOTE_LENGTH} characters.`, 'note');
  return note;
}
