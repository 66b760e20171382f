import { z } from 'zod';

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

const keyIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * CONSENT_HUB_ENCRYPTION_KEYS: comma-separated `id:base64` entries, each a 32-byte AES-256 key. The first one
 * encrypts new payloads; the others still decrypt older ones, so keys can rotate without losing history.
 * Messages never quote the value.
 */
export const encryptionKeysSchema = z
  .string({ error: 'is required (comma-separated id:base64 AES-256 keys)' })
  .transform((value, context): EncryptionKey[] => {
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    if (entries.length === 0) {
      context.addIssue({ code: 'custom', message: 'needs at least one id:base64 key' });
      return z.NEVER;
    }
    const keys: EncryptionKey[] = [];
    entries.forEach((entry, index) => {
      const separator = entry.indexOf(':');
      const id = entry.slice(0, separator);
      const key = Buffer.from(entry.slice(separator + 1), 'base64');
      if (separator <= 0 || !keyIdPattern.test(id)) {
        context.addIssue({ code: 'custom', message: `entry ${index + 1} is not of the form id:base64` });
      } else if (key.length !== 32) {
        context.addIssue({ code: 'custom', message: `key "${id}" is ${key.length} bytes; AES-256 needs 32` });
      } else if (keys.some((k) => k.id === id)) {
        context.addIssue({ code: 'custom', message: `key id "${id}" appears twice` });
      } else {
        keys.push({ id, key });
      }
    });
    return keys;
  });

export function formatEncryptionKeys(keys: EncryptionKey[]): string {
  return keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');
}
