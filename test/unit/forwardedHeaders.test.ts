/**
 * A request with a forwarding header while TRUST_PROXY is off: every one is noticed, the warning is logged at most
 * once per ten minutes of the notice's own clock.
 */
import { ForwardedHeadersNotice, WARNING_INTERVAL_MS } from '../../src/http/forwardedHeaders';

function setUp() {
  const clock = { now: 1_000_000 };
  const lines: Array<{ details: object; message: string }> = [];
  const log = { warn: (details: object, message: string) => lines.push({ details, message }) };
  return { clock, lines, log, notice: new ForwardedHeadersNotice(() => clock.now) };
}

test('once per ten minutes, however many requests carry one; each request is noticed', () => {
  const { clock, lines, log, notice } = setUp();
  expect(WARNING_INTERVAL_MS).toBe(600_000);
  const noticed = [];
  for (let i = 0; i < 100; i += 1) {
    noticed.push(notice.check({ 'x-forwarded-for': `10.0.0.${i}` }, '127.0.0.9', log));
    clock.now += 1000;
  }
  expect(noticed).toEqual(Array(100).fill(true));
  expect(lines).toHaveLength(1);
  clock.now = 1_000_000 + WARNING_INTERVAL_MS - 1;
  notice.check({ forwarded: 'for=10.0.0.1' }, '127.0.0.9', log);
  expect(lines).toHaveLength(1);
  clock.now = 1_000_000 + WARNING_INTERVAL_MS;
  notice.check({ forwarded: 'for=10.0.0.1' }, '127.0.0.9', log);
  expect(lines).toHaveLength(2);
});

test("the line names the headers, the socket's address and TRUST_PROXY, never a header's value", () => {
  const { lines, log, notice } = setUp();
  notice.check({ 'x-forwarded-for': '198.51.100.7', forwarded: 'for=198.51.100.7' }, '127.0.0.9', log);
  expect(lines[0]!.details).toEqual({
    headers: ['x-forwarded-for', 'forwarded'],
    socketAddress: '127.0.0.9',
    trustProxy: false,
  });
  expect(lines[0]!.message).toMatch(/TRUST_PROXY/);
  expect(JSON.stringify(lines[0])).not.toContain('198.51.100.7');
});

test('a request without one is not noticed, and logs nothing', () => {
  const { lines, log, notice } = setUp();
  expect(notice.check({ 'x-real-ip': '10.0.0.1', host: 'example' }, '127.0.0.9', log)).toBe(false);
  expect(lines).toEqual([]);
});
