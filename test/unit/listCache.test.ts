/**
 * The in-memory list cache: parsed lists per caller, frozen, for their TTL, within a bound in bytes.
 */
import { MemoryListCache } from '../../src/portal/listCache';
import { isKept, keptView } from '../../src/portal/keptLists';

const recordsOf = async (
  cache: MemoryListCache,
  callerKey: string,
  endpoint: 'license.list' | 'productAssignment.list',
) => (await cache.lookup(callerKey, endpoint)).records;

/** A body and the list parsed from it. */
const list = (...ids: number[]) => ({ body: Buffer.from(JSON.stringify(ids)), records: ids.map((id) => ({ id })) });

test('entries live for their TTL; a write of a caller drops all its lists and no one else’s', async () => {
  let now = 1_000_000; // lru-cache's clock starts above zero
  const cache = new MemoryListCache(1000, 1024, () => now);
  const [one, two, three] = [list(1), list(2), list(3)];
  await cache.store('alice', 'license.list', one.body, one.records);
  await cache.store('alice', 'productAssignment.list', two.body, two.records);
  await cache.store('bob', 'license.list', three.body, three.records);
  now = 1_000_999;
  expect(await recordsOf(cache, 'alice', 'license.list')).toBe(one.records);
  await cache.afterWrite('alice');
  expect(await recordsOf(cache, 'alice', 'license.list')).toBeUndefined();
  expect(await recordsOf(cache, 'alice', 'productAssignment.list')).toBeUndefined();
  expect(await recordsOf(cache, 'bob', 'license.list')).toBe(three.records);
  now = 1_001_001;
  expect(await recordsOf(cache, 'bob', 'license.list')).toBeUndefined();
  expect(cache.size()).toBe(0);
  expect(cache.keptReads).toEqual({ served: 2, distrusted: 0 });
});

test('past its bound in bytes, the callers least recently written go first; a list is weighed by its body', async () => {
  const body = (text: string) => Buffer.from(text); // 4 bytes each: estimated at 10 bytes of heap
  const cache = new MemoryListCache(60_000, 25);
  await cache.store('a', 'license.list', body('[11]'), [11]);
  await cache.store('b', 'license.list', body('[22]'), [22]);
  await cache.store('c', 'license.list', body('[33]'), [33]);
  expect(await recordsOf(cache, 'a', 'license.list')).toBeUndefined();
  expect(await recordsOf(cache, 'b', 'license.list')).toEqual([22]);
  expect(await recordsOf(cache, 'c', 'license.list')).toEqual([33]);
  expect(cache.size()).toBe(20);
  await cache.store('d', 'license.list', body('[12345678901]'), [12345678901]); // past the whole bound
  expect(await recordsOf(cache, 'd', 'license.list')).toBeUndefined();
});

test('a kept list is frozen, records and all, and its views are made once and shared by every read', async () => {
  const cache = new MemoryListCache(60_000);
  const { body, records } = list(3, 1, 2);
  await cache.store('alice', 'license.list', body, records);
  const kept = (await recordsOf(cache, 'alice', 'license.list')) as Array<{ id: number }>;
  expect(isKept(kept)).toBe(true);
  expect(() => kept.push({ id: 4 })).toThrow(TypeError);
  expect(() => {
    kept[0]!.id = 9;
  }).toThrow(TypeError);
  let made = 0;
  const sorted = () =>
    keptView(kept, 'byId', (all) => {
      made += 1;
      return [...all].sort((a, b) => a.id - b.id);
    });
  expect(sorted()).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  expect(sorted()).toBe(sorted());
  expect(made).toBe(1);
  // A list not kept has no views: one made for it would serve one read.
  expect(keptView([{ id: 1 }], 'byId', () => 'made')).toBeUndefined();
});
