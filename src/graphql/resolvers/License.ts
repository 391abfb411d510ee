/**
 * `License`: the portal's licence record, renamed, with `expired` derived and its relations loaded in batches.
 */
import type { LicenseResolvers } from '../../generated/graphql';
import { todayUtc } from '../inputs';

export const License: LicenseResolvers = {
  id: (license) => String(license.id),
  hwid: (license) => license.hwid,
  expirationDate: (license) => license.expiration_date,
  expired: (license) => license.expiration_date < todayUtc(),
  note: (license) => license.note,
  createdAt: (license) => license.created_at,
  productAssignment: (license, _args, { loaders }) => loaders.assignment(license.product_assignment_id),
  detail: (license, _args, { loaders }) => loaders.detail(license.id),
};
