/**
 * The `Date` and `DateTime` scalars. Values from the portal were already validated by the upstream adapter and
 * are served as they came.
 *
 * A `Date` from a client must be a string here, and is checked as a calendar day (`2027-02-30` is refused) by the
 * resolver that uses it, with `parseDate(value, field)`: only there is the field known, and a refusal that names
 * its field (`extensions.field`) and leaves the rest of the operation running serves a frontend better than a
 * whole-request validation error. Every `Date` argument of the schema is checked so before any upstream call.
 */
import { GraphQLScalarType, Kind } from 'graphql';
import { InputError } from './errors';
import { describe } from './inputs';
import { isIsoInstant } from '../portal/wireTypes';

export const DateScalar = new GraphQLScalarType<string, string>({
  name: 'Date',
  description: 'A calendar date, `YYYY-MM-DD`.',
  serialize: (value) => String(value),
  parseValue: (value) => {
    if (typeof value !== 'string')
      throw new InputError(`A Date must be a string YYYY-MM-DD, but got: ${describe(value)}`);
    return value;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw new InputError(`A Date must be a string YYYY-MM-DD, but got a ${ast.kind}.`);
    return ast.value;
  },
});

function parseDateTime(value: unknown): string {
  if (typeof value !== 'string' || !isIsoInstant(value)) {
    throw new InputError(`A DateTime must be ISO 8601 with an offset, but got: ${describe(value)}`);
  }
  return value;
}

export const DateTimeScalar = new GraphQLScalarType<string, string>({
  name: 'DateTime',
  description: 'An instant in ISO 8601 with offset, e.g. `2026-05-02T12:00:00Z`.',
  serialize: (value) => String(value),
  parseValue: parseDateTime,
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw new InputError(`A DateTime must be a string, but got a ${ast.kind}.`);
    return parseDateTime(ast.value);
  },
});
