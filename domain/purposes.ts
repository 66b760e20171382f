import { z } from 'zod';

/**
 * Processing purposes a person can grant or withdraw, taken from the privacy notice: information about
 * bought products and services, event invitations (webinars, seminars, customer days), marketing email and
 * newsletters, phone, postal mail, and website statistics.
 */
export const purposes = [
  'product_information',
  'event_invitations',
  'marketing_email',
  'phone',
  'postal_mail',
  'statistics',
] as const;

export const purposeSchema = z.enum(purposes, {
  error: (issue) =>
    issue.input === undefined
      ? `is required; known purposes: ${purposes.join(', ')}`
      : `unknown purpose ${JSON.stringify(issue.input)}; known purposes: ${purposes.join(', ')}`,
});
export type Purpose = z.infer<typeof purposeSchema>;

/** The purposes an unqualified "stop marketing" request withdraws. */
export const marketingPurposes: readonly Purpose[] = [
  'product_information',
  'event_invitations',
  'marketing_email',
  'phone',
  'postal_mail',
];

export const consentDecisionSchema = z.enum(['granted', 'withdrawn']);
export type ConsentDecision = z.infer<typeof consentDecisionSchema>;
