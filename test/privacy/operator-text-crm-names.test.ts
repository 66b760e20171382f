import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscriberHash } from '../../connectors/mailchimp/subscriber-hash.js';
import { awaitAccess, requestAccess } from '../../hub-client/access.js';
import { recordConsentChange } from '../../hub-client/consent.js';
import { lookupRectification, requestRectification } from '../../hub-client/rectifications.js';
import { extendRequestDeadline } from '../../hub-client/request-deadlines.js';
import { actOnRequest } from '../../hub-client/requests.js';
import { consentStatusQuery } from '../../workflows/consent-definitions.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

const listId = 'operator-text-news';

/**
 * A consent change with no evidence note never made its workflow read the CRM's names, and a query cannot:
 * an operator's extension reason or close note is still redacted of them, because the client first has the
 * running workflow read them (the `redactOperatorTextWithCrmNames` update).
 */
describe("an operator's words about a consent change are redacted of the CRM's names", {
  timeout: 120_000,
}, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: ReturnType<typeof hub.temporal.context>;

  beforeAll(async () => {
    hub = await startHubWithVendors('operator-text-crm-names', { accessExports: true });
    context = hub.temporal.context();
  });
  afterAll(() => hub?.close());

  /** A withdrawal without a note whose Mailchimp write is refused (403): the change stays open, waiting. */
  async function openChangeNeedingAttention(first: string, last: string) {
    const email = `${first.slice(0, 2).toLowerCase()}.${Date.now()}@example.com`;
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: first, lastname: last, emailaddress1: email }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'News', members: [{ email_address: email, status: 'subscribed' }] }],
    });
    // Mailchimp refuses for good: the change stays open, its Mailchimp lane waiting for an operator.
    await hub.vendors.mailchimp.control.fail({ path: `members/${subscriberHash(email)}`, status: 403 });
    const accepted = await recordConsentChange(
      context,
      {
        email,
        purpose: 'marketing_email',
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        source: 'privacy-inbox',
        evidence: { requestRef: 'ticket-90' },
      },
      undefined,
      { ledger: hub.ledger },
    );
    const handle = hub.temporal.client.workflow.getHandle(accepted.workflowId);
    for (let i = 0; i < 200; i++) {
      const status = await handle.query(consentStatusQuery);
      if (status.systems.mailchimp.status === 'needs_attention') return accepted;
      await delay(250);
    }
    throw new Error(
      `Mailchimp never came to need attention: ${JSON.stringify(await handle.query(consentStatusQuery))}`,
    );
  }

  it("redacts the contact's CRM first and last name from a deadline extension's reason before the ledger keeps it", async () => {
    const accepted = await openChangeNeedingAttention('Hieronyma', 'Blackwoodhurst');
    const extended = await extendRequestDeadline(context, hub.ledger, accepted.eventId, {
      months: 1,
      reason: 'Hieronyma BLACKWOODHURST asked us to wait for her letter',
      operator: 'op-7',
    });
    expect(extended.recorded.reason).toBe('[name] [name] asked us to wait for her letter');
    const stored = JSON.stringify(await hub.ledger.listOperatorActions(accepted.eventId));
    expect(stored).toContain('[name] [name] asked us to wait for her letter');
    for (const needle of ['hieronyma', 'blackwoodhurst']) expect(stored.toLowerCase()).not.toContain(needle);
  });

  it("redacts the contact's CRM first and last name from the close note of a consent system before the ledger keeps it", async () => {
    const accepted = await openChangeNeedingAttention('Evangeline', 'Thistlewaite');
    const result = await actOnRequest(context, hub.ledger, accepted.eventId, {
      action: 'close',
      system: 'mailchimp',
      reason: 'Evangeline thistlewaite unsubscribed by hand in Mailchimp',
      operator: 'op-7',
    });
    expect(result.recorded.reason).toBe('[name] [name] unsubscribed by hand in Mailchimp');
    const stored = JSON.stringify(await hub.ledger.listOperatorActions(accepted.eventId));
    expect(stored).toContain('[name] [name] unsubscribed by hand in Mailchimp');
    for (const needle of ['evangeline', 'thistlewaite']) expect(stored.toLowerCase()).not.toContain(needle);
  });
  it("redacts the contact's CRM names from an open access request's extension reason, though an access run never holds them", async () => {
    const email = `ac.${Date.now()}@example.com`;
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Leopoldina', lastname: 'Marchbanks', emailaddress1: email }],
    });
    await hub.vendors.mailchimp.control.fail({ path: `members/${subscriberHash(email)}`, status: 403 });
    const accessContext = {
      ...context,
      timings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes', heartbeatTimeout: '10 seconds' },
      exportTtl: '1 hour',
    };
    const started = await requestAccess(
      accessContext,
      { email, requestedBy: 'privacy-inbox#91', requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
    const status = await awaitAccess(accessContext, started.requestId);
    expect(status.systems.mailchimp.status).toBe('needs_attention');
    const extended = await extendRequestDeadline(accessContext, hub.ledger, started.requestId, {
      months: 1,
      reason: 'Leopoldina MARCHBANKS sent a second letter',
      operator: 'op-7',
    });
    expect(extended.recorded.reason).toBe('[name] [name] sent a second letter');
    const stored = JSON.stringify(await hub.ledger.listOperatorActions(started.requestId));
    expect(stored).toContain('[name] [name] sent a second letter');
    for (const needle of ['leopoldina', 'marchbanks']) expect(stored.toLowerCase()).not.toContain(needle);
  });

  it("redacts the CRM's names from a rectification's close note when Dynamics failed before it could answer them", async () => {
    const email = `rc.${Date.now()}@example.com`;
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Cunegonde', lastname: 'Ravenscroft', emailaddress1: email }],
    });
    // Dataverse refuses the update for good: the run never learns the names the row had.
    await hub.vendors.dynamics.control.fail({
      method: 'PATCH',
      path: '^/api/data/v9.2/contacts',
      status: 403,
    });
    const rectifyContext = {
      ...context,
      timings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes', heartbeatTimeout: '10 seconds' },
    };
    const started = await requestRectification(
      rectifyContext,
      {
        email,
        set: { firstname: 'Kunigunde' },
        requestedBy: 'privacy-inbox#92',
        requestedAt: new Date().toISOString(),
      },
      { ledger: hub.ledger },
    );
    let waiting = false;
    for (let i = 0; i < 200 && !waiting; i++) {
      const found = await lookupRectification(rectifyContext, hub.ledger, started.requestId);
      waiting = found.state === 'open' && found.status.systems.dynamics.status === 'needs_attention';
      if (!waiting) await delay(250);
    }
    expect(waiting).toBe(true);
    const result = await actOnRequest(rectifyContext, hub.ledger, started.requestId, {
      action: 'close',
      system: 'dynamics',
      reason: 'Cunegonde RAVENSCROFT fixed her row by hand',
      operator: 'op-7',
    });
    await hub.vendors.dynamics.control.clearFaults();
    expect(result.recorded.reason).toBe('[name] [name] fixed her row by hand');
    const stored = JSON.stringify(await hub.ledger.listOperatorActions(started.requestId));
    expect(stored).toContain('[name] [name] fixed her row by hand');
    for (const needle of ['cunegonde', 'ravenscroft']) expect(stored.toLowerCase()).not.toContain(needle);
  });
});
