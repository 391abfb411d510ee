/**
 * The admission queue: slots, the line, and a request that leaves the line when nobody waits for it any more.
 */
import { AdmissionQueue } from '../../src/graphql/admission';

test('past the active slots requests wait in line; past the line they are refused at once', async () => {
  const queue = new AdmissionQueue(1, 1);
  const first = await queue.acquire();
  expect(first).toBeDefined();
  const second = queue.acquire();
  expect(await queue.acquire()).toBeUndefined();
  expect(queue.load()).toEqual({ active: 1, queued: 1 });
  first!();
  const admitted = await second;
  expect(admitted).toBeDefined();
  expect(queue.load()).toEqual({ active: 1, queued: 0 });
  admitted!();
  expect(queue.load()).toEqual({ active: 0, queued: 0 });
});

test('a request whose signal aborts while it waits leaves the line, and the freed slot goes to the next', async () => {
  const queue = new AdmissionQueue(1, 2);
  const first = (await queue.acquire())!;
  const gone = new AbortController();
  const leaving = queue.acquire(gone.signal);
  const staying = queue.acquire();
  expect(queue.load()).toEqual({ active: 1, queued: 2 });
  gone.abort();
  expect(await leaving).toBeUndefined();
  expect(queue.load()).toEqual({ active: 1, queued: 1 });
  first();
  expect(await staying).toBeDefined();
  expect(queue.load()).toEqual({ active: 1, queued: 0 });
});

test('an already aborted signal is not admitted', async () => {
  const queue = new AdmissionQueue(1, 1);
  const gone = new AbortController();
  gone.abort();
  expect(await queue.acquire(gone.signal)).toBeUndefined();
  expect(queue.load()).toEqual({ active: 0, queued: 0 });
});
