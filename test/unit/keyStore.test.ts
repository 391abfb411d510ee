import { MemoryKeyStore, type KeyRecord } from '../../src/idempotency/keyStore';

const license = {
  id: 1,
  product_assignment_id: 1,
  hwid: 'H',
  expiration_date: '2027-01-01',
  note: null,
  created_at: null,
};
const pending = (since = 0): KeyRecord => ({ state: 'pending', fingerprint: 'f', since });
const succeeded = (since = 0): KeyRecord => ({ state: 'succeeded', fingerprint: 'f', since, license });

describe('MemoryKeyStore', () => {
  test('claim stores a free key and answers the record of a held one', async () => {
    const store = new MemoryKeyStore();
    expect(await store.claim('a', pending())).toBeUndefined();
    expect(await store.claim('a', pending(1))).toEqual(pending());
    await store.settle('a', succeeded());
    expect(await store.claim('a', pending(2))).toEqual(succeeded());
    await store.release('a');
    expect(await store.claim('a', pending(3))).toBeUndefined();
  });

  test('keys expire after their time to live', async () => {
    let now = 0;
    const store = new MemoryKeyStore({ ttlMs: 1000, now: () => now });
    await store.claim('a', pending());
    await store.settle('a', succeeded());
    now = 999;
    expect(await store.claim('a', pending())).toEqual(succeeded());
    now = 1000;
    expect(await store.claim('a', pending())).toBeUndefined();
  });

  test('the store holds at most maxKeys, dropping the oldest settled keys and never a pending one', async () => {
    const store = new MemoryKeyStore({ maxKeys: 3 });
    await store.claim('pending-oldest', pending());
    for (const key of ['s1', 's2', 's3', 's4']) {
      await store.claim(key, pending());
      await store.settle(key, succeeded());
    }
    expect(store.size()).toBe(3);
    expect(await store.claim('pending-oldest', pending(9))).toEqual(pending());
    expect(await store.claim('s1', pending())).toBeUndefined();
  });

  test('whenSettled resolves when the key settles, or after its timeout', async () => {
    const store = new MemoryKeyStore();
    await store.claim('a', pending());
    const waiting = store.whenSettled('a', 5000);
    await store.settle('a', succeeded());
    await expect(waiting).resolves.toEqual(succeeded());
    await store.claim('b', pending());
    await expect(store.whenSettled('b', 10)).resolves.toEqual(pending());
  });

  test('replace takes over a record only if it is still the one expected', async () => {
    const store = new MemoryKeyStore();
    const lost: KeyRecord = {
      state: 'unknown',
      fingerprint: 'f',
      since: 5,
      productAssignmentId: 1,
      knownLicenseIds: [],
    };
    await store.claim('a', lost);
    expect(await store.replace('a', lost, pending(6))).toBe(true);
    expect(await store.replace('a', lost, pending(7))).toBe(false);
  });
});
