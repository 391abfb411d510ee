import fc from 'fast-check';
import {
  groupedLicensesListShape,
  isCalendarDate,
  isIsoInstant,
  licenseDetailListShape,
  licenseDetailShape,
  licenseListShape,
  licenseShape,
  productAssignmentListShape,
  productAssignmentShape,
  type WireShape,
} from '../../src/portal/wireTypes';

/** Values near the contract's edges, for any field: right and wrong types, bounds, bad dates, arrays. */
const anyValue = fc.oneof(
  fc.constantFrom(
    null,
    undefined,
    0,
    -0,
    1,
    -1,
    0.5,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    '',
    '1',
    '2027-02-28',
    '2028-02-29',
    '2027-02-29',
    '2027-13-01',
    '0099-12-31',
    '0100-01-01',
    '2027-1-01',
    '2026-05-02T12:00:00Z',
    '2026-05-02T12:00:00.123+02:00',
    '2026-05-02T25:00:00Z',
    '2026-05-02 12:00:00Z',
    true,
    [],
    ['a'],
    [1],
    {},
  ),
  fc.string(),
  fc.integer(),
  fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }),
);

const validLicense = {
  id: 7,
  product_assignment_id: 1,
  hwid: 'HW-7',
  expiration_date: '2027-05-01',
  note: null,
  created_at: '2026-01-01T00:00:00Z',
};
const validAssignment = {
  id: 1,
  product_name: 'IFace SDK',
  product_code: null,
  total_license_count: null,
  used_license_count: 3,
  valid_until: '2027-12-31',
  note: 'n',
  created_at: null,
};
const validDetail = {
  id: 9,
  license_id: 7,
  file_name: 'iengine.lic',
  customer: 'Acme',
  products: ['iface'],
  hwids: [],
  expiration_date: null,
  created_at: '2026-01-01T00:00:00+01:00',
};

/** A valid record with some fields replaced, removed or added. */
function mutated(valid: Record<string, unknown>) {
  const keys = [...Object.keys(valid), 'extra'];
  return fc
    .array(fc.tuple(fc.constantFrom(...keys), fc.option(anyValue, { nil: 'remove' as const })), { maxLength: 3 })
    .map((changes) => {
      const record: Record<string, unknown> = { ...valid };
      for (const [key, value] of changes) {
        if (value === 'remove') delete record[key];
        else record[key] = value;
      }
      return record;
    });
}

/**
 * The property every in-place check keeps: what it accepts, the schema accepts, and reads back unchanged. Values
 * are checked as a body brings them, through `JSON.parse`.
 */
function agreesWithSchema<T>(shape: WireShape<T>, generated: unknown): void {
  const value: unknown = JSON.parse(JSON.stringify(generated) ?? 'null');
  if (!shape.fits(value)) return;
  const parsed = shape.schema.safeParse(value);
  expect(parsed.success).toBe(true);
  expect(parsed.data).toStrictEqual(value);
}

describe('the in-place checks of wire bodies', () => {
  test.each<[string, WireShape<unknown>, Record<string, unknown>]>([
    ['productAssignment', productAssignmentShape, validAssignment],
    ['license', licenseShape, validLicense],
    ['licenseDetail', licenseDetailShape, validDetail],
  ])('accept a valid %s as it is', (_name, shape, valid) => {
    expect(shape.fits(valid)).toBe(true);
    expect(shape.schema.safeParse(valid).success).toBe(true);
  });

  test.each<[string, WireShape<unknown>, Record<string, unknown>]>([
    ['productAssignment', productAssignmentShape, validAssignment],
    ['license', licenseShape, validLicense],
    ['licenseDetail', licenseDetailShape, validDetail],
  ])('never accept a %s the schema refuses or would change', (_name, shape, valid) => {
    fc.assert(
      fc.property(mutated(valid), (record) => agreesWithSchema(shape, record)),
      { numRuns: 2000 },
    );
  });

  test('never accept a list the schema refuses', () => {
    const lists = fc.oneof(
      fc.array(mutated(validLicense), { maxLength: 3 }).map((items) => [licenseListShape, items] as const),
      fc.array(mutated(validAssignment), { maxLength: 3 }).map((items) => [productAssignmentListShape, items] as const),
      fc.array(mutated(validDetail), { maxLength: 3 }).map((items) => [licenseDetailListShape, items] as const),
      fc
        .array(fc.record({ product_assignment: mutated(validAssignment), licenses: fc.array(mutated(validLicense)) }), {
          maxLength: 2,
        })
        .map((groups) => [groupedLicensesListShape, groups] as const),
      anyValue.map((value) => [licenseListShape, value] as const),
    );
    fc.assert(
      fc.property(lists, ([shape, value]) => agreesWithSchema(shape as WireShape<unknown>, value)),
      { numRuns: 2000 },
    );
  });

  test('leave a record with a key the contract does not name to zod, which drops it', () => {
    const withExtra = { ...validLicense, extra: 1 };
    expect(licenseShape.fits(withExtra)).toBe(false);
    expect(licenseShape.schema.parse(withExtra)).toStrictEqual(validLicense);
  });
});

