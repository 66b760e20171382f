import { buildTestApi, freshApiKey, hubContext } from '../api/api-test-kit.js';
import type { startHubWithVendors } from './hub-with-vendors.js';

type Hub = Awaited<ReturnType<typeof startHubWithVendors>>;

/** Mailchimp's fired_at for a moment `agoMs` ms ago: UTC, `YYYY-MM-DD HH:MM:SS`, as its webhooks send it. */
export const mailchimpFiredAt = (agoMs: number): string =>
  new Date(Date.now() - agoMs).toISOString().slice(0, 19).replace('T', ' ');

/** One upemail: the member of `listId` moved from `from` to `to` (new id `newId` when sent), at `firedAt`. */
export interface Upemail {
  listId: string;
  from: string;
  to: string;
  newId?: string;
  /** As Mailchimp writes it (mailchimpFiredAt). */
  firedAt: string;
}

/**
 * The HTTP request of Mailchimp's upemail delivery to the hub's webhook under `webhookSecret`
 * (a form-encoded POST), ready for Fastify's `inject`.
 */
export function upemailDelivery(webhookSecret: string, upemail: Upemail) {
  const { listId, from, to, newId, firedAt } = upemail;
  return {
    method: 'POST' as const,
    url: `/webhooks/mailchimp/${webhookSecret}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      type: 'upemail',
      fired_at: firedAt,
      'data[list_id]': listId,
      ...(newId === undefined ? {} : { 'data[new_id]': newId }),
      'data[new_email]': to,
      'data[old_email]': from,
    }).toString(),
  };
}

/** The hub's API over `hub`'s Temporal and ledger, taking Mailchimp's webhooks under `webhookSecret`. */
export function webhookApi(hub: Hub, webhookSecret: string, key = freshApiKey()) {
  return buildTestApi({
    hub: hubContext(hub.temporal, hub.temporal.taskQueue),
    ledger: hub.ledger,
    key,
    webhookSecret,
  });
}

/**
 * Mailchimp's upemail delivery (the member of `listId` moved from `from` to `to`, fired `firedAgoMs` ms ago)
 * to the hub's webhook under `webhookSecret`, as the API receives it. Returns the API's status and JSON body.
 */
export async function deliverUpemail(
  hub: Hub,
  delivery: {
    webhookSecret: string;
    listId: string;
    from: string;
    to: string;
    newId: string;
    firedAgoMs: number;
  },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { webhookSecret, firedAgoMs, ...upemail } = delivery;
  const app = await webhookApi(hub, webhookSecret);
  try {
    const response = await app.inject(
      upemailDelivery(webhookSecret, { ...upemail, firedAt: mailchimpFiredAt(firedAgoMs) }),
    );
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  } finally {
    await app.close();
  }
}
