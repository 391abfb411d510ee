import type { LicenseOnWire, LicenseWire } from '../../src/portal/wireTypes';
import { licenseRecord } from '../helpers/wireRecords';
import {
  checkLicenseFilter,
  checkLicensePageArgs,
  LicensePages,
  checkPageArgs,
  cursorOf,
  licenseMatches,
  licenseOrdering,
  licensePage,
  paginate,
} from '../../src/graphql/connections';
import { MemoryListCache } from '../../src/portal/listCache';
import type { LicenseFilter, LicenseOrder } from '../../src/generated/graphql';
import { InputError } from '../../src/graphql/errors';
import fc from 'fast-check';

function license(id: number, fields: Partial<LicenseOnWire> = {}): LicenseWire {
  return licenseRecord(id, { created_at: '2026-01-01T00:00:00Z', ...fields });
}

describe('paginate', () => {
  const licenses = [
    license(3, { expiration_date: '2027-05-01' }),
    license(1, { expiration_date: '2027-05-01' }),
    license(2, { expiration_date: '2026-01-01' }),
  ];

  test('without first, every item in ascending id order', () => {
    const ordering = licenseOrdering(undefined);
    const page = paginate(licenses, ordering, checkPageArgs(ordering, undefined, undefined));
    expect(page.edges.map((edge) => edge.node.id)).toEqual([1, 2, 3]);
    expect(page).toMatchObject({ totalCount: 3, hasNextPage: false, hasPreviousPage: false });
  });

  test('ties of the sort key are broken by id in the same direction, and pages join without gaps', () => {
    const ordering = licenseOrdering({ field: 'EXPIRATION_DATE', direction: 'DESC' });
    const first = paginate(licenses, ordering, checkPageArgs(ordering, 2, undefined));
    expect(first.edges.map((edge) => edge.node.id)).toEqual([3, 1]);
    expect(first.hasNextPage).toBe(true);
    const second = paginate(licenses, ordering, checkPageArgs(ordering, 2, cursorOf(first.edges[1]!)));
    expect(second.edges.map((edge) => edge.node.id)).toEqual([2]);
    expect(second).toMatchObject({ hasNextPage: false, hasPreviousPage: true, totalCount: 3 });
  });

  test('a cursor names a position, so a licence added before it does not shift the next page', () => {
    const ordering = licenseOrdering(undefined);
    const first = paginate(licenses, ordering, checkPageArgs(ordering, 2, undefined));
    const grown = [...licenses, license(0), license(4)];
    const next = paginate(grown, ordering, checkPageArgs(ordering, 2, cursorOf(first.edges[1]!)));
    expect(next.edges.map((edge) => edge.node.id)).toEqual([3, 4]);
  });

  test('first: 0 gives an empty page that still counts', () => {
    const ordering = licenseOrdering(undefined);
    const page = paginate(licenses, ordering, checkPageArgs(ordering, 0, undefined));
    expect(page).toMatchObject({ totalCount: 3, edges: [], hasNextPage: true });
  });

  test.each([
    [-1, undefined, 'first'],
    [1001, undefined, 'first'],
    [10, 'not-a-cursor', 'after'],
    [10, Buffer.from('["license:ID:ASC","x"]').toString('base64url'), 'after'],
    [10, Buffer.from('["license:ID:ASC","x",3]').toString('base64url'), 'after'],
  ])('first %p after %p is refused naming %s', (first, after, field) => {
    const ordering = licenseOrdering(undefined);
    let caught: unknown;
    try {
      checkPageArgs(ordering, first, after);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as InputError).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  test('a page of a list out of order is the page of the whole list sorted, cursor or not', () => {
    const fields = ['ID', 'EXPIRATION_DATE', 'CREATED_AT'] as const;
    const dates = ['2026-01-01', '2026-06-30', '2027-05-01'];
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 300 }), { maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 60, maxLength: 60 }),
        fc.constantFrom(...fields),
        fc.constantFrom('ASC' as const, 'DESC' as const),
        fc.integer({ min: 0, max: 25 }),
        fc.option(fc.integer({ min: 0, max: 59 }), { nil: undefined }),
        (ids, picks, field, direction, first, cursorAt) => {
          const items = ids.map((id, index) =>
            license(id, {
              expiration_date: dates[picks[index]!]!,
              created_at: `2026-0${picks[index]! + 1}-01T00:00:00Z`,
            }),
          );
          const ordering = licenseOrdering({ field, direction });
          const whole = paginate(items, ordering, checkPageArgs(ordering, undefined, undefined)).edges;
          const after = cursorAt === undefined || whole.length === 0 ? undefined : whole[cursorAt % whole.length]!;
          const start = after === undefined ? 0 : whole.indexOf(after) + 1;
          const page = paginate(items, ordering, checkPageArgs(ordering, first, after && cursorOf(after)));
          expect(page.nodes.map((node) => node.id)).toEqual(
            whole.slice(start, start + first).map((edge) => edge.node.id),
          );
          expect([page.totalCount, page.hasNextPage, page.hasPreviousPage]).toEqual([
            items.length,
            start + first < whole.length,
            start > 0,
          ]);
        },
      ),
    );
  });

  test('a cursor of another order is refused', () => {
    const byId = licenseOrdering(undefined);
    const cursor = cursorOf(paginate(licenses, byId, checkPageArgs(byId, 1, undefined)).edges[0]!);
    const byDate = licenseOrdering({ field: 'EXPIRATION_DATE', direction: 'ASC' });
    expect(() => checkPageArgs(byDate, 1, cursor)).toThrow(InputError);
  });
});

