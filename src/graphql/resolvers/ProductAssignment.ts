/**
 * `ProductAssignment`: the portal's assignment record, renamed; its licences come through the grouped loader.
 */
import type { ProductAssignmentResolvers } from '../../generated/graphql';
import { licensesPage } from './licensesPage';

export const ProductAssignment: ProductAssignmentResolvers = {
  id: (assignment) => String(assignment.id),
  productName: (assignment) => assignment.product_name,
  productCode: (assignment) => assignment.product_code,
  totalLicenseCount: (assignment) => assignment.total_license_count,
  usedLicenseCount: (assignment) => assignment.used_license_count,
  remainingLicenseCount: (assignment) =>
    assignment.total_license_count === null
      ? null
      : Math.max(0, assignment.total_license_count - assignment.used_license_count),
  validUntil: (assignment) => assignment.valid_until,
  note: (assignment) => assignment.note,
  createdAt: (assignment) => assignment.created_at,
  licenses: (assignment, args, context) => licensesPage(context, args, assignment.id),
};
