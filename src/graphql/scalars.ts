/**
 * The `Date` and `DateTime` scalars. A `Date` from a client is checked strictly (`2027-02-30` is refused);
 * values from the portal were already validated by the upstream adapter and are served as they came.
 */
import { GraphQLScalarType, Kind } from 'graphql';
import { InputError } from './errors';
import { describe, parseDate } from './inputs';

export const DateScalar = new GraphQLScalarType<string, string>({
  name: 'Date',
  description: 'A calendar date, `YYYY-MM-DD`.',
  serialize: (value) => String(value),
  parseValue: (value) => parseDate(value, 'Date'),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw new InputError(`A Date must be a string YYYY-MM-DD, but got a ${ast.kind}.`);
    return parseDate(ast.value, 'Date');
  },
});

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function parseDateTime(value: unknown): string {
  if (typeof value !== 'string' || !ISO_INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
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
