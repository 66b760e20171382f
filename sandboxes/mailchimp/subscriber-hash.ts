import { createHash } from 'node:crypto';

/**
 * Mailchimp's subscriber hash: "The MD5 hash of the lowercase version of the list member's email address"
 * (https://mailchimp.com/developer/marketing/docs/methods-parameters/#path-parameters). Only lower-casing:
 * Mailchimp does not trim or Unicode-normalise, so neither does the sandbox.
 */
export function mailchimpSubscriberHash(emailAddress: string): string {
  return createHash('md5').update(emailAddress.toLowerCase()).digest('hex');
}
