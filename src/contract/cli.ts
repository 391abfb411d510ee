/**
 * The `npm run contract:check` command: checks a live portal's answers against the contract and sets the exit status.
 *
 *   PORTAL_URL=https://customerportal.innovatrics.com PORTAL_USER=… PORTAL_PASSWORD=… npm run contract:check
 *   PORTAL_URL=… PORTAL_AUTHORIZATION='Basic …' npm run contract:check -- --json
 *
 * Exit status: 0 the portal fits the contract, 1 it differs somewhere, 2 bad usage, 3 the portal refused the
 * credentials, 4 the portal could not be reached (3 and 4: nothing was checked).
 * No credential is ever printed: not the password, not the header, not its base64.
 */
import { ConfigError, readSetting } from '../settings/declarations';
import {
  formatReport,
  redactorOf,
  runContractCheck,
  type ContractCheckOptions,
  type ContractReport,
} from './contractCheck';

export const EXIT_FITS = 0;
export const EXIT_DIFFERS = 1;
export const EXIT_USAGE = 2;
export const EXIT_CREDENTIALS_REFUSED = 3;
export const EXIT_UNREACHABLE = 4;

export const USAGE = `Usage: PORTAL_URL=<origin> (PORTAL_USER=<user> PORTAL_PASSWORD=<password> | PORTAL_AUTHORIZATION=<header value>) npm run contract:check [-- --json]

Calls every read endpoint of the portal (never one with side effects) and reports where its answers differ
from the contract of docs/portal-contract.md.

  PORTAL_URL            the portal's origin, e.g. https://customerportal.innovatrics.com
  PORTAL_USER           the customer portal account, with PORTAL_PASSWORD (sent as HTTP Basic)
  PORTAL_PASSWORD       its password
  PORTAL_AUTHORIZATION  instead of the two above: the whole Authorization header value, e.g. "Basic …"
  --json                print the report as JSON instead of text

Exit status: 0 the portal fits the contract, 1 it differs, 2 bad usage, 3 the portal refused the
credentials, 4 the portal could not be reached (3 and 4: nothing was checked).
`;

export interface CliOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** The command's options, or the reason they cannot be had. */
export type CliArguments = { options: ContractCheckOptions; json: boolean } | { help: true } | { usageError: string };

/**
 * Reads the command line and the environment. Every usage error names the variable or argument at fault.
 *
 * ```ts
 * readArguments(['--json'], { PORTAL_URL: 'https://…', PORTAL_USER: 'u', PORTAL_PASSWORD: 'p' });
 * ```
 */
export function readArguments(argv: readonly string[], env: NodeJS.ProcessEnv): CliArguments {
  let json = false;
  for (const argument of argv) {
    if (argument === '--json') json = true;
    else if (argument === '--help' || argument === '-h') return { help: true };
    else return { usageError: `unknown argument ${JSON.stringify(argument)}` };
  }

  // The server's own check of PORTAL_URL: an http or https origin, without credentials (the report prints it).
  let origin: string | undefined;
  try {
    origin = readSetting(env, 'PORTAL_URL');
  } catch (error) {
    if (error instanceof ConfigError)
      // This command takes credentials of its own: it says where they go, where the server's message says why not.
      return { usageError: carriesCredentials(env.PORTAL_URL) ? CREDENTIALS_IN_URL : error.message };
    throw error;
  }
  if (origin === undefined)
    return {
      usageError: "PORTAL_URL is not set: give the portal's origin, e.g. https://customerportal.innovatrics.com",
    };

  const authorization = authorizationFrom(env);
  if (typeof authorization !== 'string') return authorization;
  return { options: { portalUrl: origin, authorization }, json };
}

/**
 * Runs the command and resolves with its exit status; prints nothing that holds a credential.
 * Never rejects: an unexpected failure is printed (redacted) and exits 1.
 */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, output: CliOutput): Promise<number> {
  const parsed = readArguments(argv, env);
  if ('help' in parsed) {
    output.stdout(USAGE);
    return EXIT_FITS;
  }
  if ('usageError' in parsed) {
    output.stderr(`contract:check: ${parsed.usageError}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    const report = await runContractCheck(parsed.options);
    output.stdout(parsed.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return EXIT_STATUS[report.outcome];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    output.stderr(`contract:check: the check failed: ${redactorOf(parsed.options.authorization)(message)}\n`);
    return EXIT_DIFFERS;
  }
}

const EXIT_STATUS: Record<ContractReport['outcome'], number> = {
  fits: EXIT_FITS,
  differs: EXIT_DIFFERS,
  credentialsRefused: EXIT_CREDENTIALS_REFUSED,
  unreachable: EXIT_UNREACHABLE,
};

const CREDENTIALS_IN_URL = 'PORTAL_URL must not contain credentials: give them in PORTAL_USER and PORTAL_PASSWORD';

function carriesCredentials(url: string | undefined): boolean {
  try {
    const parsed = new URL(url ?? '');
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

/** The header to send: PORTAL_AUTHORIZATION whole, or HTTP Basic of PORTAL_USER and PORTAL_PASSWORD; never both. */
function authorizationFrom(env: NodeJS.ProcessEnv): string | { usageError: string } {
  const header = nonEmpty(env.PORTAL_AUTHORIZATION);
  const user = nonEmpty(env.PORTAL_USER);
  const password = env.PORTAL_PASSWORD === undefined || env.PORTAL_PASSWORD === '' ? undefined : env.PORTAL_PASSWORD;
  if (header !== undefined) {
    if (user !== undefined || password !== undefined) {
      return { usageError: 'set either PORTAL_AUTHORIZATION or PORTAL_USER and PORTAL_PASSWORD, not both' };
    }
    return header;
  }
  if (user === undefined && password === undefined) {
    return { usageError: 'no credentials: set PORTAL_USER and PORTAL_PASSWORD, or PORTAL_AUTHORIZATION' };
  }
  if (user === undefined) return { usageError: 'PORTAL_USER is not set (PORTAL_PASSWORD is)' };
  if (password === undefined) return { usageError: 'PORTAL_PASSWORD is not set (PORTAL_USER is)' };
  // HTTP Basic cannot carry a user name with a colon: the portal would split it there.
  if (user.includes(':')) return { usageError: 'PORTAL_USER must not contain ":" (HTTP Basic cannot carry it)' };
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

if (require.main === module) {
  void runCli(process.argv.slice(2), process.env, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }).then((code) => {
    process.exitCode = code;
  });
}
