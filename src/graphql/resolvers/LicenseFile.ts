/**
 * `LicenseFile`: the exact bytes the portal sent, with their size, hash, text and base64.
 */
import type { LicenseFileResolvers } from '../../generated/graphql';
import { sha256Hex } from '../../portal/portalClient';

export const LicenseFile: LicenseFileResolvers = {
  fileName: (file) => file.fileName,
  contentType: (file) => file.contentType,
  byteLength: (file) => file.bytes.length,
  sha256: (file) => sha256Hex(file.bytes),
  text: (file) => file.bytes.toString('utf8'),
  base64: (file) => file.bytes.toString('base64'),
};
