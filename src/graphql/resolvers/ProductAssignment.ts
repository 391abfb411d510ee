/**
 * `ProductAssignment`: the portal's assignment record, which carries the schema's names (`wireTypes.ts`); the
 * remaining count is derived, and its licences come through the grouped loader.
 */
import type { ProductAssignmentResolvers } from '../../generated/graphql';
import { licensesPage } from './licensesPage';

export const ProductAssignment: ProductAssignmentResolvers = {
  remainingLicenseCount: (assignment) =>
    assignment.total_license_count === null
      ? null
      : Math.max(0, assignment.total_license_count - assignment.used_license_count),
  licenses: (assignment, args, context) => licensesPage(context, args, assignment.id),
};
