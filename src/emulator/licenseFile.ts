/**
 * The bytes of a licence file (`iengine.lic`) as the portal's download serves them: JSON text holding the
 * contract and a signature over it.
 *
 * The signature is not the vendor's (that needs their private key); it is 128 bytes derived from the licence id
 * and the contract, so that each file is deterministic, distinct, and as long as the real one (172 base64 chars).
 */
import { createHmac } from 'node:crypto';
import type { LicenseDetail } from './data';

const LICENSE_FILE_VERSION = '2.1';
/** Two keys, because one SHA-512 HMAC gives 64 bytes and an RSA-1024 signature is 128. */
const SIGNING_KEYS = ['portal-emulator/contract-signature/1', 'portal-emulator/contract-signature/2'] as const;

export function licenseFileBytes(detail: LicenseDetail): Buffer {
  const [year, month, day] = detail.expiration_date.split('-').map(Number);
  const contract = {
    customer: detail.customer,
    expiration: { day, month, year },
    hwids: [...detail.hwids],
    products: [...detail.products],
  };
  const signed = `${detail.license_id}\n${JSON.stringify(contract)}`;
  const signature = Buffer.concat(SIGNING_KEYS.map((key) => createHmac('sha512', key).update(signed, 'utf8').digest()));
  const file = { version: LICENSE_FILE_VERSION, contract, contract_signature: signature.toString('base64') };
  return Buffer.from(JSON.stringify(file), 'utf8');
}
