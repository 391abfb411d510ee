/**
 * The example client (examples/client.ts) run as a frontend engineer would run it: a child process against the
 * real server and the emulator, whose state says what it should have printed and generated.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startStack, type Stack } from '../helpers/stack';

const root = join(__dirname, '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runExample(graphqlUrl: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      join(root, 'node_modules', '.bin', 'tsx'),
      ['examples/client.ts'],
      {
        cwd: root,
        env: { ...process.env, GRAPHQL_URL: graphqlUrl, PORTAL_USER: 'demo', PORTAL_PASSWORD: 'demo' },
        timeout: 25_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

describe('examples/client.ts', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('prints the overview, generates one licence and downloads exactly its file', async () => {
    const state = stack.emulator.state;
    const before = new Set(state.licensesOf('demo').map((license) => license.id));

    const run = await runExample(stack.graphqlUrl);

    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    for (const assignment of state.assignmentsOf('demo')) {
      expect(run.stdout).toContain(`#${assignment.id} ${assignment.product_name}:`);
    }

    const generated = state.licensesOf('demo').filter((license) => !before.has(license.id));
    expect(state.licensesOf('demo')).toHaveLength(before.size + 1);
    expect(generated).toHaveLength(1);
    const printedId = /Generated licence (\d+) /.exec(run.stdout)?.[1];
    expect(printedId).toBe(String(generated[0]!.id));
    expect(run.stdout).toContain(`download: /licenses/${generated[0]!.id}/file`);

    const printedBytes = /Downloaded licence file: (\d+) bytes/.exec(run.stdout)?.[1];
    expect(Number(printedBytes)).toBe(state.licenseFile(generated[0]!.id)!.length);
  });
});
