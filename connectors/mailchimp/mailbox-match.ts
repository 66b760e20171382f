import { canonicalMailbox } from '../../domain/email.js';

/**
 * The one rule by which the connector decides that an address Mailchimp stored is the person's mailbox:
 * both in the subject key's form (canonicalMailbox: trimmed, NFC, lower-cased, domain as Unicode, no root
 * dot). A member stored with spaces, in another Unicode form, with its domain as `xn--` or with the root's
 * dot is the same person; its subscriber hash is another one, so callers still compare the member's `id`
 * with the hash of the hub's spelling before writing to it by hash.
 */
export function mailboxKey(address: string): string {
  return canonicalMailbox(address);
}

/** Whether Mailchimp's stored address and the person's address name one mailbox (see mailboxKey). */
export function sameMailbox(stored: string, wanted: string): boolean {
  return mailboxKey(stored) === mailboxKey(wanted);
}
