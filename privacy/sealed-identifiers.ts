import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { SubjectDataKeys } from './subject-data-keys.js';

/** Sealed under the subject's data key, as access exports are (privacy/access-export-store.ts). */
const subjectMagic = Buffer.from('CHX2', 'ascii');
const ivLength = 12;
const tagLength = 16;
const identifiersSchema = z.array(z.string());

/**
 * Seals a list of identifiers (harvested GA client ids) with the subject's data key: AES-256-GCM with a
 * fresh 96-bit IV, laid out as an access export is (`CHX2`, the key id's length and id, IV, tag, ciphertext of
 * the JSON list), in base64 so it fits a text column on both ledger backends. `context` (the request and
 * page) is the additional data, so a page moved to another request or position does not open. Destroying
 * the subject's data keys (their erasure) makes every sealed page unreadable for good.
 */
export async function sealIdentifiers(
  keys: SubjectDataKeys,
  subjectKey: string,
  context: string,
  identifiers: string[],
): Promise<string> {
  const { keyId, key } = await keys.forEncryption(subjectKey);
  const iv = randomBytes(ivLength);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(JSON.stringify(identifiers), 'utf8'), cipher.final()]);
  const id = Buffer.from(keyId, 'utf8');
  return Buffer.concat([subjectMagic, Buffer.from([id.length]), id, iv, cipher.getAuthTag(), body]).toString(
    'base64',
  );
}

/**
 * Opens what sealIdentifiers sealed under the same `context`. Throws ErasedSubjectKey once the subject's key
 * was destroyed, and an Error naming no identifier when the data is not a sealed list or was altered.
 */
export async function openIdentifiers(
  keys: SubjectDataKeys,
  context: string,
  sealed: string,
): Promise<string[]> {
  const data = Buffer.from(sealed, 'base64');
  if (!data.subarray(0, 4).equals(subjectMagic)) throw new Error('not a sealed identifier list');
  const idLength = data[4] ?? 0;
  const keyId = data.subarray(5, 5 + idLength).toString('utf8');
  const ivStart = 5 + idLength;
  const key = await keys.forDecryption(keyId);
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(ivStart, ivStart + ivLength));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(data.subarray(ivStart + ivLength, ivStart + ivLength + tagLength));
  const plain = Buffer.concat([
    decipher.update(data.subarray(ivStart + ivLength + tagLength)),
    decipher.final(),
  ]);
  return identifiersSchema.parse(JSON.parse(plain.toString('utf8')));
}
