import { createHash } from 'node:crypto';
import { z } from 'zod';
import { emailAsGivenSchema, emailSchema } from '../domain/email.js';
import { receivedAtClockSkewMs } from '../domain/request-deadline.js';

/**
 * A Mailchimp webhook delivery as @fastify/formbody parses it: flat keys such as `data[email]`. Only the
 * fields the hub reads are declared; the rest (merges, ip_opt, campaign_id ...) are dropped here.
 */
export const mailchimpWebhookSchema = z.object({
  type: z.enum(['subscribe', 'unsubscribe', 'profile', 'upemail', 'cleaned', 'campaign']),
  /**
   * `YYYY-MM-DD HH:MM:SS`, in UTC, as Mailchimp writes it. Taken as it comes (at most 64 characters kept) and
   * read by readFiredAt: a delivery is never refused for its time, since Mailchimp retries anything but a 2xx.
   */
  fired_at: z
    .string()
    .optional()
    .transform((value) => (value ?? '').slice(0, 64)),
  'data[id]': z.string().max(100).optional(),
  'data[list_id]': z.string().max(100).optional(),
  'data[email]': emailSchema.optional(),
  /** upemail: the new address as Mailchimp holds it, its local part's case kept (the value Dynamics gets). */
  'data[new_email]': emailAsGivenSchema.optional(),
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

/** Why a delivery's `fired_at` does not give its time: the hub's receive time stands instead. */
export type FiredAtSkew = 'unreadable' | 'ahead_of_hub_clock' | 'older_than_floor';

/** A delivery's `fired_at` as the hub reads it. */
export interface FiredAtReading {
  /** `fired_at` as Mailchimp sent it (evidence, whatever it holds). */
  raw: string;
  /** The time it says, UTC ISO 8601; absent when it is not `YYYY-MM-DD HH:MM:SS` or no such time. */
  at?: string;
  /**
   * Set when the time cannot be taken as when the event happened: `unreadable`; `ahead_of_hub_clock` (more
   * than receivedAtClockSkewMs after the hub's receive time: Mailchimp's or the hub's clock is wrong);
   * `older_than_floor` (more than the received-at floor before it, while Mailchimp retries a delivery for
   * about 75 minutes). Flagged as clock skew in the log and the evidence.
   */
  skew?: FiredAtSkew;
}

/**
 * Reads a delivery's `fired_at` against the hub's receive time `now` and the received-at floor (days, as
 * CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS). Never throws: Mailchimp retries every non-2xx answer for about 75
 * minutes and may disable a webhook that keeps failing ("Synchronize Audience Data with Webhooks",
 * https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/), so a delivery's time never
 * makes it refused; the caller takes `now` where the reading is skewed.
 */
export function readFiredAt(raw: string, now: Date, floorDays: number): FiredAtReading {
  const parsed = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(raw) ? Date.parse(firedAtIso(raw)) : Number.NaN;
  if (Number.isNaN(parsed)) return { raw, skew: 'unreadable' };
  const at = new Date(parsed).toISOString();
  if (parsed > now.getTime() + receivedAtClockSkewMs) return { raw, at, skew: 'ahead_of_hub_clock' };
  if (parsed < now.getTime() - floorDays * 24 * 60 * 60 * 1000) return { raw, at, skew: 'older_than_floor' };
  return { raw, at };
}

/** The evidence note of a delivery whose `fired_at` was skewed: what it said, and which time the hub took. */
export function firedAtSkewNote(reading: FiredAtReading, taken: string): string {
  const why = {
    unreadable: 'is not a time',
    ahead_of_hub_clock: "lies ahead of the hub's clock",
    older_than_floor: 'is older than a delivery can be',
  }[reading.skew ?? 'unreadable'];
  return `clock skew: Mailchimp fired_at ${JSON.stringify(reading.raw)} ${why}; the hub took ${taken}`;
}

/**
 * A stable id for one event, the same on every retried delivery of it: Mailchimp sends no delivery id. It
 * is built from the subject key (an HMAC), never the email, so it can sit in evidence and the ledger; an
 * address change also names the new address's subject key, as two changes from one address in the same
 * second and audience are two events.
 */
export function webhookEventId(
  event: MailchimpWebhookEvent,
  subjectKey: string,
  newSubjectKey?: string,
): string {
  const parts = [
    event.type,
    event.fired_at,
    event['data[list_id]'] ?? '',
    event['data[id]'] ?? '',
    subjectKey,
  ];
  return createHash('sha256')
    .update((newSubjectKey ? [...parts, newSubjectKey] : parts).join('\n'))
    .digest('hex');
}
