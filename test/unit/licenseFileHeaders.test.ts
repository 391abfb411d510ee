/**
 * The headers of a licence file passed on to a browser: an allowed type or `application/octet-stream`, and always an
 * attachment whose name is safe, whatever the portal said.
 */
import { licenseFileContentDisposition, licenseFileContentType } from '../../src/http/licenseFileHeaders';

test.each([
  ['application/json', 'application/json'],
  ['Application/JSON; charset=utf-8', 'application/json'],
  ['application/octet-stream', 'application/octet-stream'],
  ['text/html; charset=utf-8', 'application/octet-stream'],
  ['image/svg+xml', 'application/octet-stream'],
  ['application/javascript', 'application/octet-stream'],
  ['text/plain', 'application/octet-stream'],
  ['', 'application/octet-stream'],
  [undefined, 'application/octet-stream'],
])('a portal Content-Type of %j is passed on as %j', (portal, sent) => {
  expect(licenseFileContentType(portal)).toBe(sent);
});

test.each([
  ["the portal's own", 'attachment; filename="iengine.lic"', 'attachment; filename="iengine.lic"'],
  ['none', undefined, 'attachment; filename="license-7.lic"'],
  ['no file name', 'attachment', 'attachment; filename="license-7.lic"'],
  ['inline, with a quote', 'inline; filename="evil\\".html"', 'attachment; filename="evil_.html"'],
  ['a backslash', 'attachment; filename="a\\\\b.lic"', 'attachment; filename="b.lic"'],
  ['a path', 'attachment; filename="../../etc/passwd"', 'attachment; filename="passwd"'],
  ['a path and nothing after it', 'attachment; filename="../"', 'attachment; filename="license-7.lic"'],
  ['only dots', 'attachment; filename=".."', 'attachment; filename="license-7.lic"'],
  ['a hidden file', 'attachment; filename=".htaccess"', 'attachment; filename="htaccess"'],
  [
    'characters file systems refuse',
    'attachment; filename="a:b*c?d<e>f|g.lic"',
    'attachment; filename="a_b_c_d_e_f_g.lic"',
  ],
  [
    'a percent sign (some browsers decode it in filename)',
    'attachment; filename="100%.lic"',
    'attachment; filename="100_.lic"; filename*=UTF-8\'\'100%25.lic',
  ],
  [
    'a control character, spelled in filename*',
    "attachment; filename*=UTF-8''a%07b%0D%0A.lic",
    'attachment; filename="ab.lic"',
  ],
  [
    'a right-to-left override (hides an extension)',
    "attachment; filename*=UTF-8''invoice%E2%80%AEcil.exe",
    'attachment; filename="invoicecil.exe"',
  ],
  [
    'accented letters',
    "attachment; filename*=UTF-8''licen%C3%A7a%20%C3%BA.lic",
    'attachment; filename="licenca u.lic"; filename*=UTF-8\'\'licen%C3%A7a%20%C3%BA.lic',
  ],
  [
    'letters with no ASCII form',
    "attachment; filename*=UTF-8''%D0%BB%D0%B8%D1%86%D0%B5%D0%BD%D0%B7%D0%B8%D1%8F.lic",
    'attachment; filename="license-7.lic"; filename*=UTF-8\'\'%D0%BB%D0%B8%D1%86%D0%B5%D0%BD%D0%B7%D0%B8%D1%8F.lic',
  ],
  [
    "characters outside RFC 8187's attr-char",
    "attachment; filename*=UTF-8''%C3%A9t%C3%A9%20(1)%20it's*.lic",
    "attachment; filename=\"ete (1) it's_.lic\"; filename*=UTF-8''%C3%A9t%C3%A9%20%281%29%20it%27s_.lic",
  ],
])('a portal name: %s', (_case, portal, sent) => {
  expect(licenseFileContentDisposition(portal, 7)).toBe(sent);
});

test('a long name is cut to 100 characters, its extension kept', () => {
  const sent = licenseFileContentDisposition(`attachment; filename="${'a'.repeat(300)}.lic"`, 7);
  expect(sent).toBe(`attachment; filename="${'a'.repeat(96)}.lic"`);
});

test('a name that grows when put in ASCII is cut to 100 characters too', () => {
  const name = `${'\u3392'.repeat(60)}.lic`; // ㎒ is MHz in ASCII
  const sent = licenseFileContentDisposition(`attachment; filename*=UTF-8''${encodeURIComponent(name)}`, 7);
  expect(sent).toBe(`attachment; filename="${'MHz'.repeat(32)}.lic"; filename*=UTF-8''${encodeURIComponent(name)}`);
});
