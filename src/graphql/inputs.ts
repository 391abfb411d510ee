/**
 * Checks of client input, made before any upstream call: ids, dates, page sizes, the depth of variables.
 * Each failure of an argument is an `InputError` (`BAD_USER_INPUT`) whose `field` names it as written in the schema.
 */
import { GraphQLError } from 'graphql';
import { isCalendarDate } from '../portal/wireTypes';
import { positiveIntegerId } from '../portal/endpoints';
import { MAX_PAGE_SIZE } from '../schema/schemaModel';
import { ErrorCode, InputError } from './errors';

/** An `ID` argument as the portal's positive integer id. Accepts `7` and `"7"`; refuses `"07"`, `"-1"`, `"7a"`. */
export function parseId(value: unknown, field: string): number {
  const id = positiveIntegerId(value);
  if (id === undefined)
    throw new InputError(`\`${field}\` must be a positive integer id, but got: ${describe(value)}`, field);
  return id;
}

/** `first`: absent means every item; otherwise 0 to `MAX_PAGE_SIZE` (1000). */
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

/** A short, safe rendering of a rejected value for an error message. */
export function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Most levels of lists and objects in one variable's value. This schema's deepest input is two (`$input` holding
 * strings); the bound is far above it, and far below the depth at which a recursive walk (graphql-js's coercion,
 * `JSON.stringify`) runs out of call stack, which a few thousand levels in a 100 KB body reach.
 */
const MAX_VARIABLE_DEPTH = 32;

/**
 * Refuses variables whose values nest lists and objects deeper than `MAX_VARIABLE_DEPTH`: `BAD_USER_INPUT`, HTTP
 * 400, naming the variable. Walked with a stack of its own, so that no depth overflows the call stack here; every
 * walk after this one (the plan, the answer's shape, graphql-js's coercion) meets bounded values only.
 */
export function checkVariableDepth(variables: Readonly<Record<string, unknown>> | undefined): void {
  for (const [name, value] of Object.entries(variables ?? {})) {
    const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      if (typeof next.value !== 'object' || next.value === null) continue;
      if (next.depth > MAX_VARIABLE_DEPTH) throw variableTooDeepError(name);
      for (const item of Array.isArray(next.value) ? next.value : Object.values(next.value))
        pending.push({ value: item, depth: next.depth + 1 });
    }
  }
}

function variableTooDeepError(name: string): GraphQLError {
  return new GraphQLError(
    `Variable "$${name}" nests lists and objects more than ${MAX_VARIABLE_DEPTH} levels deep; at most ${MAX_VARIABLE_DEPTH} are allowed.`,
    {
      extensions: {
        code: ErrorCode.BAD_USER_INPUT,
        reason: 'VARIABLE_TOO_DEEP',
        maxVariableDepth: MAX_VARIABLE_DEPTH,
        http: { status: 400 },
      },
    },
  );
}
