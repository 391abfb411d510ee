/**
 * How a setting's text is read and checked, one rule per kind of value: a whole number in a range, one of some words,
 * a flag, text, a URL (or a list of them), or a form of its own. Each rule reads a value, refuses a bad one saying
 * what it must be and what it was, and says what it may be for the docs.
 */

/** Refuses a value with a message saying what it must be and what it was; never returns. */
export type Refuse = (message: string) => never;

/** How a setting's text is read. */
export type Rule =
  | { type: 'integer'; min: number; max: number }
  | { type: 'oneOf'; values: readonly string[] }
  | { type: 'flag' }
  | { type: 'text'; allowed: string; minLength: number }
  | UrlRule
  | { type: 'custom'; allowed: string; parse: (text: string, refuse: Refuse) => unknown };

/** A URL, or a comma-separated list of them; an origin rule keeps only the origin (scheme, host and port). */
export interface UrlRule {
  type: 'url';
  schemes: readonly string[];
  origin: boolean;
  list: boolean;
  example: string;
  /** Why credentials in the URL are refused; undefined: they are allowed (e.g. a Redis password). */
  credentialsRefused?: string;
}

export interface SettingDeclaration {
  rule: Rule;
  /** The text taken when the variable is unset or blank; '' leaves the setting unset (`undefined`). */
  default: string;
  /** What the setting does, in Markdown (the README's table; `.env.example` gets it as plain text). */
  meaning: string;
  /** Never printed: start-up shows `(set)` or `(unset)`. */
  secret?: boolean;
  /**
   * Read exactly as given, never trimmed (blank is still unset): the bytes are a key, and a deployment whose secret
   * ends in a newline (a Kubernetes secret made from a file) must derive the same keys as it always has.
   */
  untrimmed?: boolean;
}

/** A whole number from `min` to `max`. */
export const integer = (min: number, max: number) => ({ type: 'integer', min, max }) as const;
/** One of `values`, as written. */
export const oneOf = <const T extends string>(values: readonly T[]) => ({ type: 'oneOf', values }) as const;
/** true, 1, yes, on; or false, 0, no, off (any case). */
export const flag = () => ({ type: 'flag' }) as const;
/** Text of at least `minLength` characters; `allowed` says what it is in the docs. */
export const text = (allowed: string, minLength = 1) => ({ type: 'text', allowed, minLength }) as const;
/** A URL, or URLs comma-separated, as `options` says. */
export const url = <const O extends Omit<UrlRule, 'type'>>(options: O) => ({ type: 'url', ...options }) as const;
/** A form of its own: `allowed` says it in the docs, `parse` reads it or refuses it. */
export const custom = <T>(allowed: string, parse: (text: string, refuse: Refuse) => T) =>
  ({ type: 'custom', allowed, parse }) as const;

/** The type of what a rule reads. */
export type Parsed<R> = R extends { type: 'integer' }
  ? number
  : R extends { type: 'oneOf'; values: readonly (infer T)[] }
    ? T
    : R extends { type: 'flag' }
      ? boolean
      : R extends { type: 'text' }
        ? string
        : R extends { type: 'url'; list: true }
          ? string[]
          : R extends { type: 'url' }
            ? string
            : R extends { type: 'custom'; parse: (...args: never[]) => infer T }
              ? T
              : never;

/**
 * The value `text` stands for under `rule`, or `refuse` called with what it must be and what it was.
 *
 *     readRule(integer(0, 65535), '8080', refuse); // 8080
 *     readRule(oneOf(['json', 'pretty']), 'xml', refuse); // refuse('must be one of json, pretty, but is "xml".')
 */
export function readRule(rule: Rule, value: string, refuse: Refuse): unknown {
  switch (rule.type) {
    case 'integer': {
      const number = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < rule.min || number > rule.max)
        refuse(`must be a whole number from ${rule.min} to ${rule.max}, but is ${JSON.stringify(value)}.`);
      return number;
    }
    case 'oneOf':
      if (!rule.values.includes(value))
        refuse(`must be one of ${rule.values.join(', ')}, but is ${JSON.stringify(value)}.`);
      return value;
    case 'flag':
      if (/^(true|1|yes|on)$/i.test(value)) return true;
      if (/^(false|0|no|off)$/i.test(value)) return false;
      return refuse(`must be true or false, but is ${JSON.stringify(value)}.`);
    case 'text':
      // Only the length is told, never the text: it may be a secret.
      if (value.length < rule.minLength)
        refuse(`must have at least ${rule.minLength} characters (it has ${value.length}).`);
      return value;
    case 'url':
      return rule.list
        ? commaSeparated(value).map((item) => checkedUrl(rule, item, refuse))
        : checkedUrl(rule, value, refuse);
    case 'custom':
      return rule.parse(value, refuse);
    default:
      return unreachable(rule);
  }
}

/**
 * The one URL check: the scheme, then no credentials where they are refused, then an origin only where one is asked
 * for. A value is echoed without its password; text that is no URL, only when it holds no `@`.
 */
function checkedUrl(rule: UrlRule, value: string, refuse: Refuse): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    parsed = undefined;
  }
  const shown = JSON.stringify(printableUrl(value));
  if (!parsed || !rule.schemes.includes(parsed.protocol.slice(0, -1)))
    refuse(
      `must ${rule.list ? 'list' : 'be'} ${urlKind(rule)}, e.g. ${rule.example}, but ${rule.list ? 'has' : 'is'} ${shown}.`,
    );
  if (rule.credentialsRefused !== undefined && (parsed.username !== '' || parsed.password !== ''))
    refuse(`must not carry credentials: ${rule.credentialsRefused}.`);
  if (!rule.origin) return value;
  if (parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '' || parsed.username !== '')
    refuse(
      `must ${rule.list ? 'list origins' : 'be an origin'} only (scheme, host and port), but ${rule.list ? 'has' : 'is'} ${shown}.`,
    );
  return parsed.origin;
}

/**
 * A URL as it may be printed: as given, or with its password replaced by `***` when it carries one; text that is no
 * URL but holds an `@` (it may hold a password) is not printed.
 */
export function printableUrl(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return value.includes('@') ? '(not a URL)' : value;
  }
  if (parsed.password === '') return value;
  parsed.password = '***';
  return parsed.href;
}

function urlKind(rule: UrlRule): string {
  const schemes = rule.schemes.join(' or ');
  if (rule.list) return `${schemes} ${rule.origin ? 'origins' : 'URLs'}, comma-separated`;
  return `${/^(http|[aeiou])/.test(schemes) ? 'an' : 'a'} ${schemes} ${rule.origin ? 'origin' : 'URL'}`;
}

export function commaSeparated(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function unreachable(rule: never): never {
  throw new Error(`no reader for the rule ${JSON.stringify(rule)}`);
}

/** What a setting may be, as the README's table and `.env.example` say it. */
export function allowed(rule: Rule): string {
  switch (rule.type) {
    case 'integer':
      return `${rule.min} to ${rule.max}`;
    case 'oneOf':
      return rule.values.map((value) => `\`${value}\``).join(', ');
    case 'flag':
      return '`true` or `false`';
    case 'text':
      return rule.allowed;
    case 'url':
      return urlKind(rule);
    case 'custom':
      return rule.allowed;
    default:
      return unreachable(rule);
  }
}
