/**
 * `npm run soak`: many concurrent clients of two customers against the real server while the emulated portal
 * fails on purpose; prints what they met and checks the licence ledger. Bounded in time and in requests;
 * loopback only. Exits 0 only when nothing unexpected happened, the server never restarted and the ledger holds.
 *
 *   npm run soak                               20 clients for 30 s
 *   npm run soak -- --duration 60 --clients 40
 *   npm run soak -- --json                     the whole report as JSON
 *   npm run soak -- --seed xlarge              on the emulator's xlarge seed
 *
 * The engine is `scripts/soak/runSoak.ts` (`runSoak(options)`), which `test/integration/soak.test.ts` runs briefly.
 */
import { parseArgs } from 'node:util';
import { runSoak, type SoakOptions } from './soak/runSoak';
import { formatSummary } from './soak/summary';

const USAGE = `Usage: npm run soak -- [options]

  --clients <n>       concurrent clients (default 20)
  --duration <s>      seconds during which clients start new work (default 30, at most 3600)
  --requests <n>      most requests in all (default 500000)
  --fault-scale <x>   multiplies every fault probability (default 1; 0 turns faults off)
  --seed xlarge       the emulator's xlarge seed (the first customer has 400 assignments, 50,000 licences)
                      instead of the demo seed
  --replicas <n>      server processes sharing one real redis-server (default 1); from 2, requests are spread
                      over them at random and Redis is restarted once mid-run
  --in-process        run the server in this process instead of its own (memory then counts everything)
  --no-final-pass     do not retry given-up licences with their keys after the run
  --json              print the whole report as JSON after the table
  --help              show this help
`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      options: {
        clients: { type: 'string' },
        duration: { type: 'string' },
        requests: { type: 'string' },
        'fault-scale': { type: 'string' },
        replicas: { type: 'string' },
        seed: { type: 'string' },
        'in-process': { type: 'boolean' },
        'no-final-pass': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const number = (flag: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value)) throw new RangeError(`--${flag} must be a number, but got: ${JSON.stringify(text)}`);
    return value;
  };
  let options: SoakOptions;
  try {
    const duration = number('duration', values.duration);
    if (values.seed !== undefined && values.seed !== 'xlarge' && values.seed !== 'demo')
      throw new RangeError(`--seed must be xlarge (or demo, the default), but got: ${JSON.stringify(values.seed)}`);
    options = {
      ...(values.clients !== undefined ? { clients: number('clients', values.clients)! } : {}),
      ...(duration !== undefined ? { durationMs: duration * 1000 } : {}),
      ...(values.requests !== undefined ? { maxRequests: number('requests', values.requests)! } : {}),
      ...(values.replicas !== undefined ? { replicas: number('replicas', values.replicas)! } : {}),
      ...(values.seed !== undefined ? { seed: values.seed } : {}),
      ...(values['fault-scale'] !== undefined ? { faultScale: number('fault-scale', values['fault-scale'])! } : {}),
      server: values['in-process'] ? 'inProcess' : 'child',
      finalPass: !values['no-final-pass'],
      log: (line) => process.stderr.write(`${line}\n`),
    };
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const report = await runSoak(options);
  process.stdout.write(`${formatSummary(report)}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
