/**
 * The one way a licence connection is made, for `Query.licenses` and `ProductAssignment.licenses` alike.
 */
import type { QueryLicensesArgs } from '../../generated/graphql';
import type { LicenseWire } from '../../portal/wireTypes';
import { PortalError } from '../../portal/portalErrors';
import {
  checkLicenseFilter,
  checkPageArgs,
  licenseOrdering,
  licensePage,
  paginate,
  type LicensePage,
} from '../connections';
import type { RequestContext } from '../context';

/**
 * A page of licences. `assignmentId` is the parent assignment for a nested connection; at the root, a filter on
 * one assignment reads only that assignment's licences. A filter is a predicate: an assignment that is not the
 * caller's (or does not exist) has no licences to match, so it gives an empty page rather than an error.
 */
export async function licensesPage(
  context: RequestContext,
  args: QueryLicensesArgs,
  assignmentId: number | undefined,
): Promise<LicensePage> {
  const filter = checkLicenseFilter(args.filter);
  const ordering = licenseOrdering(args.orderBy);
  const page = checkPageArgs(ordering, args.first, args.after);
  // Once the answer holds all it may, no more pages are cut: they would be dropped (see `ItemAllowance`).
  if (context.allowance.overrun() !== undefined) return paginate([], ordering, page);
  if (
    assignmentId !== undefined &&
    filter.productAssignmentId !== undefined &&
    filter.productAssignmentId !== assignmentId
  ) {
    return paginate([], ordering, page);
  }
  const oneAssignment = assignmentId ?? filter.productAssignmentId;
  const licenses =
    oneAssignment === undefined
      ? await context.loaders.allLicenses()
      : await licensesOf(context, oneAssignment, assignmentId === undefined);
  return licensePage(licenses, filter, ordering, page);
}

async function licensesOf(
  context: RequestContext,
  assignmentId: number,
  foreignIsEmpty: boolean,
): Promise<LicenseWire[]> {
  try {
    return await context.loaders.licensesByAssignmentId.load(assignmentId);
  } catch (error) {
    if (foreignIsEmpty && error instanceof PortalError && (error.code === 'FORBIDDEN' || error.code === 'NOT_FOUND'))
      return [];
    throw error;
  }
}
