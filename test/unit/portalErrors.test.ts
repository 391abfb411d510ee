import { errorFromResponse } from '../../src/portal/portalErrors';
import { codeOfPortalError, ErrorCode } from '../../src/graphql/errors';

describe('the portal status table (errorFromResponse)', () => {
  const werkzeug404 =
    '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server.</p>\n';
  test.each([
    [401, 'Unauthorized', 'UNAUTHENTICATED', ErrorCode.UNAUTHENTICATED, undefined],
    [403, 'Forbidden', 'FORBIDDEN', ErrorCode.FORBIDDEN, undefined],
    [403, "You cannot download licenses you don't have!", 'FORBIDDEN', ErrorCode.FORBIDDEN, undefined],
    [403, 'Please provide valid hardware ID', 'INVALID_INPUT', ErrorCode.BAD_USER_INPUT, 'hwid'],
    [
      403,
      "Please provide valid expiration_date format: '%Y-%m-%d'",
      'INVALID_INPUT',
      ErrorCode.BAD_USER_INPUT,
      'expirationDate',
    ],
    [400, 'Bad Request: No licenses left', 'INVALID_INPUT', ErrorCode.BAD_USER_INPUT, undefined],
    [404, 'Not Found', 'NOT_FOUND', ErrorCode.NOT_FOUND, undefined],
    [404, werkzeug404, 'NOT_FOUND', ErrorCode.NOT_FOUND, undefined],
    [429, 'Too Many Requests', 'UNAVAILABLE', ErrorCode.UPSTREAM_UNAVAILABLE, undefined],
    [500, 'Internal Server Error', 'UNAVAILABLE', ErrorCode.UPSTREAM_UNAVAILABLE, undefined],
    [502, '<html>Bad gateway</html>', 'UNAVAILABLE', ErrorCode.UPSTREAM_UNAVAILABLE, undefined],
    [503, 'Service Unavailable', 'UNAVAILABLE', ErrorCode.UPSTREAM_UNAVAILABLE, undefined],
    [504, '', 'UNAVAILABLE', ErrorCode.UPSTREAM_UNAVAILABLE, undefined],
    [302, '', 'INVALID_RESPONSE', ErrorCode.UPSTREAM_INVALID_RESPONSE, undefined],
    [405, 'Method Not Allowed', 'INVALID_RESPONSE', ErrorCode.UPSTREAM_INVALID_RESPONSE, undefined],
  ])('HTTP %i %j is %s, served as %s', (status, body, portalCode, publicCode, field) => {
    const error = errorFromResponse('license.show', status, body);
    expect(error.code).toBe(portalCode);
    expect(codeOfPortalError(error.code)).toBe(publicCode);
    expect(error.field).toBe(field);
    expect(error.status).toBe(status);
  });

  test("the portal's 400 detail is passed on, but HTML never is", () => {
    expect(errorFromResponse('license.generate', 400, 'Bad Request: expiration after valid_until').detail).toBe(
      'Bad Request: expiration after valid_until',
    );
    expect(errorFromResponse('license.generate', 400, '<h1>Bad Request</h1>').detail).toBeUndefined();
    expect(errorFromResponse('license.generate', 400, '<h1>Bad Request</h1>').message).not.toContain('<');
  });
});
