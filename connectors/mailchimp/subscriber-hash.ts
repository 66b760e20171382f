import { createHash } from 'node:crypto';
import { normaliseEmail } from '../../domain/email.js';

/**
 * Mailchimp addresses a member by the MD5 hex of the lower-cased email. Hashing the project's normalised form
 * (trimmed, NFC, lower-cased) means " Ada@Example.COM" and "ada@example.com" land on the same member.
 * The hash is what logs, ids and the sandbox's "forgotten" set carry instead of the address.
 */
export function subscriberHash(email: string): string {
  return createHash('md5').update(normaliseEmail(email)).digest('hex');
}
