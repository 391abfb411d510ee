/**
 * The portal's endpoints, as this server calls them: one method per endpoint, each naming its path
 * (`endpoints.ts`) and checking every 2xx body against the contract (`wireTypes.ts`), so that nothing above this
 * file sees a wire shape that was not checked.
 *
 * It is the top of three layers, each in its own module: reads go through the read layer (`readCache.ts`: the
 * list cache, merged reads, freshness after a write), and every call through the transport (`transport.ts`:
 * credentials, circuit breaker, retries of safe reads, spans, call reports, errors). `generateLicense` is a write:
 * sent once and never retried by the transport, never cached, and the read layer moves its caller's reads on past it.
 */
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { endpointPath, type EndpointName } from './endpoints';
import type { Tracing } from '../tracing/tracing';
import { headerValue, parseBody } from './responseBody';
import type { ListCache } from './listCache';
import { ReadCache } from './readCache';
import { PortalTransport, type PortalCaller, type PortalRequest, type TransportOptions } from './transport';
import {
  groupedLicensesListShape,
  licenseDetailListShape,
  licenseDetailShape,
  licenseListShape,
  licenseShape,
  productAssignmentListShape,
  productAssignmentShape,
  type GroupedLicensesWire,
  type LicenseDetailWire,
  type LicenseFileDownload,
  type LicenseWire,
  type ProductAssignmentWire,
  type WireShape,
} from './wireTypes';

export type { PortalCaller, UpstreamCall } from './transport';

export interface PortalClientOptions extends Omit<TransportOptions, 'tracing'> {
  /** Where list answers are cached per caller (`PORTAL_CACHE_TTL_MS`); undefined: no cache. */
  listCache?: ListCache;
  /** Whether a caller's concurrent reads of one list share one call (`PORTAL_SHARE_READS`); true unless false. */
  shareReads?: boolean;
  /** Spans of the calls of traced requests, and the `traceparent` sent with them; undefined: tracing is off. */
  tracing?: Tracing;
}

export interface GenerateLicenseRequest {
  productAssignmentId: number;
  hwid: string;
  expirationDate: string;
  note?: string | null;
}

/** What a download answers before its body is read: for streaming the file to a client. */
export interface LicenseFileStream {
  status: number;
  contentType: string;
  contentDisposition: string | undefined;
  /** The declared length, when the portal declared one. */
  contentLength: string | undefined;
  body: Dispatcher.ResponseData['body'];
}

export class PortalClient {
  readonly origin: string;
  private readonly transport: PortalTransport;
  private readonly reads: ReadCache;

  constructor(options: PortalClientOptions) {
    const { listCache, shareReads, ...transport } = options;
    this.transport = new PortalTransport(transport);
    this.origin = this.transport.origin;
    this.reads = new ReadCache(listCache, shareReads ?? true);
  }

  /** The circuit breaker of the portal's origin (its state is a metric). */
  get breaker(): PortalTransport['breaker'] {
    return this.transport.breaker;
  }

  /** Lookups of the list cache so far, for `/metrics`. */
  get cacheLookups(): { hit: number; miss: number } {
    return this.reads.lookups;
  }

  /** Reads that joined a call of the same caller's under way, for `/metrics`. */
  get readsShared(): number {
    return this.reads.shared.joined;
  }

  listProductAssignments(caller: PortalCaller): Promise<ProductAssignmentWire[]> {
    return this.read(caller, 'productAssignment.list', undefined, productAssignmentListShape);
  }

  showProductAssignment(caller: PortalCaller, id: number): Promise<ProductAssignmentWire> {
    return this.read(caller, 'productAssignment.show', id, productAssignmentShape);
  }

  listLicenses(caller: PortalCaller): Promise<LicenseWire[]> {
    return this.read(caller, 'license.list', undefined, licenseListShape);
  }

  showLicense(caller: PortalCaller, id: number): Promise<LicenseWire> {
    return this.read(caller, 'license.show', id, licenseShape);
  }

  /** Every assignment of the caller with its licences, also those with none. */
  listLicensesByAssignment(caller: PortalCaller): Promise<GroupedLicensesWire[]> {
    return this.read(caller, 'license.byAssignment.list', undefined, groupedLicensesListShape);
  }

  listLicensesOfAssignment(caller: PortalCaller, productAssignmentId: number): Promise<LicenseWire[]> {
    return this.read(caller, 'license.byAssignment.show', productAssignmentId, licenseListShape);
  }

  listLicenseDetails(caller: PortalCaller): Promise<LicenseDetailWire[]> {
    return this.read(caller, 'licenseDetail.list', undefined, licenseDetailListShape);
  }

  /** The detail of a licence, by the licence's id. */
  showLicenseDetail(caller: PortalCaller, licenseId: number): Promise<LicenseDetailWire> {
    return this.read(caller, 'licenseDetail.show', licenseId, licenseDetailShape);
  }

