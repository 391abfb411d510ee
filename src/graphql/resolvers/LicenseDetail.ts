/**
 * `LicenseDetail`: the contract of one licence; its file is downloaded only when a query selects `file`. Its plain
 * fields are read from the record, which carries the schema's names (`wireTypes.ts`).
 */
import type { LicenseDetailResolvers } from '../../generated/graphql';

export const LicenseDetail: LicenseDetailResolvers = {
  license: (detail, _args, { loaders }) => loaders.license(detail.license_id),
  file: (detail, _args, { loaders }) => loaders.fileByLicenseId.load(detail.license_id),
  downloadUrl: (detail) => licenseFilePath(detail.license_id),
};

/** The path on this server that streams a licence's file. */
function licenseFilePath(licenseId: number): string {
  return `/licenses/${licenseId}/file`;
}
