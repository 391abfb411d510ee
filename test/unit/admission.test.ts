/**
 * The admission queue: slots, the line, fair turns between callers, and a request that leaves the line when
 * nobody waits for it any more.
 */
import { AdmissionQueue, OTHERS_ABOUT_MS } from '../../src/graphql/admission';

const limits = (maxActive: number, maxQueued: number, perCaller = maxActive) => ({ maxActive, maxQueued, perCaller });

/** Resolves once every promise already settled has run its callbacks. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

test('past the active slots requests wait in line; past the line they are refused at once', async () => {
  const queue = new AdmissionQueue(limits(1, 1));
  const first = await queue.acquire('a');
  expect(first).toBeDefined();
  const second = queue.acquire('a');
  expect(await queue.acquire('a')).toBeUndefined();
  expect(queue.load()).toEqual({ active: 1, queued: 1, callers: 1 });
  first!();
  const admitted = await second;
  expect(admitted).toBeDefined();
  expect(queue.load()).toEqual({ active: 1, queued: 0, callers: 1 });
  admitted!();
  expect(queue.load()).toEqual({ active: 0, queued: 0, callers: 0 });
});

test('a request whose signal aborts while it waits leaves the line, and the freed slot goes to the next', async () => {
  const queue = new AdmissionQueue(limits(1, 2));
  const first = (await queue.acquire('a'))!;
  const gone = new AbortController();
  const leaving = queue.acquire('a', gone.signal);
  const staying = queue.acquire('b');
  expect(queue.load()).toEqual({ active: 1, queued: 2, callers: 2 });
  gone.abort();
  expect(await leaving).toBeUndefined();
  expect(queue.load()).toEqual({ active: 1, queued: 1, callers: 2 });
  first();
  expect(await staying).toBeDefined();
  expect(queue.load()).toEqual({ active: 1, queued: 0, callers: 1 });
});

test('an already aborted signal is not admitted', async () => {
  const queue = new AdmissionQueue(limits(1, 1));
  const gone = new AbortController();
  gone.abort();
  expect(await queue.acquire('a', gone.signal)).toBeUndefined();
  expect(queue.load()).toEqual({ active: 0, queued: 0, callers: 0 });
});

test('one caller executes at most its share at once, while slots stay free for others', async () => {
  const queue = new AdmissionQueue(limits(4, 10, 2));
  const loud = [queue.acquire('loud'), queue.acquire('loud'), queue.acquire('loud')];
  await settled();
  expect(queue.load()).toEqual({ active: 2, queued: 1, callers: 1 });
  // Another caller does not wait behind the loud one's line: slots are free.
  expect(await queue.acquire('quiet')).toBeDefined();
  const [first] = await Promise.all(loud.slice(0, 2));
  first!();
  expect(await loud[2]).toBeDefined();
});

test('waiting operations are taken from the callers in turn, not in arrival order', async () => {
  const queue = new AdmissionQueue(limits(1, 100));
  const holder = (await queue.acquire('loud'))!;
  const order: string[] = [];
  const wait = (caller: string, index: number) =>
    queue.acquire(caller).then((release) => {
      order.push(`${caller}${index}`);
      release!();
    });
  const waits = [
    ...[1, 2, 3, 4, 5].map((index) => wait('loud', index)),
    wait('quiet', 1),
    wait('other', 1),
    wait('quiet', 2),
  ];
  holder();
  await Promise.all(waits);
  expect(order).toEqual(['loud1', 'quiet1', 'other1', 'loud2', 'quiet2', 'loud3', 'loud4', 'loud5']);
});

test('when the line is full, the caller holding most of it gives up its newest place, not a quieter newcomer', async () => {
  const queue = new AdmissionQueue(limits(1, 3));
  const holder = (await queue.acquire('loud'))!;
  const loud = [1, 2, 3].map(() => queue.acquire('loud'));
  // Full: another loud request is refused at once.
  expect(await queue.acquire('loud')).toBeUndefined();
  // A quiet caller's request takes the loud caller's newest place.
  const quiet = queue.acquire('quiet');
  expect(await loud[2]).toBeUndefined();
  expect(queue.load()).toEqual({ active: 1, queued: 3, callers: 2 });
  holder();
  const firstLoud = await loud[0];
  firstLoud!();
  expect(await quiet).toBeDefined();
});

test("a heavy operation takes half its caller's share: two run at once, the caller's others wait, other callers do not", async () => {
  const queue = new AdmissionQueue(limits(8, 10, 4));
  const heavy = (await queue.acquire('loud', undefined, Infinity))!;
  expect(queue.load()).toMatchObject({ active: 2 });
  const secondHeavy = (await queue.acquire('loud', undefined, 50))!;
  expect(queue.load()).toMatchObject({ active: 4 });
  const loudSmall = queue.acquire('loud', undefined, 1);
  await settled();
  expect(queue.load()).toMatchObject({ active: 4, queued: 1 });
  const quiet = await queue.acquire('quiet', undefined, 1);
  expect(quiet).toBeDefined();
  heavy();
  expect(await loudSmall).toBeDefined();
  expect(queue.load()).toMatchObject({ active: 4, queued: 0 });
  secondHeavy();
  expect(queue.load()).toMatchObject({ active: 2 });
});

test('a heavy operation waiting for room in the whole is not passed by lighter ones arriving after it', async () => {
  const queue = new AdmissionQueue(limits(4, 10, 8));
  const small = await Promise.all([queue.acquire('a'), queue.acquire('b')]);
  const heavy = queue.acquire('c', undefined, 4);
  await settled();
  const later = queue.acquire('d', undefined, 1);
  await settled();
  expect(queue.load()).toMatchObject({ active: 2, queued: 2 });
  for (const release of small) release!();
  const admittedHeavy = await heavy;
  expect(queue.load()).toMatchObject({ active: 4, queued: 1 });
  admittedHeavy!();
  expect(await later).toBeDefined();
});

test("while another caller is about, a heavy operation takes its caller's whole share, until that caller has been gone a while", async () => {
  let now = 0;
  const queue = new AdmissionQueue(limits(16, 10, 4), () => now);
  // Alone: two heavy operations of one caller run at once.
  const [first, second] = (await Promise.all([
    queue.acquire('loud', undefined, Infinity),
    queue.acquire('loud', undefined, Infinity),
  ])) as Array<() => void>;
  expect(queue.load()).toMatchObject({ active: 4, queued: 0 });
  // Another caller comes and goes: the next heavy one waits for the whole share, so they run one at a time.
  (await queue.acquire('quiet'))!();
  const third = queue.acquire('loud', undefined, Infinity);
  first!();
  await settled();
  expect(queue.load()).toMatchObject({ active: 2, queued: 1 });
  second!();
  const thirdRelease = (await third)!;
  expect(queue.load()).toMatchObject({ active: 4, queued: 0 });
  const fourth = queue.acquire('loud', undefined, Infinity);
  await settled();
  expect(queue.load()).toMatchObject({ active: 4, queued: 1 });
  thirdRelease();
  (await fourth)!();
  // Once the other caller has been gone for OTHERS_ABOUT_MS, two run at once again.
  now += OTHERS_ABOUT_MS;
  const again = await Promise.all([
    queue.acquire('loud', undefined, Infinity),
    queue.acquire('loud', undefined, Infinity),
  ]);
  expect(queue.load()).toMatchObject({ active: 4, queued: 0 });
  for (const release of again) release!();
});
