/**
 * `npm run contract:check`: calls every read endpoint of a live portal and reports, field by field, where its
 * answers differ from the contract of `docs/portal-contract.md`, as `src/portal/wireTypes.ts` encodes it.
 *
 * It sends only GETs without side effects (never `license.generate`), validates with the server's own validators,
 * takes every path from `src/portal/endpoints.ts`, and keeps every credential out of the report.
 */
import { Pool, errors as undiciErrors } from 'undici';
import { z } from 'zod';
import { endpointPath, type EndpointName } from '../portal/endpoints';
import { fileNameOf } from '../portal/portalClient';
import { readBounded } from '../portal/responseBody';
import {
  groupedLicensesListWire,
  licenseDetailListWire,
  licenseDetailWire,
  licenseListWire,
  licenseWire,
  productAssignmentListWire,
  productAssignmentWire,
} from '../portal/wireTypes';

export interface ContractCheckOptions {
  /** The portal's origin, e.g. `https://customerportal.innovatrics.com`; a path or query in it is ignored. */
  portalUrl: string;
  /** The whole `Authorization` header value to send, e.g. `Basic …`. Never appears in the report. */
  authorization: string;
  /** Most time one request may take, headers and body each. Default 30 s. */
  timeoutMs?: number;
}

/** One thing checked: an endpoint's answer, or one rule of the error contract. */
interface ContractCheck {
  /** An endpoint name of `endpoints.ts` (`license.show`), or `error.*` for a rule of the error contract. */
  name: string;
  /** The path requested, without the origin. */
  path: string;
  /** True when nothing differs from the contract (also when the check was skipped); set once all checks ran. */
  ok: boolean;
  /** True when the check could not run, e.g. because the account holds no licence to show; `notes` says why. */
  skipped: boolean;
  /** Where the answer differs from the contract, each with the JSON path or the header it concerns. */
  differences: string[];
  /** What is worth knowing but fits the contract: fields the contract does not know, empty lists, hints. */
  notes: string[];
}

export interface ContractReport {
  /** The origin checked. */
  portalUrl: string;
  /**
   * `fits` and `differs` are verdicts on the contract; `credentialsRefused` (the portal answered 401 to the
   * credentials given) and `unreachable` (no answer came) mean nothing could be checked.
   */
  outcome: 'fits' | 'differs' | 'credentialsRefused' | 'unreachable';
  checks: ContractCheck[];
  /** True when every check is ok. */
  ok: boolean;
}

/** An id the portal is very unlikely to hold (the largest 32-bit integer), for the 404 rule. */
const NONEXISTENT_ID = 2147483647;

const DEFAULT_TIMEOUT_MS = 30_000;
/** Most bytes of one answer read: a body past it is a failure to answer, not a difference to list. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * Runs every check against the portal, one request at a time (gentle on a live portal), and resolves with the
 * report. Never rejects for what the portal answers or fails to answer: those are differences in the report.
 *
 * ```ts
 * const report = await runContractCheck({ portalUrl: 'https://customerportal.innovatrics.com', authorization });
 * process.stdout.write(formatReport(report));
 * ```
 */
