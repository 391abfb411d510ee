/**
 * `License`: the portal's licence record, with `expired` derived and its relations loaded in batches. Its other
 * fields are read from the record itself: it carries the schema's names (`wireTypes.ts`), and `ID` serializes its
 * numeric id.
 */
import type { LicenseResolvers } from '../../generated/graphql';
import { todayUtc } from '../inputs';

export const License: LicenseResolvers = {
  expired: (license) => license.expiration_date < todayUtc(),
  productAssignment: (license, _args, { loaders }) => loaders.assignment(license.product_assignment_id),
  detail: (license, _args, { loaders }) => loaders.detail(license.id),
};
