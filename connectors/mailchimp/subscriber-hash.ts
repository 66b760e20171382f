import { createHash } from 'node:crypto';
import { normaliseEmail } from '../../domain/email.js';

/**
 * Mailchimp addresses a member by "the MD5 hash of the lowercase version of the list member's email address"
 * (https://mailchimp.com/developer/marketing/docs/methods-parameters/#path-parameters), the address as Mailchimp
 * stored it: no trimming, no Unicode normalisation. This is the hash of the hub's normal form (trimmed, NFC,
 * lower-cased), which is right for every member the hub created; a member stored with spaces or in another
 * Unicode form has another hash, so the connector confirms a miss with a search before calling it not found.
 */
export function subscriberHash(email: string): string {
  return createHash('md5').update(normaliseEmail(email)).digest('hex');
}
