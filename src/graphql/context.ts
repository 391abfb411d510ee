/**
 * The per-request context: who is calling, and the loaders that fetch for them.
 * Built fresh for every GraphQL request, so that no caller's data outlives the request or reaches another caller.
 */
import type { PortalCaller, PortalClient, UpstreamCall } from '../portal/portalClient';
import { PortalLoaders } from '../loaders/portalLoaders';
import type { LicenseGenerator } from '../idempotency/idempotentGenerate';

export interface RequestContext {
  /** The caller's credentials and the request's call observer, passed to every portal call. */
  caller: PortalCaller;
  portal: PortalClient;
  loaders: PortalLoaders;
  /** Generates licences once, with idempotency keys; shared by every request, scoped by caller inside. */
  generator: LicenseGenerator;
  /** Every upstream call made for this request, in the order they ended. */
  upstreamCalls: UpstreamCall[];
}

/** Makes the context of one request from its `Authorization` header (forwarded unchanged, kept nowhere else). */
export function createRequestContext(
  portal: PortalClient,
  generator: LicenseGenerator,
  authorization: string | undefined,
  signal?: AbortSignal,
): RequestContext {
  const upstreamCalls: UpstreamCall[] = [];
  const caller: PortalCaller = { authorization, onCall: (call) => upstreamCalls.push(call) };
  if (signal) caller.signal = signal;
  return { caller, portal, generator, loaders: new PortalLoaders(portal, caller), upstreamCalls };
}
