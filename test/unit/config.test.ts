import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, describeConfig, loadConfig } from '../../src/config';
import { SETTINGS, readSetting, type SettingName } from '../../src/settings/declarations';
import { envExample, withSettingsTable } from '../../src/settings/docs';

describe('loadConfig', () => {
  test('defaults: port 4000 on 127.0.0.1, the embedded emulator', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      portal: { url: undefined },
      emulator: { seed: 'demo' },
    });
  });

  test('safe by default: pointed at a portal with NODE_ENV unset, it runs as in production', () => {
    const deployed = loadConfig({ PORTAL_URL: 'https://customerportal.innovatrics.com' });
    expect(deployed).toMatchObject({
      nodeEnv: 'production',
      playground: false,
      introspection: false,
      logFormat: 'json',
    });
    const demo = loadConfig({});
    expect(demo).toMatchObject({ nodeEnv: 'development', playground: true, introspection: true, logFormat: 'pretty' });
    const asked = loadConfig({ PORTAL_URL: 'https://customerportal.innovatrics.com', NODE_ENV: 'development' });
    expect(asked).toMatchObject({ nodeEnv: 'development', playground: true, introspection: true });
    expect(loadConfig({ NODE_ENV: 'test' })).toMatchObject({
      nodeEnv: 'test',
      playground: false,
      introspection: false,
    });
  });

  test('REDIS_URL needs CALLER_HASH_SECRET of at least 32 characters, and start-up never echoes the secret', () => {
    const secret = 'a-secret-shared-by-every-replica-0123456789';
    expect(
      loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/0', CALLER_HASH_SECRET: secret, SESSIONS: 'off' }).redis,
    ).toEqual({
      url: 'redis://127.0.0.1:6379/0',
      callerHashSecret: secret,
    });
    for (const given of [undefined, 'short-secret']) {
      let caught: unknown;
      try {
        loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/0', ...(given ? { CALLER_HASH_SECRET: given } : {}) });
      } catch (error) {
        caught = error;
      }
      expect((caught as ConfigError).variable).toBe('CALLER_HASH_SECRET');
      if (given) expect((caught as ConfigError).message).not.toContain(given);
    }
    expect(loadConfig({}).redis).toBeUndefined();
    // A secret set too short is a mistake with or without Redis: its declared length is checked either way.
    expectStartUpStopped({ CALLER_HASH_SECRET: 'short-secret' }, 'CALLER_HASH_SECRET');
    expect(() => loadConfig({ CALLER_HASH_SECRET: 'short-secret' })).toThrow(
      'CALLER_HASH_SECRET: must have at least 32 characters (it has 12).',
    );
    const described = describeConfig({ REDIS_URL: 'redis://:pw-in-url@127.0.0.1:6379/0', CALLER_HASH_SECRET: secret });
    expect(described).toContain('CALLER_HASH_SECRET=(set)');
    expect(described.join('\n')).not.toContain(secret);
    expect(described.join('\n')).not.toContain('pw-in-url');
  });

  test('the two secrets are taken exactly as given, a trailing newline included: their bytes are the keys', () => {
    const fromAFile = 'a-secret-shared-by-every-replica-0123456789\n';
    const config = loadConfig({
      REDIS_URL: 'redis://127.0.0.1:6379/0',
      CALLER_HASH_SECRET: fromAFile,
      SESSION_SECRET: ` ${fromAFile}`,
    });
    expect(config.redis?.callerHashSecret).toBe(fromAFile);
    expect(config.sessions?.secret).toBe(` ${fromAFile}`);
    // Blank is still unset.
    expect(loadConfig({ CALLER_HASH_SECRET: '  \n' }).redis).toBeUndefined();
  });

  test('sessions: on by default, idle 30 minutes, 12 hours at most, with a key of their own; SESSIONS=off turns them off', () => {
    expect(loadConfig({}).sessions).toEqual({ idleTimeoutMs: 1_800_000, maxAgeMs: 43_200_000, secret: undefined });
    expect(loadConfig({ SESSIONS: 'off' }).sessions).toBeUndefined();
    expect(
      loadConfig({ SESSION_IDLE_TIMEOUT_MS: '1000', SESSION_MAX_AGE_MS: '1000', SESSION_SECRET: 's'.repeat(32) })
        .sessions,
    ).toEqual({ idleTimeoutMs: 1000, maxAgeMs: 1000, secret: 's'.repeat(32) });
    for (const [variable, value] of [
      ['SESSION_IDLE_TIMEOUT_MS', '999'],
      ['SESSION_IDLE_TIMEOUT_MS', '604800001'],
      ['SESSION_MAX_AGE_MS', '999'],
      ['SESSION_MAX_AGE_MS', '2592000001'],
      ['SESSION_MAX_AGE_MS', '12h'],
      ['SESSIONS', 'maybe'],
    ] as const)
      expectStartUpStopped({ [variable]: value }, variable);
  });

  test('REDIS_URL needs SESSION_SECRET of at least 32 characters unless SESSIONS=off, and start-up never echoes it', () => {
    const shared = { REDIS_URL: 'redis://127.0.0.1:6379/0', CALLER_HASH_SECRET: 'c'.repeat(32) };
    const secret = 'sessions-of-every-replica-0123456789abcdef';
    expect(loadConfig({ ...shared, SESSION_SECRET: secret }).sessions?.secret).toBe(secret);
    expect(loadConfig({ ...shared, SESSIONS: 'off' }).sessions).toBeUndefined();
    expectStartUpStopped(shared, 'SESSION_SECRET');
    // Too short, with Redis or without: refused, and not echoed.
    for (const env of [{ ...shared, SESSION_SECRET: 'short-one' }, { SESSION_SECRET: 'short-one' }]) {
      expectStartUpStopped(env, 'SESSION_SECRET');
      expect(() => loadConfig(env)).not.toThrow(/short-one/);
    }
    const described = describeConfig({ ...shared, SESSION_SECRET: secret });
    expect(described).toContain('SESSION_SECRET=(set)');
    expect(described.join('\n')).not.toContain(secret);
    expect(describeConfig({})).toContain('SESSION_SECRET=(unset)');
  });

  test('IDEMPOTENCY_LEASE_MS shorter than a generate call may take stops start-up', () => {
    let caught: unknown;
    try {
      loadConfig({ IDEMPOTENCY_LEASE_MS: '20000' });
    } catch (error) {
      caught = error;
    }
    expect((caught as ConfigError).variable).toBe('IDEMPOTENCY_LEASE_MS');
    expect((caught as ConfigError).message).toMatch(/at least 30000/);
    expect(
      loadConfig({
        IDEMPOTENCY_LEASE_MS: '3000',
        OPERATION_TIMEOUT_MS: '3000',
        PORTAL_CONNECT_TIMEOUT_MS: '1000',
        PORTAL_HEADERS_TIMEOUT_MS: '1000',
        PORTAL_BODY_TIMEOUT_MS: '1000',
      }).idempotencyLeaseMs,
    ).toBe(3000);
  });

  test('HTTP_REQUEST_TIMEOUT_MS: 30 s by default, from 1 s to 10 minutes', () => {
    expect(loadConfig({}).requestTimeoutMs).toBe(30_000);
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '1000' }).requestTimeoutMs).toBe(1000);
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '600000' }).requestTimeoutMs).toBe(600_000);
    for (const value of ['999', '600001', '0', '30s'])
      expectStartUpStopped({ HTTP_REQUEST_TIMEOUT_MS: value }, 'HTTP_REQUEST_TIMEOUT_MS');
  });

  test('METRICS_PORT gives /metrics a listener of its own, on 127.0.0.1 unless METRICS_HOST says otherwise', () => {
    expect(loadConfig({}).metrics).toBeUndefined();
    expect(loadConfig({ METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(loadConfig({ METRICS_PORT: '0', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({ port: 0, host: '0.0.0.0' });
    expectStartUpStopped({ METRICS_PORT: '65536' }, 'METRICS_PORT');
  });

  test("TRUST_PROXY: off, a hop count or the proxies' addresses; true stops start-up naming the forms it could be", () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '20' }).trustProxy).toBe(20);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.7' }).trustProxy).toEqual(['10.0.0.0/8', '192.168.1.7']);
    for (const value of ['true', 'TRUE', 'yes', 'on']) {
      expectStartUpStopped({ TRUST_PROXY: value }, 'TRUST_PROXY');
      expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(/hop count, e\.g\. TRUST_PROXY=1 .*CIDR ranges/);
    }
    for (const value of ['21', 'ingress', '10.0.0.0/8,ingress'])
      expectStartUpStopped({ TRUST_PROXY: value }, 'TRUST_PROXY');
  });

  test('the failed-login limits: per address and user name 10, per address 100, per user name 50, each 0 (off) to 1,000,000 on its own', () => {
    expect(loadConfig({}).clientLimits).toEqual({
      authFailureLimit: 10,
      authFailureLimitPerAddress: 100,
      authFailureLimitPerUser: 50,
      authFailureWindowMs: 300_000,
      requestsPerMinute: 6000,
    });
    // No rule relates them: a per-user limit below the per-address one, or one limit off alone, is taken as given.
    expect(
      loadConfig({
        AUTH_FAILURE_LIMIT: '0',
        AUTH_FAILURE_LIMIT_PER_ADDRESS: '1000000',
        AUTH_FAILURE_LIMIT_PER_USER: '3',
      }).clientLimits,
    ).toMatchObject({ authFailureLimit: 0, authFailureLimitPerAddress: 1_000_000, authFailureLimitPerUser: 3 });
    for (const variable of ['AUTH_FAILURE_LIMIT', 'AUTH_FAILURE_LIMIT_PER_ADDRESS', 'AUTH_FAILURE_LIMIT_PER_USER'])
      for (const value of ['-1', '1000001', '1.5', 'ten']) expectStartUpStopped({ [variable]: value }, variable);
  });

  test('one URL check: the scheme, credentials where they are refused, an origin where one is asked for; a password is never echoed', () => {
    const refusal = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        return (error as ConfigError).message;
      }
      return undefined;
    };
    expect(refusal({ PORTAL_URL: 'ftp://portal' })).toBe(
      'PORTAL_URL: must be an http or https origin, e.g. https://customerportal.innovatrics.com, but is "ftp://portal".',
    );
    expect(refusal({ PORTAL_URL: 'https://portal.example/api' })).toBe(
      'PORTAL_URL: must be an origin only (scheme, host and port), but is "https://portal.example/api".',
    );
    expect(refusal({ PORTAL_URL: 'https://user:pw@portal.example' })).toBe(
      "PORTAL_URL: must not carry credentials: they are sent in each request's Authorization header.",
    );
    expect(refusal({ REDIS_URL: 'http://:pw-in-url@127.0.0.1:6379' })).toBe(
      'REDIS_URL: must be a redis or rediss URL, e.g. redis://127.0.0.1:6379/0, but is "http://:***@127.0.0.1:6379/".',
    );
    expect(refusal({ CORS_ORIGINS: 'https://app.example.com, ftp://files.example.com' })).toBe(
      'CORS_ORIGINS: must list http or https origins, comma-separated, e.g. https://app.example.com, but has "ftp://files.example.com".',
    );
    expect(refusal({ CORS_ORIGINS: 'https://app.example.com/login' })).toMatch(/^CORS_ORIGINS: must list origins only/);
    expect(refusal({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toMatch(
      /^OTEL_EXPORTER_OTLP_ENDPOINT: must be an http or https URL/,
    );
    // An origin is kept as the browser sends it in Origin: no trailing slash, the host in lower case.
    expect(loadConfig({ CORS_ORIGINS: 'https://App.example.com/, http://localhost:5173' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
    ]);
    expect(describeConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:pw-in-url@collector:4318' }, 'changed')).toEqual(
      ['OTEL_EXPORTER_OTLP_ENDPOINT=https://user:***@collector:4318/'],
    );
  });

  test('PORTAL_URL is reduced to its origin', () => {
    expect(loadConfig({ PORTAL_URL: 'https://customerportal.innovatrics.com/' }).portal.url).toBe(
      'https://customerportal.innovatrics.com',
    );
  });

  test.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['PORTAL_URL', 'ftp://portal'],
    ['PORTAL_URL', 'not a url'],
    ['PORTAL_URL', 'https://user:secret@portal.example'],
    ['PORTAL_HEADERS_TIMEOUT_MS', '-5'],
    ['PORTAL_CONNECTIONS', '0'],
    ['LOG_LEVEL', 'loud'],
    ['EMULATOR_SEED', 'huge'],
    ['NODE_ENV', 'staging'],
    ['MAX_RESULT_OBJECTS', '0'],
    ['PORTAL_MAX_RESPONSE_BYTES', '10'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
  ])('%s=%j stops start-up naming the variable', (variable, value) => {
    expectStartUpStopped({ [variable]: value }, variable);
  });
});

/** Start-up with `env` stops with a ConfigError that names `variable` and echoes no secret. */
function expectStartUpStopped(env: Record<string, string>, variable: string): void {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).variable).toBe(variable);
  expect((caught as ConfigError).message).toMatch(new RegExp(`^${variable}: `));
  expect((caught as ConfigError).message).not.toContain('secret');
}

