import { createHmac } from 'node:crypto';
import { normaliseEmail } from '../domain/email.js';

/**
 * The subject key: HMAC-SHA256 of the normalised email under CONSENT_HUB_SUBJECT_KEY_SECRET. It is the only
 * person identifier allowed in workflow ids, search attributes, log lines and metric labels. Without the
 * secret it cannot be turned back into an address, nor computed from a guessed one.
 */
export function subjectKeyFor(email: string, secret: string): string {
  return createHmac('sha256', secret).update(normaliseEmail(email), 'utf8').digest('hex');
}

export const subjectKeyPattern = /^[0-9a-f]{64}$/;
