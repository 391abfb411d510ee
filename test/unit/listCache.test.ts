/**
 * The in-memory list cache: entries per caller, for their TTL, within a bound in bytes.
 */
import { MemoryListCache } from '../../src/portal/listCache';

test('entries live for their TTL; dropping a caller drops all its lists and no one else’s', async () => {
  let now = 1_000_000; // lru-cache's clock starts above zero
  const cache = new MemoryListCache(1000, 1024, () => now);
  await cache.set('alice', 'license.list', '[1]');
  await cache.set('alice', 'productAssignment.list', '[2]');
  await cache.set('bob', 'license.list', '[3]');
  now = 1_000_999;
  expect(await cache.get('alice', 'license.list')).toBe('[1]');
  await cache.dropCaller('alice');
  expect(await cache.get('alice', 'license.list')).toBeUndefined();
  expect(await cache.get('alice', 'productAssignment.list')).toBeUndefined();
  expect(await cache.get('bob', 'license.list')).toBe('[3]');
  now = 1_001_001;
  expect(await cache.get('bob', 'license.list')).toBeUndefined();
  expect(cache.size()).toBe(0);
});

test('past its bound in bytes, the callers least recently written go first', async () => {
  const cache = new MemoryListCache(60_000, 10);
  await cache.set('a', 'license.list', '1234');
  await cache.set('b', 'license.list', '5678');
  await cache.set('c', 'license.list', '90ab');
  expect(await cache.get('a', 'license.list')).toBeUndefined();
  expect(await cache.get('b', 'license.list')).toBe('5678');
  expect(await cache.get('c', 'license.list')).toBe('90ab');
  expect(cache.size()).toBe(8);
  await cache.set('d', 'license.list', 'x'.repeat(11)); // larger than the whole cache: not kept
  expect(await cache.get('d', 'license.list')).toBeUndefined();
});
