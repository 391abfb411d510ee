/**
 * The benchmark's fixed set of operations, run against the emulator's `large` seed as the `demo` user
 * (Acme Security: 40 assignments, 5,000 licences). Changing one changes every figure: keep them as they are, or
 * say so beside the results.
 */

/** Which operation a query is, for code that answers or judges each one its own way (the floor, the targets). */
export type BenchQueryKey = 'nested' | 'licenses' | 'aliased' | 'paged' | 'generate';

/** One operation of the benchmark. */
export interface BenchQuery {
  key: BenchQueryKey;
  /** Short name, for the table. */
  name: string;
  /** The GraphQL document, as sent. */
  document: string;
  /** The variables of one request; called once per request, since the mutation needs a new hwid each time. */
  variables(): Record<string, unknown> | undefined;
  /** The variables as printed beside the document, when there are any. */
  variablesShown?: string;
}

/**
 * How the operations are sized. `licensesFirst`: operations 1 and 2 ask for the first N of each licence list (on
 * the xlarge seed, so that the answer stays within MAX_RESULT_OBJECTS while the whole list is still read).
 */
export interface BenchSizes {
  licensesFirst?: number;
}

/** The sizes of the operations measured on the xlarge seed (400 assignments, 50,000 licences). */
export const XLARGE_SIZES: BenchSizes = { licensesFirst: 50 };

/** Five licences of the demo account in the large seed, from assignments 1, 12, 23, 33 and 48 (seed number 1). */
export const ALIASED_LICENSE_IDS: readonly number[] = [2647, 3321, 4022, 4352, 5971];

/** The large seed's assignment 1 is always Acme's unlimited one, so generating never runs out of credits. */
const UNLIMITED_ASSIGNMENT_ID = '1';

/**
 * The operations, in the order they run (the mutation last, so the licences it adds change no read's figures).
 * `today` is the UTC date, `YYYY-MM-DD`; `runId` makes the generated hwids unique across runs.
 */
export function benchQueries(today: string, runId: string, sizes: BenchSizes = {}): BenchQuery[] {
  let generated = 0;
  const expirationDate = addDays(today, 30);
  const licensesOf = sizes.licensesFirst === undefined ? 'licenses' : `licenses(first: ${sizes.licensesFirst})`;
  return [
    {
      key: 'nested',
      name: '1. assignments → licences → detail',
      document: `{ productAssignments { id productName ${licensesOf} { totalCount nodes { id hwid detail { fileName } productAssignment { productName } } } } }`,
      variables: () => undefined,
    },
    {
      key: 'licenses',
      name: '2. licences + assignment + detail',
      document: `{ ${licensesOf} { totalCount nodes { id productAssignment { productName } detail { hwids } } } }`,
      variables: () => undefined,
    },
    {
      key: 'aliased',
      name: '3. five aliased license(id:)',
      document: `{ ${ALIASED_LICENSE_IDS.map((id, index) => `l${index + 1}: license(id: ${id}) { id hwid productAssignment { productName } }`).join(' ')} }`,
      variables: () => undefined,
    },
    {
      key: 'paged',
      name: '4. filtered, paged licences',
      document:
        `{ licenses(filter: { universal: false, expiresAfter: "${today}" }, orderBy: { field: EXPIRATION_DATE, direction: ASC }, first: 20) ` +
        '{ totalCount nodes { id hwid productAssignment { productName } } pageInfo { endCursor } } }',
      variables: () => undefined,
    },
    {
      key: 'generate',
      name: '5. generateLicense',
      document:
        'mutation Generate($input: GenerateLicenseInput!) { generateLicense(input: $input) { license { id hwid expirationDate } productAssignment { id usedLicenseCount } } }',
      variables: () => ({
        input: { productAssignmentId: UNLIMITED_ASSIGNMENT_ID, hwid: `bench-${runId}-${++generated}`, expirationDate },
      }),
      variablesShown: `{ "input": { "productAssignmentId": "${UNLIMITED_ASSIGNMENT_ID}", "hwid": "bench-${runId}-<n>", "expirationDate": "${expirationDate}" } }  (n counts requests; no idempotencyKey)`,
    },
  ];
}

/** The operation `key` names (`--query` of `bench:cpu` and `bench:tracing`), with hwids made unique by `runId`. */
export function benchQueryNamed(key: string | undefined, today: string, runId: string): BenchQuery {
  const query = benchQueries(today, runId).find((each) => each.key === key);
  if (!query) throw new Error(`--query must be one of nested, licenses, aliased, paged, generate; not ${key}`);
  return query;
}

/** The JSON body of one request of `query`. */
export function requestBody(query: BenchQuery): string {
  const variables = query.variables();
  return JSON.stringify(variables === undefined ? { query: query.document } : { query: query.document, variables });
}

/** Today's date in UTC, `YYYY-MM-DD`: the server's and the emulator's idea of today. */
export function utcToday(): string {
  return new Date().toISOString().slice(0, 10);
}

function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
