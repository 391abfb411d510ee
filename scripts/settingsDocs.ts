/**
 * Writes the README's configuration table and `.env.example` from the settings' declarations in src/settings/declarations.ts,
 * so that neither can drift from the code: `npm run settings:docs`. With `--check` it writes nothing and fails
 * naming each stale file (`npm run lint` runs it so).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envExample, withSettingsTable } from '../src/settings/docs';

const root = join(__dirname, '..');
const check = process.argv.includes('--check');
const readmePath = join(root, 'README.md');
const files = [
  { path: join(root, '.env.example'), text: envExample() },
  { path: readmePath, text: withSettingsTable(readFileSync(readmePath, 'utf8')) },
];
let stale = 0;
for (const file of files) {
  let current: string | undefined;
  try {
    current = readFileSync(file.path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === file.text) continue;
  if (check) {
    stale += 1;
    process.stderr.write(`${file.path} is stale: run npm run settings:docs\n`);
  } else writeFileSync(file.path, file.text);
}
if (stale > 0) process.exit(1);
