import { createHmac, hkdfSync } from 'node:crypto';

/**
 * Keys the hub derives from CONSENT_HUB_SUBJECT_KEY_SECRET (HKDF-SHA256, one label per use), so that each
 * use has its own key and no new secret has to be configured.
 */
export function derivedKey(secret: string, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'consent-hub', label, 32));
}

/**
 * What the hub keeps instead of a vendor id that is derived from personal data (a Mailchimp subscriber hash
 * is the MD5 of the address; a GA client or user id is the person's cookie or account): `hmac:` and the
 * first 128 bits of an HMAC-SHA256 under a hub key. The same id always gives the same value, so receipts
 * still match each other; without the hub's secret it cannot be computed from a guessed address or cookie.
 */
export function keyedVendorId(secret: string, system: string, id: string): string {
  const digest = createHmac('sha256', derivedKey(secret, 'vendor-record-id'))
    .update(`${system}\u0000${id}`, 'utf8')
    .digest('hex');
  return `hmac:${digest.slice(0, 32)}`;
}

/** Systems whose record ids are derived from the person (Dataverse GUIDs are random and stay as they are). */
const personDerivedIdSystems = new Set(['mailchimp', 'google']);

/**
 * The records of a vendor answer as the hub may keep them (workflow state, receipts, the ledger): ids derived
 * from personal data become keyed ids. The vendor's own id exists only inside the activity that made the call.
 */
export function protectRecordIds<T extends { id: string }>(
  secret: string,
  system: string,
  records: T[],
): T[] {
  if (!personDerivedIdSystems.has(system)) return records;
  return records.map((record) => ({ ...record, id: keyedVendorId(secret, system, record.id) }));
}