export async function runContractCheck(options: ContractCheckOptions): Promise<ContractReport> {
  const origin = new URL(options.portalUrl).origin;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const pool = new Pool(origin, {
    connections: 1,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  // Once the portal cannot be reached at all, every later request would wait out the same timeout: fail them at once.
  let unreachable: Error | undefined;
  /** The first answer to the caller's own credentials, if any came. */
  let firstAnswer: RawAnswer | undefined;
  const portal: RawPortal = {
    get: async (path, authorization) => {
      if (unreachable !== undefined) throw unreachable;
      try {
        const answer = await getRaw(pool, path, authorization);
        if (authorization === options.authorization) firstAnswer ??= answer;
        return answer;
      } catch (error) {
        if (isConnectFailure(error)) unreachable = error instanceof Error ? error : new Error(String(error));
        throw error;
      }
    },
    authorization: options.authorization,
  };
  let checks: ContractCheck[];
  try {
    checks = await runChecks(portal);
  } finally {
    await pool.close();
  }
  // A portal that never answered, or refused the credentials from the first call on, made every check fail the
  // same way: that is not a difference from the contract, and nothing was checked.
  if (firstAnswer === undefined) return { portalUrl: origin, outcome: 'unreachable', checks: [], ok: false };
  if (firstAnswer.status === 401) return { portalUrl: origin, outcome: 'credentialsRefused', checks: [], ok: false };
  // The report holds text the portal sent; should a portal ever echo the caller's credentials, they go no further.
  const redact = redactorOf(options.authorization);
  const safeChecks = checks.map((check) => ({
    ...check,
    ok: check.differences.length === 0,
    differences: check.differences.map(redact),
    notes: check.notes.map(redact),
  }));
  const ok = safeChecks.every((check) => check.ok);
  return { portalUrl: origin, outcome: ok ? 'fits' : 'differs', checks: safeChecks, ok };
}

/** The report as readable text, one block per check, ending in a one-line verdict. */
export function formatReport(report: ContractReport): string {
  if (report.outcome === 'unreachable') {
    return `The portal at ${report.portalUrl} could not be reached: nothing was checked. Check PORTAL_URL and the network.\n`;
  }
  if (report.outcome === 'credentialsRefused') {
    return `The portal at ${report.portalUrl} refused the credentials (401): nothing was checked. Check PORTAL_USER and PORTAL_PASSWORD (or PORTAL_AUTHORIZATION).\n`;
  }
  const lines = [`Contract check of ${report.portalUrl} against docs/portal-contract.md`, ''];
  const nameWidth = Math.max(...report.checks.map((check) => check.name.length), 0);
  for (const check of report.checks) {
    const verdict = check.skipped ? 'SKIPPED' : check.ok ? 'OK' : 'DIFFERS';
    lines.push(`${verdict.padEnd(8)} ${check.name.padEnd(nameWidth)}  ${check.path}`);
    for (const difference of check.differences) lines.push(`           - ${difference}`);
    for (const note of check.notes) lines.push(`           note: ${note}`);
  }
  const differing = report.checks.filter((check) => !check.ok).length;
  const skipped = report.checks.filter((check) => check.skipped).length;
  lines.push('');
  lines.push(
    `${report.checks.length} checks: ${report.checks.length - differing - skipped} ok, ${differing} differ, ${skipped} skipped. ` +
      (report.ok
        ? 'The portal fits the contract.'
        : 'The portal differs from the contract: see the lines marked DIFFERS.'),
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Removes from text every form of the credential: the header value, its token, and for Basic the decoded
 * `user:password` and the password alone (from 3 characters: a shorter one would blank out unrelated text),
 * each also as it reads inside a quoted JSON string.
 */
export function redactorOf(authorization: string): (text: string) => string {
  const secrets = new Set<string>([authorization.trim()]);
  const [scheme, token] = authorization.trim().split(/\s+/, 2);
  if (token) {
    secrets.add(token);
    if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      secrets.add(decoded);
      const password = decoded.slice(decoded.indexOf(':') + 1);
      if (decoded.includes(':') && password.length >= 3) secrets.add(password);
    }
  }
  for (const secret of [...secrets]) secrets.add(JSON.stringify(secret).slice(1, -1));
  const ordered = [...secrets].filter((secret) => secret.length > 0).sort((a, b) => b.length - a.length);
  return (text) => ordered.reduce((redacted, secret) => redacted.split(secret).join('[redacted]'), text);
}

// ---------------------------------------------------------------------------------------------------------------
// The checks, in the order they run. Private.

/**
 * A licence file (`iengine.lic`) as `docs/portal-contract.md` describes it. The server streams these bytes unchanged and has
 * no validator for them, so the shape lives here, where only this check uses it.
 */
const licenseFileShape = z.object({
  version: z.string(),
  contract: z.object({
    customer: z.string(),
    expiration: z.object({ day: z.number().int(), month: z.number().int(), year: z.number().int() }),
    hwids: z.array(z.string()),
    products: z.array(z.string()),
  }),
  contract_signature: z.string(),
});

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface RawPortal {
  /** One GET; sends `authorization` when given, none when undefined. Rejects only when no answer came. */
  get(path: string, authorization: string | undefined): Promise<RawAnswer>;
  authorization: string;
}

/** What a JSON endpoint answered: its check, and the parsed body (valid or not) for the checks that follow. */
interface JsonOutcome {
  check: ContractCheck;
  json: unknown;
}

async function runChecks(portal: RawPortal): Promise<ContractCheck[]> {
  const checks: ContractCheck[] = [];

  const assignments = await checkJsonEndpoint(portal, 'productAssignment.list', undefined, productAssignmentListWire);
  checks.push(assignments.check);
  const assignmentIds = idsOf(assignments.json);
  checks.push(
    await checkShow(portal, 'productAssignment.show', assignmentIds[0], productAssignmentWire, whyNoId(assignments)),
  );

  const licenses = await checkJsonEndpoint(portal, 'license.list', undefined, licenseListWire);
  checks.push(licenses.check);
  const firstLicenseId = idsOf(licenses.json)[0];
  checks.push(await checkShow(portal, 'license.show', firstLicenseId, licenseWire, whyNoId(licenses)));

  checks.push((await checkJsonEndpoint(portal, 'licenseDetail.list', undefined, licenseDetailListWire)).check);
  const detail = await checkDetailShow(portal, firstLicenseId, whyNoId(licenses));
  checks.push(detail.check);

  const grouped = await checkJsonEndpoint(portal, 'license.byAssignment.list', undefined, groupedLicensesListWire);
  checkGroupsCoverAssignments(grouped, assignments.json);
  checks.push(grouped.check);
  // The assignment of the first licence has at least one licence, so the shape of the list's items is checked;
  // the first assignment of the list may have none.
  const firstLicense = firstItem(licenses.json);
  const assignmentWithLicences = isRecord(firstLicense)
    ? positiveInteger(firstLicense.product_assignment_id)
    : undefined;
  checks.push(
    await checkLicensesOfAssignment(portal, assignmentWithLicences ?? assignmentIds[0], whyNoId(assignments)),
  );

  const fileName =
    isRecord(detail.json) && typeof detail.json.file_name === 'string' ? detail.json.file_name : undefined;
  checks.push(await checkDownload(portal, firstLicenseId, fileName, whyNoId(licenses)));

  checks.push(await checkNoAuthorization(portal));
  checks.push(await checkUnknownId(portal));
  checks.push(await checkNonIntegerId(portal));
  return checks;
}

/** A list or show endpoint: status 200, `application/json`, a body that fits `schema`, ascending ids for a list. */
async function checkJsonEndpoint(
  portal: RawPortal,
  endpoint: EndpointName,
  id: number | undefined,
  schema: z.ZodType,
): Promise<JsonOutcome> {
  const check = newCheck(endpoint, endpointPath(endpoint, id));
  const answer = await fetchInto(check, portal, portal.authorization);
  if (!answer) return { check, json: undefined };
  if (answer.status !== 200) {
    check.differences.push(
      `status: expected 200, got ${answer.status} ${quoteBody(answer.body)}${statusHint(answer.status)}`,
    );
    return { check, json: undefined };
  }
  expectMediaType(check, answer, 'application/json');
  const json = parseJson(check, answer.body, 'body');
  if (json === NOT_JSON) return { check, json: undefined };
  compareWithSchema(check, schema, json);
  if (Array.isArray(json)) {
    if (json.length === 0) check.notes.push('the list is empty, so the shape of its items was not checked');
    expectAscendingIds(check, json, (item) => (isRecord(item) ? item.id : undefined), '.id');
  }
  return { check, json };
}

/** Why a list gave no id to check a show with: the account holds no record, or the list itself failed. */
function whyNoId(list: JsonOutcome): string {
  if (Array.isArray(list.json) && list.json.length === 0)
    return `not checked: ${list.check.name} is empty, so there is no id to ask for`;
  return `not checked: ${list.check.name} gave no id to ask for`;
}

/** A show by the record's own id: the record answered must be the one asked for. */
async function checkShow(
  portal: RawPortal,
  endpoint: EndpointName,
  id: number | undefined,
  schema: z.ZodType,
  whyNoId: string,
): Promise<ContractCheck> {
  if (id === undefined) return skipped(endpoint, whyNoId);
  const { check, json } = await checkJsonEndpoint(portal, endpoint, id, schema);
  // An id of the wrong type is already a difference of its own; this one is about a different record.
  if (isRecord(json) && typeof json.id === 'number' && json.id !== id) {
    check.differences.push(`id: expected ${id}, the id asked for, got ${describeValue(json.id)}`);
  }
  return check;
}

/**
 * `licenseDetail.show` takes the id of a **licence**, not of a detail (the vendor names it `license_id`), so the
 * detail it answers must be that licence's. A 404 here, or another licence's detail, suggests it takes a detail id.
 */
async function checkDetailShow(
  portal: RawPortal,
  licenseId: number | undefined,
  whyNoId: string,
): Promise<JsonOutcome> {
  if (licenseId === undefined) return { check: skipped('licenseDetail.show', whyNoId), json: undefined };
  const { check, json } = await checkJsonEndpoint(portal, 'licenseDetail.show', licenseId, licenseDetailWire);
  if (isRecord(json) && typeof json.license_id === 'number' && json.license_id !== licenseId) {
    check.differences.push(
      `license_id: expected ${licenseId}, the licence id asked for, got ${describeValue(json.license_id)}` +
        " (does the portal take the detail's own id here?)",
    );
  }
  if (check.differences.some((difference) => difference.startsWith('status: expected 200, got 404'))) {
    check.notes.push(
      "a 404 for an id taken from license.list suggests the parameter is the detail's own id, not the licence's",
    );
  }
  return { check, json };
}

/** `license.byAssignment.list` holds one entry per assignment of the account, also those with no licence. */
function checkGroupsCoverAssignments(grouped: JsonOutcome, assignmentsJson: unknown): void {
  if (!Array.isArray(grouped.json) || !Array.isArray(assignmentsJson)) return;
  const groupIds = new Set(
    grouped.json.map((group) =>
      isRecord(group) && isRecord(group.product_assignment) ? group.product_assignment.id : undefined,
    ),
  );
  const missing = idsOf(assignmentsJson).filter((id) => !groupIds.has(id));
  if (missing.length > 0) {
    grouped.check.differences.push(
      `expected one entry per product assignment of the account (${assignmentsJson.length}), ` +
        `but assignment ids ${listShort(missing)} from productAssignment.list have none`,
    );
  }
  expectAscendingIds(
    grouped.check,
    grouped.json,
    (group) => (isRecord(group) && isRecord(group.product_assignment) ? group.product_assignment.id : undefined),
    '.product_assignment.id',
  );
}

async function checkLicensesOfAssignment(
  portal: RawPortal,
  assignmentId: number | undefined,
  whyNoId: string,
): Promise<ContractCheck> {
  if (assignmentId === undefined) return skipped('license.byAssignment.show', whyNoId);
  const { check, json } = await checkJsonEndpoint(portal, 'license.byAssignment.show', assignmentId, licenseListWire);
  if (Array.isArray(json)) {
    const findings = new Findings();
    json.forEach((license, index) => {
      if (
        isRecord(license) &&
        typeof license.product_assignment_id === 'number' &&
        license.product_assignment_id !== assignmentId
      ) {
        findings.add(
          [index, 'product_assignment_id'],
          `expected ${assignmentId}, the assignment asked for`,
          license.product_assignment_id,
        );
      }
    });
    check.differences.push(...findings.render());
  }
  return check;
}

/** The licence file: status, `application/json`, `attachment` with the file's name, and JSON of the described shape. */
async function checkDownload(
  portal: RawPortal,
  licenseId: number | undefined,
  expectedFileName: string | undefined,
  whyNoId: string,
): Promise<ContractCheck> {
  if (licenseId === undefined) return skipped('licenseDetail.download', whyNoId);
  const check = newCheck('licenseDetail.download', endpointPath('licenseDetail.download', licenseId));
  const answer = await fetchInto(check, portal, portal.authorization);
  if (!answer) return check;
  if (answer.status !== 200) {
    check.differences.push(
      `status: expected 200, got ${answer.status} ${quoteBody(answer.body)}${statusHint(answer.status)}`,
    );
    return check;
  }
  expectMediaType(check, answer, 'application/json');
  const disposition = headerOf(answer, 'content-disposition');
  const wantedName = expectedFileName ?? 'iengine.lic';
  if (disposition === undefined) {
    check.differences.push(`Content-Disposition: expected attachment; filename="${wantedName}", got none`);
  } else {
    if (!/^\s*attachment\b/i.test(disposition))
      check.differences.push(`Content-Disposition: expected attachment, got ${quote(disposition)}`);
    const fileName = fileNameOf(disposition);
    if (fileName === undefined)
      check.differences.push(`Content-Disposition: expected a filename, got ${quote(disposition)}`);
    else if (fileName !== wantedName) {
      const source = expectedFileName === undefined ? "the contract's" : 'the file_name of licenseDetail.show';
      check.differences.push(
        `Content-Disposition filename: expected ${quote(wantedName)} (${source}), got ${quote(fileName)}`,
      );
    }
  }
  // The file's shape is reported like any other difference; the check goes on whatever the bytes are.
  const file = parseJson(check, answer.body, 'licence file');
  if (file !== NOT_JSON) compareWithSchema(check, licenseFileShape, file, 'licence file');
  return check;
}

/** No `Authorization`: 401 `Unauthorized` as text/html. Asked of a list, which needs no id. */
async function checkNoAuthorization(portal: RawPortal): Promise<ContractCheck> {
  const check = newCheck('error.noAuthorization', endpointPath('productAssignment.list'));
  const answer = await fetchInto(check, portal, undefined);
  if (!answer) return check;
  expectPlainError(check, answer, 401, 'Unauthorized');
  const challenge = headerOf(answer, 'www-authenticate');
  if (challenge !== undefined) check.notes.push(`WWW-Authenticate: ${quote(challenge)} (the contract assumes Basic)`);
  return check;
}

/** An id nobody holds: 404 `Not Found` as text/html. */
async function checkUnknownId(portal: RawPortal): Promise<ContractCheck> {
  const check = newCheck('error.unknownId', endpointPath('license.show', NONEXISTENT_ID));
  const answer = await fetchInto(check, portal, portal.authorization);
  if (!answer) return check;
  expectPlainError(check, answer, 404, 'Not Found');
  return check;
}

/** A path id that is not an integer: the route does not match, and Werkzeug answers its HTML 404 page. */
async function checkNonIntegerId(portal: RawPortal): Promise<ContractCheck> {
  const check = newCheck('error.nonIntegerId', withLastSegment(endpointPath('license.show', 1), 'abc'));
  const answer = await fetchInto(check, portal, portal.authorization);
  if (!answer) return check;
  if (answer.status !== 404) {
    check.differences.push(`status: expected 404, got ${answer.status} ${quoteBody(answer.body)}`);
    return check;
  }
  expectMediaType(check, answer, 'text/html');
  const text = answer.body.toString('utf8');
  if (!/^\s*</.test(text))
    check.differences.push(`body: expected Werkzeug's HTML 404 page, got ${quoteBody(answer.body)}`);
  else if (!/<title>404 Not Found<\/title>/i.test(text))
    check.notes.push(
      `body: an HTML page, but not Werkzeug's (no <title>404 Not Found</title>): ${quoteBody(answer.body)}`,
    );
  return check;
}

// ---------------------------------------------------------------------------------------------------------------
// Comparing answers with the contract. Private.

/** Adds a difference for each zod issue and a note for each key the schema does not know. */
function compareWithSchema(check: ContractCheck, schema: z.ZodType, json: unknown, where?: string): void {
  const prefix = where === undefined ? '' : `${where}: `;
  const result = schema.safeParse(json);
  if (!result.success) {
    const findings = new Findings(prefix);
    for (const issue of result.error.issues) {
      const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
      const missing = isMissing(json, path);
      const expectation = expectationOf(issue, schema, json, path);
      const lookalike = missing ? lookalikeKey(json, path) : undefined;
      findings.add(
        path,
        lookalike === undefined ? expectation : `${expectation}; the answer has ${JSON.stringify(lookalike)}`,
        valueAt(json, path),
        missing,
      );
    }
    check.differences.push(...findings.render());
  }
  const extras = new Findings(prefix);
  collectUnknownKeys(schema, json, [], extras);
  check.notes.push(...extras.render());
}

/** What the contract expected where an issue was found, in words a customer reads. */
function expectationOf(issue: z.core.$ZodIssue, root: z.ZodType, json: unknown, path: Array<string | number>): string {
  const schema = schemaAt(root, path);
  if (issue.code === 'invalid_type' && schema !== undefined) {
    const expected = describeSchema(schema);
    // "expected number, got number 1.5" would say nothing; zod's own words name the finer rule (an integer).
    if (expected.split(' or ')[0] !== kindOf(valueAt(json, path))) return `expected ${expected}`;
  }
  return lowerFirst(issue.message.replace(/^Invalid input: /, ''));
}

/** Walks `value` along `schema`, reporting every key of an object that its schema does not declare. */
function collectUnknownKeys(
  schema: z.core.$ZodType,
  value: unknown,
  path: Array<string | number>,
  extras: Findings,
): void {
  if (value === null || value === undefined) return;
  if (schema instanceof z.ZodNullable || schema instanceof z.ZodOptional) {
    collectUnknownKeys(schema.unwrap(), value, path, extras);
  } else if (schema instanceof z.ZodArray && Array.isArray(value)) {
    value.forEach((item, index) => collectUnknownKeys(schema.element, item, [...path, index], extras));
  } else if (schema instanceof z.ZodObject && isRecord(value)) {
    const shape: Record<string, z.core.$ZodType> = schema.shape;
    for (const [key, item] of Object.entries(value)) {
      const known = shape[key];
      if (known === undefined) extras.addUnknownKey([...path, key], item);
      else collectUnknownKeys(known, item, [...path, key], extras);
    }
  }
}

/** The schema that governs `path` under `root`, or undefined when the path leaves the schema. */
function schemaAt(root: z.core.$ZodType, path: Array<string | number>): z.core.$ZodType | undefined {
  let schema: z.core.$ZodType | undefined = root;
  for (const key of path) {
    schema = schema === undefined ? undefined : unwrapOptional(schema);
    if (schema instanceof z.ZodArray && typeof key === 'number') schema = schema.element;
    else if (schema instanceof z.ZodObject && typeof key === 'string')
      schema = (schema.shape as Record<string, z.core.$ZodType>)[key];
    else return undefined;
  }
  return schema;
}

function unwrapOptional(schema: z.core.$ZodType): z.core.$ZodType {
  return schema instanceof z.ZodNullable || schema instanceof z.ZodOptional ? unwrapOptional(schema.unwrap()) : schema;
}

/** A schema's type in words: `number or null`, `array`, `string`. */
function describeSchema(schema: z.core.$ZodType): string {
  if (schema instanceof z.ZodNullable) return `${describeSchema(schema.unwrap())} or null`;
  if (schema instanceof z.ZodOptional) return `${describeSchema(schema.unwrap())} or absent`;
  if (schema instanceof z.ZodArray) return 'array';
  if (schema instanceof z.ZodObject) return 'object';
  if (schema instanceof z.ZodString) return 'string';
  if (schema instanceof z.ZodNumber) return 'number';
  if (schema instanceof z.ZodBoolean) return 'boolean';
  return 'a valid value';
}

function expectAscendingIds(
  check: ContractCheck,
  list: unknown[],
  idOf: (item: unknown) => unknown,
  idPath: string,
): void {
  for (let index = 1; index < list.length; index += 1) {
    const previous = idOf(list[index - 1]);
    const current = idOf(list[index]);
    if (typeof previous === 'number' && typeof current === 'number' && current <= previous) {
      check.differences.push(
        `order: expected ascending ids, but [${index}]${idPath} ${current} follows [${index - 1}]${idPath} ${previous}`,
      );
      return;
    }
  }
}

function expectMediaType(check: ContractCheck, answer: RawAnswer, expected: string): void {
  const contentType = headerOf(answer, 'content-type');
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== expected) {
    check.differences.push(
      `Content-Type: expected ${expected}, got ${contentType === undefined ? 'none' : quote(contentType)}`,
    );
  }
}

/** A Flask error: the status, the bare message as its body, served as `text/html; charset=utf-8`. */
function expectPlainError(check: ContractCheck, answer: RawAnswer, status: number, message: string): void {
  if (answer.status !== status) {
    check.differences.push(`status: expected ${status}, got ${answer.status} ${quoteBody(answer.body)}`);
    return;
  }
  expectMediaType(check, answer, 'text/html');
  const contentType = headerOf(answer, 'content-type') ?? '';
  if (/^text\/html\b/i.test(contentType) && !/charset\s*=\s*"?utf-8/i.test(contentType)) {
    check.notes.push(`Content-Type: ${quote(contentType)}, the contract says text/html; charset=utf-8`);
  }
  if (answer.body.toString('utf8').trim() !== message) {
    check.differences.push(`body: expected ${quote(message)}, got ${quoteBody(answer.body)}`);
  }
}

const NOT_JSON = Symbol('not JSON');

function parseJson(check: ContractCheck, body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    check.differences.push(`${what}: expected JSON, got ${quoteBody(body)}`);
    return NOT_JSON;
  }
}

function statusHint(status: number): string {
  if (status === 401) return ' (the portal refused the credentials)';
  if (status === 403) return ' (the account may not see this record)';
  return '';
}

/**
 * Findings at JSON paths, told once per kind: the same finding in every item of a list of thousands reads as
 * one line, `[0].x: … (and in 2999 more items)`, not as three thousand.
 */
class Findings {
  private readonly byKind = new Map<string, { message: string; count: number }>();

  constructor(private readonly prefix = '') {}

  /** A value that breaks the contract at `path`; `missing` when the field is absent altogether. */
  add(path: Array<string | number>, expectation: string, value: unknown, missing = false): void {
    const message = missing
      ? `${formatPath(path)}: missing (${expectation})`
      : `${formatPath(path)}: ${expectation}, got ${describeValue(value)}`;
    this.count(`${generalPath(path)}|${expectation}|${missing ? 'missing' : kindOf(value)}`, message);
  }

  /** A field on the wire that the contract does not declare (the server's validators strip it). */
  addUnknownKey(path: Array<string | number>, value: unknown): void {
    this.count(
      `${generalPath(path)}|unknown`,
      `${formatPath(path)}: a field the contract does not know (${describeValue(value)})`,
    );
  }

  private count(kind: string, message: string): void {
    const known = this.byKind.get(kind);
    if (known) known.count += 1;
    else this.byKind.set(kind, { message: `${this.prefix}${message}`, count: 1 });
  }

  render(): string[] {
    const all = [...this.byKind.values()].map(({ message, count }) =>
      count > 1 ? `${message} (and in ${count - 1} more items)` : message,
    );
    if (all.length <= MAX_FINDINGS) return all;
    return [...all.slice(0, MAX_FINDINGS), `… and ${all.length - MAX_FINDINGS} more of other kinds`];
  }
}

const MAX_FINDINGS = 25;

// ---------------------------------------------------------------------------------------------------------------
// Small helpers. Private.

function newCheck(name: string, path: string): ContractCheck {
  return { name, path, ok: true, skipped: false, differences: [], notes: [] };
}

function skipped(endpoint: EndpointName, why: string): ContractCheck {
  return { ...newCheck(endpoint, withLastSegment(endpointPath(endpoint, 1), `<id>`)), skipped: true, notes: [why] };
}

/** `endpoints.ts` is the one place that knows paths; a path with another last segment is derived from one of its paths. */
function withLastSegment(path: string, segment: string): string {
  return path.replace(/[^/]*$/, segment);
}

/** Requests the check's path; a request that got no answer becomes a difference and resolves undefined. */
async function fetchInto(
  check: ContractCheck,
  portal: RawPortal,
  authorization: string | undefined,
): Promise<RawAnswer | undefined> {
  try {
    return await portal.get(check.path, authorization);
  } catch (error) {
    check.differences.push(`no answer: ${describeTransportError(error)}`);
    return undefined;
  }
}

async function getRaw(pool: Pool, path: string, authorization: string | undefined): Promise<RawAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await pool.request({ method: 'GET', path, headers });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: await readBounded(response, MAX_BODY_BYTES, 'fail'),
  };
}

