import { createHash } from 'node:crypto';
import { boundedText, maxVendorTextChars } from '../domain/bounded-text.js';
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

/** The longest text `redactSubject` reads whole (characters): a stack trace, an SDK's message. */
export const maxRedactedTextChars = 4 * maxVendorTextChars;

/**
 * Redacts one subject's data from free text (domain/text-redaction.ts `redactText`), and also the MD5 and
 * SHA-256 of their address (Mailchimp's subscriber hash is the MD5), which only code outside workflows can
 * compute. A text longer than `maxRedactedTextChars` is first cut there at a whitespace boundary
 * (domain/bounded-text.ts), so an SDK error carrying a vendor's whole body (a megabyte) neither stalls the
 * activity in the redaction nor goes into a failure whole. Shape: string.
 */
export function redactSubject(text: string, subject: RedactionSubject = {}): string {
  const bounded = boundedText(text, maxRedactedTextChars);
  if (!subject.email) return redactText(bounded, subject);
  const digests = plainDigestsOf(subject.email);
  let result = bounded;
  for (const digest of digests) result = result.replace(new RegExp(digest, 'gi'), redactedIdentifier);
  return redactText(result, subject);
}
