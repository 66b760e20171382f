import { createHash } from 'node:crypto';
import { type RedactionSubject, redactedIdentifier, redactText } from '../domain/text-redaction.js';

export {
  type RedactionSubject,
  redactedEmail,
  redactedIdentifier,
  redactedName,
  redactText,
  scrubAddresses,
} from '../domain/text-redaction.js';

/** The two plain digests a vendor or a leak might carry instead of the address itself. */
export function plainDigestsOf(email: string): string[] {
  const normal = email.trim().normalize('NFC').toLowerCase();
  return [createHash('md5').update(normal).digest('hex'), createHash('sha256').update(normal).digest('hex')];
}

/**
 * Redacts one subject's data from free text (domain/text-redaction.ts `redactText`), and also the MD5 and
 * SHA-256 of their address (Mailchimp's subscriber hash is the MD5), which only code outside workflows can
 * compute.
 */
export function redactSubject(text: string, subject: RedactionSubject = {}): string {
  if (!subject.email) return redactText(text, subject);
  const digests = plainDigestsOf(subject.email);
  let result = text;
  for (const digest of digests) result = result.replace(new RegExp(digest, 'gi'), redactedIdentifier);
  return redactText(result, subject);
}