describe("tracing's settings, OpenTelemetry's standard variables", () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

  test('off without an endpoint; on with one, with the batch span processor and exporter defaults', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig(endpoint).tracing).toMatchObject({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      batch: { scheduleDelayMs: 5000, maxQueuedSpans: 2048, maxBatchSpans: 512, exportTimeoutMs: 30000 },
      timeoutMs: 10000,
      compression: 'none',
    });
  });

  test("the batch and export variables are read; the traces' own timeout and compression win over the general ones", () => {
    const tracing = loadConfig({
      ...endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '250',
      OTEL_BSP_MAX_QUEUE_SIZE: '8192',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024',
      OTEL_BSP_EXPORT_TIMEOUT: '0',
      OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '2000',
    }).tracing;
    expect(tracing?.batch).toEqual({
      scheduleDelayMs: 250,
      maxQueuedSpans: 8192,
      maxBatchSpans: 1024,
      exportTimeoutMs: 0,
    });
    expect(tracing?.timeoutMs).toBe(2000);
    expect(loadConfig({ ...endpoint, OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }).tracing?.compression).toBe('gzip');
    expect(
      loadConfig({ ...endpoint, OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'none' })
        .tracing?.compression,
    ).toBe('none');
    expect(loadConfig({ ...endpoint, OTEL_EXPORTER_OTLP_TIMEOUT: '3000' }).tracing?.timeoutMs).toBe(3000);
  });

  test('OTEL_TRACES_EXPORTER=none turns tracing off, as OTEL_SDK_DISABLED=true does', () => {
    expect(loadConfig({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeUndefined();
    expect(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
  });

  test.each([
    ['OTEL_TRACES_EXPORTER', 'console'],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc'],
    ['OTEL_TRACES_SAMPLER', 'sometimes'],
    ['OTEL_TRACES_SAMPLER_ARG', '2'],
    ['OTEL_BSP_SCHEDULE_DELAY', '-1'],
    ['OTEL_BSP_SCHEDULE_DELAY', '5s'],
    ['OTEL_BSP_MAX_QUEUE_SIZE', '0'],
    // A queue past the bound would only hold memory for spans a receiver cannot take anyway.
    ['OTEL_BSP_MAX_QUEUE_SIZE', '10000000'],
    // A batch larger than the queue: the specification says it must not be.
    ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', '4096'],
    ['OTEL_BSP_EXPORT_TIMEOUT', '3600000'],
    ['OTEL_EXPORTER_OTLP_TIMEOUT', '0'],
    ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'soon'],
    ['OTEL_EXPORTER_OTLP_COMPRESSION', 'brotli'],
    ['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'zstd'],
  ])('with tracing on, %s=%j stops start-up naming the variable', (variable, value) => {
    expectStartUpStopped({ ...endpoint, [variable]: value }, variable);
    expect(() => loadConfig({ ...endpoint, [variable]: value })).toThrow(new RegExp(`^${variable}: must be`));
  });
});

describe('what start-up prints of the settings', () => {
  test('only those that differ from their declared defaults; every one of them with LOG_LEVEL=debug', () => {
    const env = {
      PORT: '8080',
      HOST: ' 127.0.0.1 ', // its default, once trimmed
      MAX_DEPTH: '',
      SESSION_SECRET: 'x'.repeat(40),
      REDIS_URL: 'redis://:pw-in-url@cache:6379/0',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=pw-in-header',
    };
    expect(describeConfig(env, 'changed')).toEqual([
      'PORT=8080',
      'REDIS_URL=redis://:***@cache:6379/0',
      'SESSION_SECRET=(set)',
      'OTEL_EXPORTER_OTLP_HEADERS=(set)',
    ]);
    const all = describeConfig(env, 'all');
    expect(all).toHaveLength(Object.keys(SETTINGS).length);
    expect(all).toContain('MAX_DEPTH=10');
    expect(all).toContain('NODE_ENV=(unset: development)');
    expect(all).toContain('CALLER_HASH_SECRET=(unset)');
    expect(all.join('\n')).not.toMatch(/pw-in-|xxxx/);
  });
});

describe('the settings are documented where users look', () => {
  const root = join(__dirname, '..', '..');

  test('.env.example is written from the declarations (npm run settings:docs)', () => {
    expect(readFileSync(join(root, '.env.example'), 'utf8')).toBe(envExample());
  });

  test("the README's configuration table is written from the declarations (npm run settings:docs)", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toBe(withSettingsTable(readme));
    for (const [name, setting] of Object.entries(SETTINGS)) {
      // The generated table's row, not another table's that names the setting (Deploying has one).
      const table = readme.slice(readme.indexOf('<!-- settings:start'));
      const row = table.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect({ name, row }).toEqual({
        name,
        row: expect.stringContaining(setting.default === '' ? 'unset' : `\`${setting.default}\``),
      });
    }
  });

  test('every default is a value its own rule accepts', () => {
    for (const name of Object.keys(SETTINGS) as SettingName[]) expect(() => readSetting({}, name)).not.toThrow();
  });
});
