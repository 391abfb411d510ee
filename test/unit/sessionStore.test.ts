/**
 * Sessions and their in-memory store, in-process on a clock the tests move: what is kept (a hash of the id, the
 * credentials sealed), when a session ends (idle, maximum age, signed out), and the store's bound.
 */
import { Sessions } from '../../src/sessions/sessions';
import { MemorySessionStore, type SessionRecord, type SessionStore } from '../../src/sessions/sessionStore';

const IDLE_MS = 1000;
const MAX_AGE_MS = 5000;

/** A store that keeps what it was handed, for the tests to read. */
class RecordingStore implements SessionStore {
  readonly created = new Map<string, SessionRecord>();
  touches = 0;
  constructor(private readonly inner: SessionStore) {}
  async create(key: string, record: SessionRecord) {
    this.created.set(key, record);
    await this.inner.create(key, record);
  }
  async touch(key: string) {
    this.touches += 1;
    return this.inner.touch(key);
  }
  async delete(key: string) {
    await this.inner.delete(key);
  }
}

function setUp(secret = Buffer.alloc(32, 7)) {
  const clock = { now: 1_000_000 };
  const now = () => clock.now;
  const store = new RecordingStore(new MemorySessionStore({ idleTimeoutMs: IDLE_MS, now }));
  const sessions = new Sessions({ store, secret, idleTimeoutMs: IDLE_MS, maxAgeMs: MAX_AGE_MS, now });
  return { clock, store, sessions };
}

test('a session acts with the credentials it was started with; the store holds neither them nor the id', async () => {
  const { store, sessions } = setUp();
  const { id, session } = await sessions.start('zoë', 'pässwörd:with:colons');
  expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
  const authorization = `Basic ${Buffer.from('zoë:pässwörd:with:colons').toString('base64')}`;
  expect(session).toEqual({ username: 'zoë', authorization, expiresAt: 1_000_000 + IDLE_MS });
  expect(await sessions.resume(id)).toEqual(session);

  const [key, record] = [...store.created][0]!;
  const kept = key + JSON.stringify(record);
  for (const secret of ['zoë', 'pässwörd', authorization.slice(6), Buffer.from('pässwörd').toString('hex'), id])
    expect(kept).not.toContain(secret);
  expect(record).toEqual({ startedAt: 1_000_000, endsAt: 1_000_000 + MAX_AGE_MS, sealed: expect.any(String) });
});

test('every start is a new id, and sealed afresh', async () => {
  const { store, sessions } = setUp();
  const first = await sessions.start('demo', 'demo');
  const second = await sessions.start('demo', 'demo');
  expect(second.id).not.toBe(first.id);
  const [a, b] = [...store.created.values()];
  expect(a!.sealed).not.toBe(b!.sealed);
});

test('unused for the idle timeout it ends; each resume begins the idle time again', async () => {
  const { clock, sessions } = setUp();
  const { id } = await sessions.start('demo', 'demo');
  clock.now += IDLE_MS - 1;
  expect((await sessions.resume(id))?.expiresAt).toBe(clock.now + IDLE_MS);
  clock.now += IDLE_MS - 1;
  expect(await sessions.resume(id)).toBeDefined();
  clock.now += IDLE_MS;
  expect(await sessions.resume(id)).toBeUndefined();
});

test('in use, it ends at its maximum age, and its expiry never says later', async () => {
  const { clock, sessions } = setUp();
  const startedAt = clock.now;
  const { id } = await sessions.start('demo', 'demo');
  while (clock.now + IDLE_MS / 2 < startedAt + MAX_AGE_MS) {
    clock.now += IDLE_MS / 2;
    const session = await sessions.resume(id);
    expect(session?.expiresAt).toBe(Math.min(clock.now + IDLE_MS, startedAt + MAX_AGE_MS));
  }
  clock.now = startedAt + MAX_AGE_MS;
  expect(await sessions.resume(id)).toBeUndefined();
});

test('ended, it is gone; an id of another shape is not even looked up', async () => {
  const { store, sessions } = setUp();
  const { id } = await sessions.start('demo', 'demo');
  await sessions.end(id);
  expect(await sessions.resume(id)).toBeUndefined();
  const touches = store.touches;
  for (const malformed of ['', 'short', `${id}x`, `${id.slice(0, 42)}=`, '../../etc/passwd'])
    expect(await sessions.resume(malformed)).toBeUndefined();
  expect(store.touches).toBe(touches);
});

test('a session sealed under another secret cannot be opened, and is ended', async () => {
  const { store, sessions } = setUp(Buffer.alloc(32, 1));
  const { id } = await sessions.start('demo', 'demo');
  const other = new Sessions({ store, secret: Buffer.alloc(32, 2), idleTimeoutMs: IDLE_MS, maxAgeMs: MAX_AGE_MS });
  expect(await other.resume(id)).toBeUndefined();
  expect(await sessions.resume(id)).toBeUndefined();
});

test('the memory store is bounded by what it holds: the sessions least recently used go first', async () => {
  const store = new MemorySessionStore({ idleTimeoutMs: 60_000, maxBytes: 3 * 300 });
  const record = (n: number): SessionRecord => ({
    startedAt: 0,
    endsAt: Date.now() + 60_000,
    sealed: 'x'.repeat(100 + n),
  });
  await store.create('a', record(1));
  await store.create('b', record(2));
  await store.create('c', record(3));
  expect(await store.touch('a')).toBeDefined(); // a is now the most recently used
  await store.create('d', record(4));
  expect(await store.touch('b')).toBeUndefined();
  for (const key of ['a', 'c', 'd']) expect(await store.touch(key)).toBeDefined();
});
