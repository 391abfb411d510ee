/**
 * `ProductAssignment`: the portal's assignment record, which carries the schema's names (`wireTypes.ts`); its
 * licences come through the grouped loader, and its remaining count is computed by the schema model.
 */
import type { ProductAssignmentResolvers } from '../../generated/graphql';
import { licensesPage } from './licensesPage';

export const ProductAssignment: ProductAssignmentResolvers = {
  licenses: (assignment, args, context) => licensesPage(context, args, assignment.id),
};
