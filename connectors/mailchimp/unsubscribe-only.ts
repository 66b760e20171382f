import type { DecisionsInForce } from '../connector.js';
import { sharedFieldState } from '../consent-fields.js';
import type { MailchimpConsentFields } from './consent.js';

/**
 * The audiences to unsubscribe from, when the whole write to Mailchimp is that: every audience the purpose
 * map touches carries membership only (no GDPR permission, whose change needs to know what the member
 * holds), and the decisions in force withdraw it. Then nothing about the member has to be read first: an
 * unsubscribe is right whatever their status (subscribed, pending, transactional, cleaned, or unsubscribed
 * already). Undefined when any audience needs the member read first.
 */
export function unsubscribeOnlyAudiences(
  fields: MailchimpConsentFields,
  decisions: DecisionsInForce,
): string[] | undefined {
  if (fields.permissions.length > 0 || fields.membership.length === 0) return undefined;
  const withdrawn = fields.membership.every((m) => sharedFieldState(m.purposes, decisions) === 'withdrawn');
  return withdrawn ? fields.membership.map((m) => m.listId) : undefined;
}
