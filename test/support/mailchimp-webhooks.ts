import { buildTestApi, freshApiKey, hubContext } from '../api/api-test-kit.js';
import type { startHubWithVendors } from './hub-with-vendors.js';

type Hub = Awaited<ReturnType<typeof startHubWithVendors>>;

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
  const { webhookSecret, listId, from, to, newId, firedAgoMs } = delivery;
  const app = await buildTestApi({
    hub: hubContext(hub.temporal, hub.temporal.taskQueue),
    ledger: hub.ledger,
    key: freshApiKey(),
    webhookSecret,
  });
  try {
    const response = await app.inject({
      method: 'POST',
      url: `/webhooks/mailchimp/${webhookSecret}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        type: 'upemail',
        fired_at: new Date(Date.now() - firedAgoMs).toISOString().slice(0, 19).replace('T', ' '),
        'data[list_id]': listId,
        'data[new_id]': newId,
        'data[new_email]': to,
        'data[old_email]': from,
      }).toString(),
    });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  } finally {
    await app.close();
  }
}
