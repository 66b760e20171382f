import { createHash } from 'node:crypto';
import { z } from 'zod';
import { emailSchema } from '../domain/email.js';

/**
 * A Mailchimp webhook delivery as @fastify/formbody parses it: flat keys such as `data[email]`. Only the
 * fields the hub reads are declared; the rest (merges, ip_opt, campaign_id ...) are dropped here.
 */
export const mailchimpWebhookSchema = z.object({
  type: z.enum(['subscribe', 'unsubscribe', 'profile', 'upemail', 'cleaned', 'campaign']),
  /** `YYYY-MM-DD HH:MM:SS`, in UTC. */
  fired_at: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, { error: 'is not YYYY-MM-DD HH:MM:SS' })
    .refine((value) => !Number.isNaN(Date.parse(firedAtIso(value))), { error: 'is not a date-time' }),
  'data[id]': z.string().max(100).optional(),
  'data[list_id]': z.string().max(100).optional(),
  'data[email]': emailSchema.optional(),
  'data[new_email]': emailSchema.optional(),
  /** upemail: the address the member had before they changed it in Mailchimp. */
  'data[old_email]': emailSchema.optional(),
  'data[action]': z.enum(['unsub', 'delete']).optional(),
  'data[reason]': z.string().max(200).optional(),
});
export type MailchimpWebhookEvent = z.output<typeof mailchimpWebhookSchema>;

/** Mailchimp's `fired_at` carries no zone; it is UTC. */
export function firedAtIso(firedAt: string): string {
  return `${firedAt.replace(' ', 'T')}Z`;
}

/**
 * A stable id for one event, the same on every retried delivery of it: Mailchimp sends no delivery id. It
 * is built from the subject key (an HMAC), never the email, so it can sit in evidence and the ledger.
 */
export function webhookEventId(event: MailchimpWebhookEvent, subjectKey: string): string {
  return createHash('sha256')
    .update(
      [event.type, event.fired_at, event['data[list_id]'] ?? '', event['data[id]'] ?? '', subjectKey].join(
        '\n',
      ),
    )
    .digest('hex');
}
