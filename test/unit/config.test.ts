import { ConfigError, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  test('defaults: port 4000 on 127.0.0.1, the embedded emulator', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 4000, host: '127.0.0.1', portal: { url: undefined }, emulator: { seed: 'demo' } });
  });

  test('PORTAL_URL is reduced to its origin', () => {
    expect(loadConfig({ PORTAL_URL: 'https://customerportal.innovatrics.com/' }).portal.url).toBe('https://customerportal.innovatrics.com');
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
  ])('%s=%j stops start-up naming the variable', (variable, value) => {
    let caught: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as ConfigError).message).toMatch(new RegExp(`^${variable}: `));
    expect((caught as ConfigError).message).not.toContain('secret');
  });
});
