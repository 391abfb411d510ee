/**
 * Writes `.env.example` from the settings table in src/config.ts, so that the file cannot drift from the code:
 * `npx tsx scripts/envExample.ts`. A test checks the file against the table.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envExample } from '../src/config';

writeFileSync(join(__dirname, '..', '.env.example'), envExample());
