/**
 * The error formatter: every error leaves with a code of the public table; an unexpected one is masked as
 * "Unexpected error." and its detail goes to the log only.
 */
import { GraphQLError } from 'graphql';
import { createErrorFormatter, InputError } from '../../src/graphql/errors';
import { PortalError } from '../../src/portal/portalErrors';
import { fileNameOf } from '../../src/portal/portalClient';

function formatterWithLog() {
  const logged: Array<{ details: Record<string, unknown>; message: string }> = [];
  const format = createErrorFormatter(
    { error: (details, message) => logged.push({ details, message }) },
    { suggestions: true },
  );
  return { format, logged };
}

/** How Apollo hands a resolver's error to the formatter: wrapped in a GraphQLError with a path. */
function fromResolver(original: Error) {
  const wrapped = new GraphQLError(original.message, { path: ['license'], originalError: original });
  return [{ message: original.message, path: ['license'] }, wrapped] as const;
}

test('an unexpected error is masked: a generic message, INTERNAL_SERVER_ERROR, the detail only in the log', () => {
  const { format, logged } = formatterWithLog();
  const secret = new TypeError("Cannot read properties of undefined (reading 'id') at /srv/app/resolvers.js:12");
  const formatted = format(...fromResolver(secret));
  expect(formatted).toEqual({
    message: 'Unexpected error.',
    path: ['license'],
    locations: undefined,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
  expect(JSON.stringify(formatted)).not.toContain('resolvers.js');
  expect(logged).toEqual([{ details: { err: secret, path: ['license'] }, message: 'unexpected error in a resolver' }]);
});

test('a portal error and an input error keep their codes, and nothing is logged for them', () => {
  const { format, logged } = formatterWithLog();
  expect(
    format(...fromResolver(new PortalError('FORBIDDEN', 'x', { endpoint: 'license.show', status: 403 }))).extensions,
  ).toEqual({
    code: 'FORBIDDEN',
    upstreamStatus: 403,
  });
  expect(format(...fromResolver(new InputError('bad id', 'id'))).extensions).toEqual({
    code: 'BAD_USER_INPUT',
    field: 'id',
  });
  expect(logged).toEqual([]);
});

test.each([
  ['attachment; filename="iengine.lic"', 'iengine.lic'],
  ["attachment; filename*=UTF-8''licen%C3%A7a%20%C3%BA.lic", 'licença ú.lic'],
  ['attachment; filename="fallback.lic"; filename*=UTF-8\'\'pr%C3%A9f%C3%A9r%C3%A9.lic', 'préféré.lic'],
  ['attachment; filename*=UTF-8\'\'%E0%A4%A; filename="plain.lic"', 'plain.lic'],
  ['attachment', undefined],
])('the file name of Content-Disposition %j is %j', (header, name) => {
  expect(fileNameOf(header)).toBe(name);
});

describe("graphql-js's suggestions leave with introspection", () => {
  const withoutSuggestions = createErrorFormatter({ error: () => undefined }, { suggestions: false });
  const withSuggestions = createErrorFormatter({ error: () => undefined }, { suggestions: true });
  const format = (formatter: typeof withSuggestions, message: string) =>
    formatter({ message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }, new GraphQLError(message)).message;

  // Every form graphql-js's didYouMean writes: one name, two, several, and the forms with words before the names.
  test.each([
    [
      'Cannot query field "totalCont" on type "LicenseConnection". Did you mean "totalCount"?',
      'Cannot query field "totalCont" on type "LicenseConnection".',
    ],
    [
      'Cannot query field "licences" on type "Query". Did you mean "licenses" or "license"?',
      'Cannot query field "licences" on type "Query".',
    ],
    [
      'Unknown type "LicenseOrdr". Did you mean "LicenseOrder", "License", "LicenseEdge", "LicenseFile", or "LicenseFilter"?',
      'Unknown type "LicenseOrdr".',
    ],
    [
      'Variable "$o" got invalid value "ID_" at "o.field"; Value "ID_" does not exist in "LicenseOrderField" enum. Did you mean the enum value "ID"?',
      'Variable "$o" got invalid value "ID_" at "o.field"; Value "ID_" does not exist in "LicenseOrderField" enum.',
    ],
    [
      'Cannot query field "name" on type "Node". Did you mean to use an inline fragment on "User" or "Group"?',
      'Cannot query field "name" on type "Node".',
    ],
    [
      'Unknown argument "iff" on directive "@include". Did you mean "if"?',
      'Unknown argument "iff" on directive "@include".',
    ],
  ])('%j becomes %j', (message, expected) => {
    expect(format(withoutSuggestions, message)).toBe(expected);
    expect(format(withSuggestions, message)).toBe(message);
  });

  test('a value the client sent is left as it was, even one that reads like a suggestion', () => {
    const message =
      'Variable "$s" got invalid value ["Did you mean \\"x\\"?"]; String cannot represent a non string value';
    expect(format(withoutSuggestions, message)).toBe(message);
  });
});
