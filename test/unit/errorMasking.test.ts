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
  const format = createErrorFormatter({ error: (details, message) => logged.push({ details, message }) });
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
