/**
 * The read layer in process: concurrent reads of one caller's list share one lookup and one call, and after a
 * caller's write no read joins an older call and no older answer is kept, in one process and across processes that
 * share a cache. The portal is a function whose answers the test releases.
 */
import type { EndpointName } from '../../src/portal/endpoints';
import { MemoryListCache, type Generation, type ListCache } from '../../src/portal/listCache';
import { ReadCache, WriteLog } from '../../src/portal/readCache';
import type { PortalCaller } from '../../src/portal/transport';

const alice: PortalCaller = { authorization: 'Basic YWxpY2U6cHc=', callerKey: 'alice' };
const bob: PortalCaller = { authorization: 'Basic Ym9iOnB3', callerKey: 'bob' };

/** A portal list whose calls answer when the test says, each with the list as it was when the call started. */
class SlowList {
  items: number[] = [1, 2];
  calls = 0;
  private pending: Array<() => void> = [];

  fetch = (): Promise<Buffer> => {
    this.calls += 1;
    const snapshot = Buffer.from(JSON.stringify(this.items));
    return new Promise((resolve) => this.pending.push(() => resolve(snapshot)));
  };

  /** Answers every call under way. */
  async answer(): Promise<void> {
    await settle();
    for (const release of this.pending.splice(0)) release();
    await settle();
  }
}

const parse = (body: Buffer): number[] => JSON.parse(body.toString('utf8')) as number[];

/** Lets every promise chain that can run, run (the in-memory cache answers in microtasks). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test("concurrent reads of one caller's list make one call; another caller's read makes its own", async () => {
  const reads = new ReadCache(new MemoryListCache(60_000));
  const portal = new SlowList();
  const first = reads.list(alice, 'license.list', portal.fetch, parse);
  const second = reads.list(alice, 'license.list', portal.fetch, parse);
  const other = reads.list(bob, 'license.list', portal.fetch, parse);
  await portal.answer();
  expect(await Promise.all([first, second, other])).toEqual([
    [1, 2],
    [1, 2],
    [1, 2],
  ]);
  expect(portal.calls).toBe(2);
  // Kept: the next read is a hit, with no call.
  expect(await reads.list(alice, 'license.list', portal.fetch, parse)).toEqual([1, 2]);
  expect(portal.calls).toBe(2);
  expect(reads.lookups).toEqual({ hit: 1, miss: 2 });
});

test('a read after a write neither joins the call begun before it nor finds that call’s answer kept', async () => {
  const reads = new ReadCache(new MemoryListCache(60_000));
  const portal = new SlowList();
  const before = reads.list(alice, 'license.list', portal.fetch, parse);
  await settle(); // its call is under way, with the list as it was
  await reads.write(alice, async () => portal.items.push(3));
  const after = reads.list(alice, 'license.list', portal.fetch, parse);
  await portal.answer();
  expect(await before).toEqual([1, 2]);
  expect(await after).toEqual([1, 2, 3]);
  expect(portal.calls).toBe(2);
  expect(await reads.list(alice, 'license.list', portal.fetch, parse)).toEqual([1, 2, 3]);
  expect(portal.calls).toBe(2);
});

test('a write that fails still moves its caller’s reads on (a lost answer may have made a licence)', async () => {
  const reads = new ReadCache(new MemoryListCache(60_000));
  const portal = new SlowList();
  const first = reads.list(alice, 'license.list', portal.fetch, parse);
  await portal.answer();
  await first;
  await expect(reads.write(alice, () => Promise.reject(new Error('answer lost')))).rejects.toThrow('answer lost');
  const again = reads.list(alice, 'license.list', portal.fetch, parse);
  await portal.answer();
  await again;
  expect(portal.calls).toBe(2);
});

/** A cache shared by two processes (two ReadCaches), with the caller's generation, as Redis keeps it. */
class SharedCache implements ListCache {
  readonly shared = true;
  readonly keptReads = { served: 0, distrusted: 0 };
  private readonly entries = new Map<string, Buffer>();
  private readonly generations = new Map<string, number>();

  async lookup<T>(callerKey: string, endpoint: EndpointName, parse: (body: Buffer) => T) {
    const body = this.entries.get(`${callerKey}:${endpoint}`);
    return { records: body === undefined ? undefined : parse(body), generation: await this.generation(callerKey) };
  }
  async generation(callerKey: string): Promise<Generation> {
    return String(this.generations.get(callerKey) ?? 0);
  }
  async store(callerKey: string, endpoint: EndpointName, body: Buffer, _records: unknown, generation: Generation) {
    if (generation === (await this.generation(callerKey))) this.entries.set(`${callerKey}:${endpoint}`, body);
  }
  async afterWrite(callerKey: string) {
    this.generations.set(callerKey, (this.generations.get(callerKey) ?? 0) + 1);
    for (const key of [...this.entries.keys()]) if (key.startsWith(`${callerKey}:`)) this.entries.delete(key);
  }
}

test('across processes sharing a cache: a write through one keeps the other from joining or keeping older answers', async () => {
  const cache = new SharedCache();
  const here = new ReadCache(cache);
  const there = new ReadCache(cache);
  const portal = new SlowList();
  const before = here.list(alice, 'license.list', portal.fetch, parse);
  await settle();
  await there.write(alice, async () => portal.items.push(3));
  const after = here.list(alice, 'license.list', portal.fetch, parse);
  await portal.answer();
  expect(await before).toEqual([1, 2]);
  expect(await after).toEqual([1, 2, 3]);
  expect(portal.calls).toBe(2);
  expect(await there.list(alice, 'license.list', portal.fetch, parse)).toEqual([1, 2, 3]);
  expect(portal.calls).toBe(2);
});

test('show calls, unlisted endpoints and reads without credentials are never cached', async () => {
  const reads = new ReadCache(new MemoryListCache(60_000));
  const portal = new SlowList();
  const anonymous: PortalCaller = { authorization: undefined, callerKey: '' };
  for (const [caller, endpoint] of [
    [anonymous, 'license.list'],
    [alice, 'license.byAssignment.show'],
  ] as const) {
    for (let i = 0; i < 2; i += 1) {
      const read = reads.list(caller, endpoint, portal.fetch, parse);
      await portal.answer();
      await read;
    }
  }
  expect(portal.calls).toBe(4);
});

test('the write log forgets its oldest writers into a floor, so a forgotten one never reads as unwritten', () => {
  const log = new WriteLog();
  expect(log.of('alice')).toBe(0);
  log.record('alice');
  const alicesWrite = log.of('alice');
  expect(alicesWrite).toBeGreaterThan(0);
  for (let i = 0; i < 10_000; i += 1) log.record(`caller-${i}`);
  expect(log.of('alice')).toBeGreaterThanOrEqual(alicesWrite);
  expect(log.of('never-wrote')).toBeGreaterThanOrEqual(alicesWrite);
});