function isConnectFailure(error: unknown): boolean {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return (
    error instanceof undiciErrors.ConnectTimeoutError ||
    ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code ?? '')
  );
}

function describeTransportError(error: unknown): string {
  if (error instanceof undiciErrors.ConnectTimeoutError) return 'the connection timed out';
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError)
    return 'the portal did not answer in time';
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was dropped';
  return error instanceof Error ? truncate(error.message, 120) : 'unknown failure';
}

function headerOf(answer: RawAnswer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The positive integer ids of a list's items, in order; lenient, so that a list off the contract still gives ids. */
function idsOf(list: unknown): number[] {
  if (!Array.isArray(list)) return [];
  return list
    .map((item) => (isRecord(item) ? positiveInteger(item.id) : undefined))
    .filter((id): id is number => id !== undefined);
}

function firstItem(list: unknown): unknown {
  return Array.isArray(list) ? list[0] : undefined;
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(root: unknown, path: Array<string | number>): unknown {
  let value = root;
  for (const key of path) {
    if (Array.isArray(value) && typeof key === 'number') value = value[key];
    else if (isRecord(value) && typeof key === 'string') value = value[key];
    else return undefined;
  }
  return value;
}

/** True when the last key of `path` is absent from an object that exists. */
function isMissing(root: unknown, path: Array<string | number>): boolean {
  if (path.length === 0) return false;
  const parent = valueAt(root, path.slice(0, -1));
  const key = path[path.length - 1];
  return isRecord(parent) && typeof key === 'string' && !(key in parent);
}

/**
 * A key of the same object that names the missing one in another spelling (`productAssignmentId` for
 * `product_assignment_id`): the likeliest cause of a missing field is a different naming convention.
 */
function lookalikeKey(root: unknown, path: Array<string | number>): string | undefined {
  const parent = valueAt(root, path.slice(0, -1));
  const key = path[path.length - 1];
  if (!isRecord(parent) || typeof key !== 'string') return undefined;
  const plain = (name: string): string => name.replace(/[_-]/g, '').toLowerCase();
  return Object.keys(parent).find((candidate) => candidate !== key && plain(candidate) === plain(key));
}

/** `[0].product_assignment.id`; the whole body is `(body)`. */
function formatPath(path: Array<string | number>): string {
  if (path.length === 0) return '(body)';
  return path.map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? key : `.${key}`)).join('');
}

/** A path with every index generalised, so that findings in different items of a list count as one kind. */
function generalPath(path: Array<string | number>): string {
  return formatPath(path.map((key) => (typeof key === 'number' ? -1 : key)));
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A value in a few words: `string "25"`, `number 25`, `null`, `array of 3`, `object`. Strings are cut short. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (typeof value === 'string') return `string ${quote(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${truncate(String(value), 40)}`;
  return kindOf(value);
}

/** A short, escaped, quoted excerpt: control characters cannot reach the terminal. */
function quote(text: string): string {
  return JSON.stringify(truncate(text, 40));
}

/** The start of a body, quoted; a body that is not text is told by its size only. */
function quoteBody(body: Buffer): string {
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return `${body.length} bytes that are not UTF-8 text`;
  }
  if (/[\u0000-\u0008\u000e-\u001f]/.test(decoded)) return `${body.length} bytes of binary data`;
  const text = decoded.replace(/\s+/g, ' ').trim();
  return text.length === 0 ? '(empty body)' : JSON.stringify(truncate(text, 60));
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function listShort(values: number[]): string {
  return values.length <= 5 ? values.join(', ') : `${values.slice(0, 5).join(', ')} and ${values.length - 5} more`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
