/**
 * The headers a licence file is passed on with: built here from what the portal says, never copied, so that no
 * answer of the portal (an HTML page, a script) is ever rendered by a browser on this server's origin.
 */
import { fileNameOf } from '../portal/portalClient';

/**
 * Media types a licence file may be sent as: the portal's own for it (`application/json`, as the contract and the
 * emulator have it) and the neutral one. Anything else is sent as `application/octet-stream`.
 */
const FILE_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/json', 'application/octet-stream']);

/** Longest file name given, in characters (the extension kept): far above `iengine.lic`, short for any file system. */
const MAX_FILE_NAME_LENGTH = 100;

/**
 * The `Content-Type` of a licence file: the portal's media type when allowed (parameters dropped: JSON is UTF-8
 * by definition), `application/octet-stream` otherwise.
 */
export function licenseFileContentType(portalContentType: string | undefined): string {
  const mediaType = portalContentType?.split(';')[0]?.trim().toLowerCase();
  return mediaType !== undefined && FILE_MEDIA_TYPES.has(mediaType) ? mediaType : 'application/octet-stream';
}

/**
 * The `Content-Disposition` of a licence file: always `attachment`, with a name made from the portal's (RFC 6266):
 * `filename="…"` in plain ASCII, and `filename*=UTF-8''…` (RFC 8187) beside it when that could not carry the name.
 * A portal that names no file, or only characters that are dropped, gives `license-<id>.lic`.
 *
 * ```ts
 * licenseFileContentDisposition('inline; filename="evil\\".html"', 7); // 'attachment; filename="evil_.html"'
 * ```
 */
export function licenseFileContentDisposition(portalDisposition: string | undefined, licenseId: number): string {
  const fallback = `license-${licenseId}.lic`;
  const name = cleanFileName(fileNameOf(portalDisposition) ?? '') ?? fallback;
  const ascii = asciiFileName(name) ?? fallback;
  return ascii === name
    ? `attachment; filename="${ascii}"`
    : `attachment; filename="${ascii}"; filename*=UTF-8''${rfc8187Encoded(name)}`;
}

/**
 * A file name safe to hand a browser, or undefined when nothing of it is left: what follows the last `/` or `\`;
 * control and invisible format characters, lone surrogates and line separators dropped; quotes and the other
 * characters file systems refuse (`: * ? " < > |`) made `_`; whitespace made single spaces; no dot or space at
 * either end; at most `MAX_FILE_NAME_LENGTH` characters. A name with no letter or digit is no name.
 */
function cleanFileName(given: string): string | undefined {
  const lastSegment = given.split(/[/\\]/).pop() ?? '';
  const cleaned = lastSegment
    .replace(/[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu, '')
    .normalize('NFC')
    .replace(/[:*?"<>|]/g, '_')
    .replace(/\s+/gu, ' ')
    .replace(/^[.\s]+|[.\s]+$/gu, '');
  const bounded = withinLength(cleaned);
  return /[\p{L}\p{N}]/u.test(bounded) ? bounded : undefined;
}

/** The name cut to `MAX_FILE_NAME_LENGTH` characters, its extension (a dot and up to 16 letters or digits) kept. */
function withinLength(name: string): string {
  const characters = [...name];
  if (characters.length <= MAX_FILE_NAME_LENGTH) return name;
  const extension = /\.[\p{L}\p{N}]{1,16}$/u.exec(name)?.[0] ?? '';
  const stem = characters.slice(0, MAX_FILE_NAME_LENGTH - [...extension].length).join('');
  return `${stem.replace(/[.\s]+$/u, '')}${extension}`;
}

/**
 * The name in printable ASCII for `filename="…"`: accents taken off (`licença` is `licenca`), every other character
 * made `_`, and `%` too (some browsers decode it). Undefined when no ASCII letter or digit is left before the
 * extension.
 */
function asciiFileName(name: string): string | undefined {
  const ascii = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^\x20-\x7e]|%/g, '_');
  const stem = ascii.replace(/\.[A-Za-z0-9]{1,16}$/, '');
  // Taking a character apart may lengthen the name (`㎒` is `MHz`).
  return /[A-Za-z0-9]/.test(stem) ? withinLength(ascii) : undefined;
}

/** RFC 8187's `value-chars`: UTF-8, every byte outside `attr-char` percent-encoded. */
function rfc8187Encoded(name: string): string {
  return encodeURIComponent(name).replace(/['()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}