describe('isCalendarDate', () => {
  test.each([
    ['2027-02-28', true],
    ['2028-02-29', true],
    ['2000-02-29', true],
    ['1900-02-29', false],
    ['2027-02-29', false],
    ['2027-04-31', false],
    ['2027-12-31', true],
    ['2027-13-01', false],
    ['2027-00-10', false],
    ['2027-01-00', false],
    ['0100-01-01', true],
    ['0099-12-31', false],
    ['2027-1-01', false],
    ['2027-01-01T00:00:00Z', false],
    ['２０２７-01-01', false],
    ['', false],
  ])('%s: %s', (value, expected) => {
    expect(isCalendarDate(value)).toBe(expected);
  });
});

describe('isIsoInstant', () => {
  /** What it was before the portal's own form was read digit by digit: a pattern and `Date.parse`. */
  const parsedInstant = (value: string) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) &&
    !Number.isNaN(Date.parse(value));

  /** Two digits, mostly near the edges of hours, minutes, months and days. */
  const twoDigits = fc
    .oneof(fc.constantFrom(0, 1, 12, 13, 23, 24, 28, 29, 30, 31, 32, 59, 60, 99), fc.integer({ min: 0, max: 99 }))
    .map((n) => String(n).padStart(2, '0'));
  const year = fc
    .oneof(fc.constantFrom(0, 99, 100, 1900, 2000, 2024, 2027, 9999), fc.integer({ min: 0, max: 9999 }))
    .map((n) => String(n).padStart(4, '0'));
  const fraction = fc.oneof(fc.constant(''), fc.stringMatching(/^\.[0-9]{0,5}$/));
  const offset = fc.oneof(
    fc.constantFrom('Z', 'z', ''),
    fc
      .tuple(fc.constantFrom('+', '-', ' '), twoDigits, fc.constantFrom(':', ''), twoDigits)
      .map((parts) => parts.join('')),
  );
  const instantLike = fc
    .tuple(
      year,
      twoDigits,
      twoDigits,
      fc.constantFrom('T', 't', ' '),
      twoDigits,
      twoDigits,
      fc.boolean(),
      twoDigits,
      fraction,
      offset,
    )
    .map(
      ([y, month, day, t, hour, minute, withSeconds, second, fractionPart, offsetPart]) =>
        `${y}-${month}-${day}${t}${hour}:${minute}${withSeconds ? `:${second}${fractionPart}` : ''}${offsetPart}`,
    );
  /** An instant-like text with one character replaced, dropped or added. */
  const mutated = fc
    .tuple(instantLike, fc.nat(), fc.constantFrom('', '0', '9', ':', '-', '.', 'Z', '+', '٣'), fc.boolean())
    .map(([text, at, char, insert]) => {
      const index = at % (text.length + 1);
      return text.slice(0, index) + char + text.slice(insert ? index : index + 1);
    });

  test('says what the pattern and Date.parse said, for every text', () => {
    fc.assert(
      fc.property(fc.oneof(instantLike, mutated, fc.string()), (value) => isIsoInstant(value) === parsedInstant(value)),
      { numRuns: 50_000 },
    );
  });

  test.each([
    ['2023-08-31T10:33:04Z', true],
    ['2023-08-31T10:33:04.123+02:00', true],
    ['2023-08-31T10:33Z', true],
    ['2021-02-30T00:00:00Z', true], // Date.parse rolls it into March
    ['2021-01-01T24:00:00Z', true],
    ['2021-01-01T24:00:01Z', false],
    ['2021-01-01T23:59:60Z', false],
    ['2021-01-01T00:00:00+24:00', false],
    ['2023-08-31T10:33:04', false],
    ['2023-08-31 10:33:04Z', false],
  ])('%s: %s', (value, expected) => {
    expect(isIsoInstant(value)).toBe(expected);
  });
});
