import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupRectification, requestRectification } from '../../hub-client/rectifications.js';
import { extendRequestDeadline } from '../../hub-client/request-deadlines.js';
import { actOnRequest } from '../../hub-client/requests.js';
import { personInCrm } from '../support/crm-people.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import {
  openAccessNeedingAttention,
  openConsentChangeNeedingAttention,
  operatorWaitTimings,
} from '../support/requests-needing-attention.js';

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
  const openChangeNeedingAttention = (first: string, last: string) =>
    openConsentChangeNeedingAttention(hub, context, { first, last, listId, requestRef: 'ticket-90' });

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
    const { accessContext, started, status } = await openAccessNeedingAttention(hub, context, {
      email,
      first: 'Leopoldina',
      last: 'Marchbanks',
      requestedBy: 'privacy-inbox#91',
    });
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
    const email = await personInCrm(hub, {
      first: 'Cunegonde',
      last: 'Ravenscroft',
      email: `rc.${Date.now()}@example.com`,
    });
    // Dataverse refuses the update for good: the run never learns the names the row had.
    await hub.vendors.dynamics.control.fail({
      method: 'PATCH',
      path: '^/api/data/v9.2/contacts',
      status: 403,
    });
    const rectifyContext = { ...context, timings: operatorWaitTimings };
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
