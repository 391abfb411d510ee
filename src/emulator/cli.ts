/**
 * Runs the portal emulator standalone (`npm run emulator`), for trying the server or a frontend against it
 * by hand. Prints the URL and the demo accounts; stops cleanly on SIGINT and SIGTERM.
 */
import { parseArgs } from 'node:util';
import { SEED_NAMES, startEmulator, type EmulatorOptions, type SeedName } from './index';

const USAGE = `Usage: npx tsx src/emulator/cli.ts [options]

Serves a faithful emulator of the Innovatrics Customer Portal licensing REST API.

Options:
  --port <n>          port to listen on, 0 for any free one (default 8080)
  --host <host>       address to listen on (default 127.0.0.1)
  --latency <ms>      milliseconds added before each answer (default 0)
  --seed <name>       ${SEED_NAMES.join(' | ')}: a small realistic data set, thousands or tens of thousands of licences (default demo)
  --seed-number <n>   varies the generated parts of the seed (default 1)
  --today <date>      the emulator's today, YYYY-MM-DD (default: the real UTC date)
  --help              show this help
`;

/** A flag that cannot be used, named as the user typed it. */
class UsageError extends Error {}

export function parseCliOptions(argv: readonly string[]): EmulatorOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        latency: { type: 'string' },
        seed: { type: 'string' },
        'seed-number': { type: 'string' },
        today: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return 'help';
  const options: EmulatorOptions = { port: 8080 };
  if (values.port !== undefined) options.port = integerFlag('--port', values.port, 0, 65535);
  if (values.host !== undefined) {
    if (values.host.trim() === '') throw new UsageError('--host must not be empty');
    options.host = values.host;
  }
  if (values.latency !== undefined) options.latencyMs = integerFlag('--latency', values.latency, 0, 600_000);
  if (values.seed !== undefined) {
    if (!(SEED_NAMES as readonly string[]).includes(values.seed)) {
      throw new UsageError(`--seed must be one of ${SEED_NAMES.join(', ')}, but got: ${values.seed}`);
    }
    options.seed = values.seed as SeedName;
  }
  if (values['seed-number'] !== undefined) {
    options.seedNumber = integerFlag(
      '--seed-number',
      values['seed-number'],
      Number.MIN_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER,
    );
  }
  if (values.today !== undefined) {
    const day = new Date(`${values.today}T00:00:00Z`);
    if (
      !/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(values.today) ||
      Number.isNaN(day.getTime()) ||
      day.toISOString().slice(0, 10) !== values.today
    )
      throw new UsageError(`--today must be a real date YYYY-MM-DD, but got: ${values.today}`);
    options.today = values.today;
  }
  return options;
}

function integerFlag(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^-?[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, but got: ${text}`);
  }
  return value;
}

async function main(): Promise<void> {
  let options: EmulatorOptions | 'help';
  try {
    options = parseCliOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`portal emulator: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }

  let emulator;
  try {
    emulator = await startEmulator(options);
  } catch (error) {
    // Bad options that only startEmulator can judge (e.g. --today 2027-02-30), or a port in use.
    process.stderr.write(`portal emulator: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const counts = emulator.state.counts();
  const [first] = emulator.accounts;
  process.stdout.write(
    [
      `Innovatrics Customer Portal emulator listening on ${emulator.url}`,
      `  seed: ${emulator.state.seed} #${emulator.state.seedNumber}, today ${emulator.state.today()}: ` +
        `${counts.assignments} product assignments, ${counts.licenses} licences`,
      'Demo accounts (HTTP Basic):',
      ...emulator.accounts.map(
        (a) => `  ${a.username} / ${a.password}   ${a.customer}   Authorization: ${a.authorization}`,
      ),
      'Try:',
      `  curl -u ${first!.username}:${first!.password} ${emulator.url}/api/product-assignment/list`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: closing the emulator\n`);
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`portal emulator: closing failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `portal emulator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