  /**
   * Generates a licence: a GET with side effects. Sent once, as a non-idempotent request on a fresh pipeline
   * slot, never retried. An answer lost after the request was sent is `OUTCOME_UNKNOWN`, never `UNAVAILABLE`.
   * Whatever its outcome, the caller's reads that start after it has returned see the portal as it is after it
   * (`ReadCache.write`), on every replica that shares the cache.
   */
  generateLicense(caller: PortalCaller, request: GenerateLicenseRequest): Promise<LicenseWire> {
    const query = new URLSearchParams({ hwid: request.hwid, expiration_date: request.expirationDate });
    if (request.note !== undefined && request.note !== null) query.set('note', request.note);
    const call: PortalRequest = {
      endpoint: 'license.generate',
      path: `${endpointPath('license.generate', request.productAssignmentId)}?${query.toString()}`,
      idempotent: false,
    };
    return this.reads.write(caller, () =>
      this.transport.send(caller, call, async (response) =>
        parseBody(call.endpoint, await this.transport.readBody(call, response), licenseShape, true),
      ),
    );
  }

  /**
   * Tells the read layer of a write of the caller's that this process did not see end (a lost generate, found by
   * reconciling after its process died): the caller's reads move on past it as after `generateLicense`.
   */
  noteWrite(caller: PortalCaller): Promise<void> {
    return this.reads.write(caller, async () => undefined);
  }

  /** Downloads a licence file whole, with the headers that describe it. */
  downloadLicenseFile(caller: PortalCaller, licenseId: number): Promise<LicenseFileDownload> {
    const call = downloadOf(licenseId);
    return this.transport.send(caller, call, async (response) => {
      const bytes = await this.transport.readBody(call, response);
      return {
        licenseId,
        bytes,
        contentType: headerValue(response.headers['content-type']) ?? 'application/octet-stream',
        fileName: fileNameOf(headerValue(response.headers['content-disposition'])) ?? 'iengine.lic',
      };
    });
  }

  /**
   * Opens a licence file for streaming. On a 2xx answer the caller owns `body` and must consume or destroy it;
   * any other answer is consumed here and thrown as a PortalError.
   */
  openLicenseFile(caller: PortalCaller, licenseId: number): Promise<LicenseFileStream> {
    return this.transport.send(caller, downloadOf(licenseId), async (response) => ({
      status: response.statusCode,
      contentType: headerValue(response.headers['content-type']) ?? 'application/octet-stream',
      contentDisposition: headerValue(response.headers['content-disposition']),
      contentLength: headerValue(response.headers['content-length']),
      body: response.body,
    }));
  }

  /**
   * Resolves when the portal accepts the caller's credentials; throws the PortalError of its answer otherwise
   * (`UNAUTHENTICATED` for wrong ones). One read of the assignments, the shortest list an account has, always asked
   * of the portal: a cached answer would accept a password changed since.
   */
  async checkCredentials(caller: PortalCaller): Promise<void> {
    const endpoint = 'productAssignment.list';
    const body = await this.transport.body(caller, { endpoint, path: endpointPath(endpoint), idempotent: true });
    parseBody(endpoint, body, productAssignmentListShape, false);
  }

  /**
   * Whether the portal answers at all: one request without credentials to a list endpoint (it answers 401 at
   * once, reading no data), outside the breaker and with no retry. For readiness probes.
   */
  ping(timeoutMs = 2000): Promise<boolean> {
    return this.transport.ping(endpointPath('productAssignment.list'), timeoutMs);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /** A read of one endpoint (`id` for a show call), through the read layer, its body checked against `shape`. */
  private async read<T>(
    caller: PortalCaller,
    endpoint: EndpointName,
    id: number | undefined,
    shape: WireShape<T>,
  ): Promise<T> {
    const call: PortalRequest = { endpoint, path: endpointPath(endpoint, id), idempotent: true };
    const fetch = () => this.transport.body(caller, call);
    const parse = (body: Buffer) => parseBody(endpoint, body, shape, false);
    if (id !== undefined) return parse(await fetch());
    return this.reads.list(caller, endpoint, fetch, parse);
  }
}

function downloadOf(licenseId: number): PortalRequest {
  return {
    endpoint: 'licenseDetail.download',
    path: endpointPath('licenseDetail.download', licenseId),
    idempotent: true,
  };
}

/** The file name of a `Content-Disposition` header (`filename*=` or `filename=`), if it names one. */
export function fileNameOf(disposition: string | undefined): string | undefined {
  if (!disposition) return undefined;
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // Fall through to the plain parameter.
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/.exec(disposition);
  const name = plain?.[1]?.replace(/\\(.)/g, '$1') ?? plain?.[2];
  return name && name.length > 0 ? name : undefined;
}

/** Lowercase hex SHA-256 of some bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
