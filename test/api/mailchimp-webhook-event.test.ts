import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  firedAtSkewNote,
  mailchimpWebhookSchema,
  readFiredAt,
  webhookEventId,
} from '../../api/mailchimp-webhook-event.js';

const now = new Date('2026-06-01T12:00:00.000Z');

describe("a Mailchimp delivery's fired_at", () => {
  it('gives the time it says (UTC) when it is within the floor and not ahead of the clock', () => {
    expect(readFiredAt('2026-06-01 11:59:30', now, 90)).toEqual({
      raw: '2026-06-01 11:59:30',
      at: '2026-06-01T11:59:30.000Z',
    });
    // Up to five minutes ahead is another machine's clock, not skew.
    expect(readFiredAt('2026-06-01 12:04:00', now, 90).skew).toBeUndefined();
  });

  it('is flagged ahead of the hub clock beyond five minutes, older than the floor, or unreadable', () => {
    expect(readFiredAt('2026-06-01 12:06:00', now, 90)).toEqual({
      raw: '2026-06-01 12:06:00',
      at: '2026-06-01T12:06:00.000Z',
      skew: 'ahead_of_hub_clock',
    });
    expect(readFiredAt('2026-03-01 11:00:00', now, 90)).toMatchObject({ skew: 'older_than_floor' });
    expect(readFiredAt('2026-03-01 11:00:00', now, 120).skew).toBeUndefined();
    for (const raw of ['', 'yesterday', '2026-02-30T10:00:00Z', '2026-13-01 00:00:00', '2026-06-01 25:00:00'])
      expect(readFiredAt(raw, now, 90), raw).toEqual({ raw, skew: 'unreadable' });
  });

  it('never makes a delivery invalid: missing, odd or long, it is kept (64 characters at most)', () => {
    const base = { type: 'unsubscribe', 'data[email]': 'a@example.com' };
    expect(mailchimpWebhookSchema.parse(base).fired_at).toBe('');
    expect(mailchimpWebhookSchema.parse({ ...base, fired_at: 'soon' }).fired_at).toBe('soon');
    expect(mailchimpWebhookSchema.parse({ ...base, fired_at: 'x'.repeat(500) }).fired_at).toHaveLength(64);
  });

  it('says in the evidence note what fired_at was and which time the hub took', () => {
    const reading = readFiredAt('2099-01-01 00:00:00', now, 90);
    expect(firedAtSkewNote(reading, now.toISOString())).toBe(
      `clock skew: Mailchimp fired_at "2099-01-01 00:00:00" lies ahead of the hub's clock; the hub took 2026-06-01T12:00:00.000Z`,
    );
  });
});

describe("a Mailchimp delivery's event id", () => {
  const upemail = {
    type: 'upemail',
    fired_at: '2026-06-01 11:59:30',
    'data[list_id]': 'news',
    'data[old_email]': 'a@example.com',
  };

  it('is the same for every copy of one address change, and differs for a change to another address in the same second', () => {
    const event = mailchimpWebhookSchema.parse({ ...upemail, 'data[new_email]': 'b@example.com' });
    const other = mailchimpWebhookSchema.parse({ ...upemail, 'data[new_email]': 'c@example.com' });
    expect(webhookEventId(event, 'old-key', 'key-b')).toBe(webhookEventId(event, 'old-key', 'key-b'));
    expect(webhookEventId(other, 'old-key', 'key-c')).not.toBe(webhookEventId(event, 'old-key', 'key-b'));
  });

  it('keeps the id an unsubscribe had before address changes named their new key', () => {
    const event = mailchimpWebhookSchema.parse({
      type: 'unsubscribe',
      fired_at: '2026-06-01 11:59:30',
      'data[email]': 'a@example.com',
      'data[list_id]': 'news',
    });
    expect(webhookEventId(event, 'key')).toBe(
      createHash('sha256')
        .update(['unsubscribe', '2026-06-01 11:59:30', 'news', '', 'key'].join('\n'))
        .digest('hex'),
    );
  });
});
