/**
 * The portal's endpoints: their stable names (used in logs, metrics and call counts) and their URL paths.
 * The only place in the server that knows a URL path of the portal.
 */

export type EndpointName =
  | 'license.list'
  | 'license.show'
  | 'licenseDetail.list'
  | 'licenseDetail.show'
  | 'productAssignment.list'
  | 'productAssignment.show'
  | 'license.byAssignment.list'
  | 'license.byAssignment.show'
  | 'license.generate'
  | 'licenseDetail.download';

/** The path of an endpoint, with its id; ids are checked positive integers before they reach here. */
export function endpointPath(endpoint: EndpointName, id?: number): string {
  switch (endpoint) {
    case 'license.list':
      return '/api/license/list';
    case 'license.show':
      return `/api/license/show/${requireId(endpoint, id)}`;
    case 'licenseDetail.list':
      return '/api/license-detail/list';
    case 'licenseDetail.show':
      return `/api/license-detail/show/${requireId(endpoint, id)}`;
    case 'productAssignment.list':
      return '/api/product-assignment/list';
    case 'productAssignment.show':
      return `/api/product-assignment/show/${requireId(endpoint, id)}`;
    case 'license.byAssignment.list':
      return '/api/license/product-assignment/list';
    case 'license.byAssignment.show':
      return `/api/license/product-assignment/${requireId(endpoint, id)}`;
    case 'license.generate':
      return `/api/license/generate/${requireId(endpoint, id)}`;
    case 'licenseDetail.download':
      return `/api/license-detail/download/${requireId(endpoint, id)}`;
    default:
      throw new UnreachableCaseError(endpoint);
  }
}

const spanNames = new Map<EndpointName, string>();

/**
 * How a client span names an endpoint's calls, as OpenTelemetry's HTTP conventions say: the method and the path with
 * `{id}` for its id, e.g. `GET /api/license/show/{id}`. Every portal call is a GET. Made once per endpoint.
 */
export function endpointSpanName(endpoint: EndpointName): string {
  let name = spanNames.get(endpoint);
  if (name === undefined) {
    name = `GET ${endpointPath(endpoint, 1).replace(/\/1$/, '/{id}')}`;
    spanNames.set(endpoint, name);
  }
  return name;
}

/**
 * A portal id from text or a number: a positive integer written without sign, leading zero or fraction (`7` or
 * `"7"`; not `"07"`, `"-1"`, `"7a"`); undefined for anything else.
 */
export function positiveIntegerId(value: unknown): number | undefined {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^[1-9][0-9]{0,15}$/.test(text)) return undefined;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : undefined;
}

function requireId(endpoint: EndpointName, id: number | undefined): number {
  if (id === undefined || positiveIntegerId(id) === undefined) {
    throw new TypeError(`${endpoint} needs a positive integer id, but got: ${String(id)}`);
  }
  return id;
}

export class UnreachableCaseError extends Error {
  constructor(value: never) {
    super(`Unreachable case: ${JSON.stringify(value)}`);
  }
}
