/**
 * Test helper: deploy/compose.yaml read as podman commands. Debian's podman-compose (1.0.3) adds a network of its
 * own to every container, which `network_mode: host` refuses, so the test starts the compose file's services with
 * `podman build` and `podman run` made from the file itself: what is tested is what the file says, with no second
 * copy of the services. Only the keys deploy/compose.yaml uses are read; any other key stops the test, so that a
 * key added to the file is either honoured here or noticed.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { ULIMITS } from './podman';

export interface ComposeService {
  name: string;
  image: string;
  build: { context: string; dockerfile: string | undefined; args: Record<string, string> } | undefined;
  command: string[] | undefined;
  environment: Record<string, string>;
  envFiles: string[];
  /** `volume:path` pairs, the volume's name as the project names it. */
  volumes: { volume: string; path: string }[];
  dependsOn: string[];
  restart: string | undefined;
  /** How long `stop` waits after SIGTERM before it kills, in seconds. */
  stopGraceSeconds: number | undefined;
}

export interface ComposeProject {
  /** Prefix of every container and volume name the project makes. */
  name: string;
  /** The services in an order that starts each after what it depends on. */
  services: ComposeService[];
  volumes: string[];
}

const SERVICE_KEYS = new Set([
  'image',
  'build',
  'command',
  'environment',
  'env_file',
  'volumes',
  'depends_on',
  'network_mode',
  'restart',
  'stop_grace_period',
]);

/**
 * Reads a compose file, interpolating `${NAME}` and `${NAME:-default}` from `variables` as compose does, and
 * merging YAML's `<<` keys.
 */
export function readCompose(
  file: string,
  project: string,
  variables: Record<string, string | undefined>,
): ComposeProject {
  const folder = dirname(file);
  const document = interpolate(parse(readFileSync(file, 'utf8'), { merge: true }), variables) as {
    services: Record<string, Record<string, unknown>>;
    volumes?: Record<string, unknown>;
  };
  const services = Object.entries(document.services).map(([name, definition]): ComposeService => {
    for (const key of Object.keys(definition)) {
      if (!SERVICE_KEYS.has(key)) throw new Error(`compose service ${name}: the test does not read its key ${key}`);
    }
    if (definition.network_mode !== 'host') throw new Error(`compose service ${name}: network_mode must be host`);
    const build = definition.build as
      { context: string; dockerfile?: string; args?: Record<string, string> } | undefined;
    return {
      name,
      image: String(definition.image),
      build: build && {
        context: resolve(folder, build.context),
        dockerfile: build.dockerfile === undefined ? undefined : resolve(folder, build.context, build.dockerfile),
        args: build.args ?? {},
      },
      // A string command is split at spaces, as compose splits one without quotes (this file's have none).
      command:
        typeof definition.command === 'string'
          ? definition.command.split(/\s+/).filter(Boolean)
          : (definition.command as string[] | undefined),
      environment: Object.fromEntries(
        Object.entries((definition.environment ?? {}) as Record<string, unknown>).map(([key, value]) => [
          key,
          String(value),
        ]),
      ),
      envFiles: ((definition.env_file ?? []) as string[]).map((path) => resolve(folder, path)),
      volumes: ((definition.volumes ?? []) as string[]).map((entry) => {
        const [volume, path] = entry.split(':');
        return { volume: `${project}_${volume}`, path: path! };
      }),
      dependsOn: (definition.depends_on ?? []) as string[],
      restart: definition.restart as string | undefined,
      stopGraceSeconds:
        definition.stop_grace_period === undefined ? undefined : seconds(definition.stop_grace_period as string),
    };
  });
  return {
    name: project,
    services: startOrder(services),
    volumes: Object.keys(document.volumes ?? {}).map((volume) => `${project}_${volume}`),
  };
}

/** The container a service runs in. */
export function containerOf(project: ComposeProject, service: string): string {
  return `${project.name}_${service}`;
}

/** `podman build` arguments for a service's image, or undefined when it has no build section. */
export function buildArgs(service: ComposeService): string[] | undefined {
  if (!service.build) return undefined;
  return [
    'build',
    ...ULIMITS,
    // A build's RUN steps reach the registries (npm, Debian) through the host's network, as the services do.
    '--network',
    'host',
    ...(service.build.dockerfile ? ['--file', service.build.dockerfile] : []),
    ...Object.entries(service.build.args).flatMap(([key, value]) => ['--build-arg', `${key}=${value}`]),
    '--tag',
    service.image,
    service.build.context,
  ];
}

/** `podman run` arguments that start a service detached, as compose would. */
export function runArgs(project: ComposeProject, service: ComposeService): string[] {
  return [
    'run',
    '--detach',
    '--name',
    containerOf(project, service.name),
    '--label',
    `io.podman.compose.project=${project.name}`,
    '--network',
    'host',
    ...ULIMITS,
    ...(service.restart === undefined ? [] : ['--restart', service.restart]),
    ...(service.stopGraceSeconds === undefined ? [] : ['--stop-timeout', String(service.stopGraceSeconds)]),
    ...service.envFiles.flatMap((file) => ['--env-file', file]),
    ...Object.entries(service.environment).flatMap(([key, value]) => ['--env', `${key}=${value}`]),
    ...service.volumes.flatMap(({ volume, path }) => ['--volume', `${volume}:${path}`]),
    service.image,
    ...(service.command ?? []),
  ];
}

function interpolate(value: unknown, variables: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
      const given = variables[name];
      return given !== undefined && given !== '' ? given : (fallback ?? '');
    });
  }
  if (Array.isArray(value)) return value.map((item) => interpolate(item, variables));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, variables)]));
  }
  return value;
}

/** Compose's durations as this file writes them: `15s`, `1m30s`, `500ms`. */
function seconds(duration: string): number {
  let total = 0;
  for (const [, amount, unit] of duration.matchAll(/([0-9.]+)(ms|s|m|h)/g)) {
    total += Number(amount) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'];
  }
  return Math.ceil(total);
}

function startOrder(services: ComposeService[]): ComposeService[] {
  const byName = new Map(services.map((service) => [service.name, service]));
  const ordered: ComposeService[] = [];
  const visiting = new Set<string>();
  const visit = (service: ComposeService) => {
    if (ordered.includes(service)) return;
    if (visiting.has(service.name)) throw new Error(`compose: ${service.name} depends on itself`);
    visiting.add(service.name);
    for (const name of service.dependsOn) {
      const dependency = byName.get(name);
      if (!dependency) throw new Error(`compose: ${service.name} depends on ${name}, which is not a service`);
      visit(dependency);
    }
    ordered.push(service);
  };
  services.forEach(visit);
  return ordered;
}