describe('licence filters', () => {
  test.each([
    [{ universal: true }, [2]],
    [{ universal: false }, [1, 3]],
    [{ hwid: 'Apsh8svsn3/3xyID' }, [1]],
    [{ search: 'KAMERA' }, [3]],
    [{ search: 'apsh' }, [1]],
    [{ expiresBefore: '2027-01-01' }, [2]],
    [{ expiresAfter: '2027-01-01' }, [3]],
    [{ productAssignmentId: '9' }, [3]],
  ])('%j keeps %j', (filter, ids) => {
    const licenses = [
      license(1, { hwid: 'Apsh8svsn3/3xyID', expiration_date: '2027-01-01' }),
      license(2, { hwid: null, expiration_date: '2026-12-31', note: 'Universal' }),
      license(3, {
        hwid: 'IM0000ffc535fc60',
        expiration_date: '2027-01-02',
        note: 'Vstupná kamera 2',
        product_assignment_id: 9,
      }),
    ];
    const checked = checkLicenseFilter(filter);
    expect(licenses.filter((item) => licenseMatches(item, checked)).map((item) => item.id)).toEqual(ids);
  });

  test.each([
    [{ productAssignmentId: '0' }, 'productAssignmentId'],
    [{ productAssignmentId: 'abc' }, 'productAssignmentId'],
    [{ expiresBefore: '2027-02-30' }, 'expiresBefore'],
    [{ expiresAfter: '27-1-1' }, 'expiresAfter'],
  ])('%j is refused naming %s', (filter, field) => {
    expect(() => checkLicenseFilter(filter)).toThrow(
      expect.objectContaining({ extensions: expect.objectContaining({ field }) }),
    );
  });
});

describe('licensePage: a list the read cache keeps is paged as any other', () => {
  /** 200 licences over 4 assignments, 6 expiration dates, universal or not, some created at the same moment. */
  const licenses = Array.from({ length: 200 }, (_, index) =>
    license(index + 1, {
      product_assignment_id: (index % 4) + 1,
      hwid: index % 3 === 0 ? null : `HW-${index % 7}`,
      expiration_date: `2027-0${(index % 6) + 1}-15`,
      created_at: index % 5 === 0 ? null : `2026-01-${String((index % 28) + 1).padStart(2, '0')}T00:00:00Z`,
    }),
  );

  /** The same licences as a list the read cache keeps (frozen, with its orders made once). */
  async function kept(): Promise<readonly LicenseWire[]> {
    const cache = new MemoryListCache(60_000);
    const copy = licenses.map((each) => ({ ...each }));
    await cache.store('alice', 'license.list', Buffer.from(JSON.stringify(copy)), copy);
    return (await cache.lookup<LicenseWire[]>('alice', 'license.list')).records!;
  }

  const filters: LicenseFilter[] = [
    {},
    { universal: false, expiresAfter: '2027-02-15' },
    { productAssignmentId: '2', expiresBefore: '2027-05-01' },
    { search: 'hw-3' },
  ];
  const orders: LicenseOrder[] = [
    { field: 'EXPIRATION_DATE', direction: 'ASC' },
    { field: 'CREATED_AT', direction: 'DESC' },
    { field: 'ID', direction: 'DESC' },
  ];

  test("a large kept list's page is cut once for every request that asks for it; another list's, once per request", async () => {
    const cache = new MemoryListCache(60_000);
    const many = Array.from({ length: 1_000 }, (_, index) =>
      license(index + 1, { expiration_date: `2027-0${(index % 6) + 1}-15` }),
    );
    await cache.store('alice', 'license.list', Buffer.from(JSON.stringify(many)), many);
    const list = (await cache.lookup<LicenseWire[]>('alice', 'license.list')).records!;
    const licenses = many.map((each) => ({ ...each }));
    const args = checkLicensePageArgs({
      filter: { universal: false },
      orderBy: { field: 'EXPIRATION_DATE', direction: 'ASC' },
      first: 5,
    });
    const [first, second] = [new LicensePages(), new LicensePages()];
    expect(second.of(list, args)).toBe(first.of(list, args));
    expect(second.of(licenses, args)).not.toBe(first.of(licenses, args));
    expect(second.of(licenses, args).nodes).toEqual(first.of(list, args).nodes);
    // Within one request, the same page of any list is the one cut.
    expect(first.of(licenses, args)).toBe(first.of(licenses, args));
  });

  test.each(filters.flatMap((filter) => orders.map((order) => [filter, order] as const)))(
    'filter %j, order %j: every page, walked by its cursors, as from the list not kept',
    async (filter, order) => {
      const list = await kept();
      const ordering = licenseOrdering(order);
      const checked = checkLicenseFilter(filter);
      let after: string | undefined;
      for (let pages = 0; pages < 50; pages += 1) {
        const args = checkPageArgs(ordering, 7, after);
        const fromKept = licensePage(list, checked, ordering, args);
        const fromPlain = licensePage(licenses, checked, ordering, args);
        expect(fromKept.nodes.map((node) => node.id)).toEqual(fromPlain.nodes.map((node) => node.id));
        expect([fromKept.totalCount, fromKept.hasNextPage, fromKept.hasPreviousPage]).toEqual([
          fromPlain.totalCount,
          fromPlain.hasNextPage,
          fromPlain.hasPreviousPage,
        ]);
        if (!fromKept.hasNextPage) return;
        after = cursorOf(fromKept.edgeOf(fromKept.nodes.at(-1)!));
      }
      throw new Error('more pages than the licences allow');
    },
  );
});
