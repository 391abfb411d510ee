/**
 * One process's counters on their own clock: the mark that lets credentials the portal accepted through lasts its
 * time, is renewed by marking again, and is taken away at once.
 */
import { MemoryLimitCounters } from '../../src/http/limitCounters';

test('a mark lasts its time from when it was made, again from a new mark, and not after unmark', async () => {
  const clock = { now: 1_000_000 };
  const counters = new MemoryLimitCounters(() => clock.now);
  expect(await counters.markedFor('accepted:x')).toBe(0);
  await counters.mark('accepted:x', 300_000);
  clock.now += 100_000;
  expect(await counters.markedFor('accepted:x')).toBe(200_000);
  await counters.mark('accepted:x', 300_000);
  clock.now += 250_000;
  expect(await counters.markedFor('accepted:x')).toBe(50_000);
  clock.now += 50_000;
  expect(await counters.markedFor('accepted:x')).toBe(0);
  await counters.mark('accepted:x', 300_000);
  await counters.unmark('accepted:x');
  expect(await counters.markedFor('accepted:x')).toBe(0);
});

test('marks are bounded in number: past the bound, the least recently marked is forgotten', async () => {
  const counters = new MemoryLimitCounters(() => 0, 2);
  for (const key of ['a', 'b', 'c']) await counters.mark(key, 1000);
  expect(await Promise.all(['a', 'b', 'c'].map((key) => counters.markedFor(key)))).toEqual([0, 1000, 1000]);
});
