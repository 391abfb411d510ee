/**
 * `LicenseDetail`: the contract of one licence; its file is downloaded only when a query selects `file`.
 */
import type { LicenseDetailResolvers } from '../../generated/graphql';

export const LicenseDetail: LicenseDetailResolvers = {
  id: (detail) => String(detail.id),
  license: (detail, _args, { loaders }) => loaders.license(detail.license_id),
  fileName: (detail) => detail.file_name,
  customer: (detail) => detail.customer,
  products: (detail) => detail.products,
  hwids: (detail) => detail.hwids,
  expirationDate: (detail) => detail.expiration_date,
  createdAt: (detail) => detail.created_at,
  file: (detail, _args, { loaders }) => loaders.fileByLicenseId.load(detail.license_id),
  downloadUrl: (detail) => licenseFilePath(detail.license_id),
};

/** The path on this server that streams a licence's file. */
function licenseFilePath(licenseId: number): string {
  return `/licenses/${licenseId}/file`;
}
