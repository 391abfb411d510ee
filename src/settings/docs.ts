/**
 * The settings as people read them: the README's configuration table and `.env.example`, both written from the
 * declarations by `npm run settings:docs` and checked by `npm run settings:check`.
 */
import { declarations } from './declarations';
import { allowed, type SettingDeclaration } from './rules';

/** The meaning with what start-up does with a secret. */
function fullMeaning(setting: SettingDeclaration): string {
  return setting.secret ? `${setting.meaning} A secret: start-up prints \`(set)\`, never its value.` : setting.meaning;
}

/** Markdown as plain text: no code spans, emphasis or links (their text stays). */
function plain(markdown: string): string {
  return markdown
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/\*\*/g, '')
    .replace(/`/g, '');
}

/** The README's configuration table, between `SETTINGS_TABLE_START` and `SETTINGS_TABLE_END`. */
function settingsTable(): string {
  const rows = declarations().map(
    ([name, setting]) =>
      `| \`${name}\` | ${setting.default === '' ? 'unset' : `\`${setting.default}\``} | ${allowed(setting.rule)} | ${fullMeaning(setting)} |`,
  );
  return ['| variable | default | values | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

const SETTINGS_TABLE_START =
  '<!-- settings:start (written by npm run settings:docs from src/settings/declarations.ts) -->';
const SETTINGS_TABLE_END = '<!-- settings:end -->';

/** `readme` with the table between its markers written again; throws when the markers are missing. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(SETTINGS_TABLE_START);
  const end = readme.indexOf(SETTINGS_TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${SETTINGS_TABLE_START} … ${SETTINGS_TABLE_END}`);
  return `${readme.slice(0, start + SETTINGS_TABLE_START.length)}\n${settingsTable()}\n${readme.slice(end)}`;
}

/** The text of `.env.example`: every setting, commented, with what it may be and its default. */
export function envExample(): string {
  const lines = [
    '# Every setting of portal-graphql, with its default. Copy to .env (or export) and change what you need.',
    '# Written by npm run settings:docs from src/settings/declarations.ts; do not edit.',
    '',
  ];
  for (const [name, setting] of declarations()) {
    lines.push(
      `# ${plain(fullMeaning(setting))}`,
      `# Values: ${plain(allowed(setting.rule))}.`,
      `${setting.default === '' ? '# ' : ''}${name}=${setting.default}`,
      '',
    );
  }
  return lines.join('\n');
}
