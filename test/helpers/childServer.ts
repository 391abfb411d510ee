/**
 * Test helper: the server as its own process (`tsx src/main.ts`), as `npm start` runs it, with its output kept.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

export interface ChildServer {
  process: ChildProcessWithoutNullStreams;
  graphqlUrl: string;
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/** Starts the server with the embedded emulator on free ports and waits for its banner. */
export function startChildServer(env: Record<string, string>): Promise<ChildServer> {
  const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), ['src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', NODE_ENV: 'development', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The server did not start:\n${stdout}\n${stderr}`)), 20_000);
    const onData = () => {
      const match = /GraphQL server ready at (http:\/\/\S+\/graphql)/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({ process: child, graphqlUrl: match[1]!, output: () => ({ stdout, stderr }), exited });
    };
    child.stdout.on('data', onData);
    child.on('exit', () => reject(new Error(`The server exited:\n${stdout}\n${stderr}`)));
  });
}
