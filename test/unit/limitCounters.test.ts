/**
 * One process's counters on their own clock: the sliding log of failed logins and the fixed window of the request
 * rate pass at the instants they promise; the mark that lets credentials the portal accepted through lasts its time,
 * is renewed by marking again, and is taken away at once.
 */
import { MemoryLimitCounters } from '../../src/http/limitCounters';

test('the sliding log forgets an event once it is a window old, keeps the newest `keep`, and says when the oldest leaves', async () => {
  const start = 1_000_000;
  const clock = { now: start };
  const counters = new MemoryLimitCounters(() => clock.now);
  const slide = (note: boolean) => counters.slide('auth:x', 1000, 3, note);
  expect(await slide(true)).toEqual({ count: 1, oldestLeavesAt: start + 1000 });
  clock.now = start + 400;
  expect(await slide(true)).toEqual({ count: 2, oldestLeavesAt: start + 1000 });
  clock.now = start + 800;
  expect(await slide(true)).toEqual({ count: 3, oldestLeavesAt: start + 1000 });
  clock.now = start + 900; // a fourth: the oldest is dropped to keep three
  expect(await slide(true)).toEqual({ count: 3, oldestLeavesAt: start + 1400 });
  clock.now = start + 1400; // the event at 400 is a window old now
  expect(await slide(false)).toEqual({ count: 2, oldestLeavesAt: start + 1800 });
  clock.now = start + 1900;
  expect(await slide(false)).toEqual({ count: 0, oldestLeavesAt: 0 });
});

test('the fixed window opens with its first request and closes windowMs later; the next request opens another', async () => {
  const start = 1_000_000;
  const clock = { now: start };
  const counters = new MemoryLimitCounters(() => clock.now);
  expect(await counters.countInWindow('rate:x', 60_000)).toEqual({ count: 1, resetsAt: start + 60_000 });
  clock.now = start + 59_999;
  expect(await counters.countInWindow('rate:x', 60_000)).toEqual({ count: 2, resetsAt: start + 60_000 });
  clock.now = start + 60_000;
  expect(await counters.countInWindow('rate:x', 60_000)).toEqual({ count: 1, resetsAt: start + 120_000 });
  expect(await counters.countInWindow('rate:y', 60_000)).toEqual({ count: 1, resetsAt: start + 120_000 });
});

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
