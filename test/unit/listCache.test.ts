/**
 * The in-memory list cache: entries per caller, for their TTL, within a bound in bytes.
 */
import { MemoryListCache } from '../../src/portal/listCache';

const bodyOf = async (cache: MemoryListCache, callerKey: string, endpoint: 'license.list' | 'productAssignment.list') =>
  (await cache.lookup(callerKey, endpoint)).body;

test('entries live for their TTL; a write of a caller drops all its lists and no one else’s', async () => {
  let now = 1_000_000; // lru-cache's clock starts above zero
  const cache = new MemoryListCache(1000, 1024, () => now);
  await cache.store('alice', 'license.list', '[1]');
  await cache.store('alice', 'productAssignment.list', '[2]');
  await cache.store('bob', 'license.list', '[3]');
  now = 1_000_999;
  expect(await bodyOf(cache, 'alice', 'license.list')).toBe('[1]');
  await cache.afterWrite('alice');
  expect(await bodyOf(cache, 'alice', 'license.list')).toBeUndefined();
  expect(await bodyOf(cache, 'alice', 'productAssignment.list')).toBeUndefined();
  expect(await bodyOf(cache, 'bob', 'license.list')).toBe('[3]');
  now = 1_001_001;
  expect(await bodyOf(cache, 'bob', 'license.list')).toBeUndefined();
  expect(cache.size()).toBe(0);
});

test('past its bound in bytes, the callers least recently written go first', async () => {
  const cache = new MemoryListCache(60_000, 10);
  await cache.store('a', 'license.list', '1234');
  await cache.store('b', 'license.list', '5678');
  await cache.store('c', 'license.list', '90ab');
  expect(await bodyOf(cache, 'a', 'license.list')).toBeUndefined();
  expect(await bodyOf(cache, 'b', 'license.list')).toBe('5678');
  expect(await bodyOf(cache, 'c', 'license.list')).toBe('90ab');
  expect(cache.size()).toBe(8);
  await cache.store('d', 'license.list', 'x'.repeat(11)); // larger than the whole cache: not kept
  expect(await bodyOf(cache, 'd', 'license.list')).toBeUndefined();
});
