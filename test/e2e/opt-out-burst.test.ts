import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

// Enough for the pacing to queue and the workflows to share the worker; the wave at scale (2,000 people,
// figures against the vendors' bound) is `npm run bench`'s.
const people = 300;
const listId = 'burst-news';

/**
 * A campaign's unsubscribe wave: 300 opt-outs started at once, one consent workflow per person, all
 * carried to Dynamics and Mailchimp through the connectors' process-wide pacing. The figures are printed,
 * not asserted: the assertion is that every sandbox ends consistent.
 */
describe('a burst of 300 opt-outs', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let vendors: typeof hub.vendors;
  let context: ConsentClientContext;
  const emails = Array.from({ length: people }, (_, i) => `burst.${i}@example.com`);

  beforeAll(async () => {
    hub = await startHubWithVendors('burst');
    vendors = hub.vendors;
    const timings = {
      attentionAfter: '10 minutes',
      operatorDeadline: '10 minutes',
      heartbeatTimeout: '30 seconds',
    };
    context = {
      ...hub.temporal.context(),
      timings,
      consentTimings: { ...timings, idleAfter: '2 seconds' },
    };
    await vendors.dynamics.control.seed({
      contacts: emails.map((email, i) => ({
        firstname: 'Burst',
        lastname: `Person${i}`,
        emailaddress1: email,
      })),
    });
    await vendors.mailchimp.control.seed({
      lists: [
        {
          id: listId,
          name: 'Newsletter',
          members: emails.map((email) => ({ email_address: email, status: 'subscribed' })),
        },
      ],
    });
    await vendors.dynamics.control.clearRequests();
    await vendors.mailchimp.control.clearRequests();
  });
  afterAll(() => hub?.close());

  it('finishes with every opt-out in both tools, and reports how many calls were throttled', {
    timeout: 600_000,
  }, async () => {
    const started = performance.now();
    const occurredAt = new Date().toISOString();
    await Promise.all(
      emails.map((email) =>
        recordConsentChange(context, {
          email,
          purpose: 'marketing_email',
          decision: 'withdrawn',
          occurredAt,
          source: 'mailchimp-campaign',
        }),
      ),
    );
    const accepted = performance.now();

    type Contact = { emailaddress1?: string; donotbulkemail?: boolean };
    type Member = { email_address: string; status: string };
    let remaining = people;
    for (let i = 0; i < 600 && remaining > 0; i++) {
      await delay(1000);
      const contacts = (await vendors.dynamics.control.state<{ contacts: Contact[] }>()).contacts;
      const members =
        (await vendors.mailchimp.control.state<{ lists: { id: string; members: Member[] }[] }>()).lists.find(
          (l) => l.id === listId,
        )?.members ?? [];
      const optedOutInDynamics = new Set(
        contacts.filter((c) => c.donotbulkemail).map((c) => c.emailaddress1),
      );
      const unsubscribed = new Set(
        members.filter((m) => m.status === 'unsubscribed').map((m) => m.email_address),
      );
      remaining = emails.filter((e) => !optedOutInDynamics.has(e) || !unsubscribed.has(e)).length;
    }
    const finished = performance.now();
    expect(remaining).toBe(0);

    const logs = [
      ...(await vendors.dynamics.control.requests()),
      ...(await vendors.mailchimp.control.requests()),
    ];
    const throttled = logs.filter((entry) => entry.status === 429).length;
    process.stdout.write(
      `\n[burst] ${people} opt-outs: accepted in ${Math.round(accepted - started)} ms, consistent after ${Math.round(
        finished - started,
      )} ms; ${logs.length} vendor calls, ${throttled} throttled (429)\n`,
    );
    expect(logs.length).toBeGreaterThan(0);
  });
});
