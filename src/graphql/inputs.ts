/**
 * Checks of client input, made before any upstream call: ids, dates, page sizes.
 * Each failure is an `InputError` (`BAD_USER_INPUT`) whose `field` names the argument as written in the schema.
 */
import { isCalendarDate } from '../portal/wireTypes';
import { positiveIntegerId } from '../portal/endpoints';
import { InputError } from './errors';

/** An `ID` argument as the portal's positive integer id. Accepts `7` and `"7"`; refuses `"07"`, `"-1"`, `"7a"`. */
export function parseId(value: unknown, field: string): number {
  const id = positiveIntegerId(value);
  if (id === undefined)
    throw new InputError(`\`${field}\` must be a positive integer id, but got: ${describe(value)}`, field);
  return id;
}

const MAX_PAGE_SIZE = 1000;

/** `first`: absent means every item; otherwise 0 to 1000. */
export function parseFirst(value: number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > MAX_PAGE_SIZE) {
    throw new InputError(`\`first\` must be between 0 and ${MAX_PAGE_SIZE}, but got: ${value}`, 'first');
  }
  return value;
}

/** A `Date`: exactly `YYYY-MM-DD` and a real calendar day. */
export function parseDate(value: unknown, field = 'date'): string {
  if (typeof value !== 'string' || !isCalendarDate(value)) {
    throw new InputError(`\`${field}\` must be a calendar date YYYY-MM-DD, but got: ${describe(value)}`, field);
  }
  return value;
}

/** Today's date in UTC, `YYYY-MM-DD`; worked out at most once a second (`expired` asks for it per licence). */
export function todayUtc(): string {
  const now = Date.now();
  if (now - today.at >= 1000) today = { at: now, value: new Date(now).toISOString().slice(0, 10) };
  return today.value;
}

let today = { at: 0, value: '' };

/** A short, safe rendering of a rejected value for an error message. */
export function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
