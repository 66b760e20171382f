import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withheldTextMarker } from '../../domain/redaction-names.js';
import { recordConsentChange } from '../../hub-client/consent.js';
import { extendRequestDeadline } from '../../hub-client/request-deadlines.js';
import { actOnRequest } from '../../hub-client/requests.js';
import { personInCrm } from '../support/crm-people.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import {
  openAccessNeedingAttention,
  openConsentChangeNeedingAttention,
} from '../support/requests-needing-attention.js';

const listId = 'names-unavailable-news';

/**
 * Issue 16, F1 and F2: the names the CRM holds are what an operator's or requester's words are redacted of.
 * When Dynamics cannot answer them, the words are withheld (`withheldTextMarker`), never stored redacted of
 * the address alone; and a lookup that failed is asked again at the next text of the same run, so once
 * Dynamics answers again the words are kept, redacted.
 */
describe('a text about a person whose CRM names cannot be read is withheld, and read again later', {
  timeout: 180_000,
}, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: ReturnType<typeof hub.temporal.context>;

  beforeAll(async () => {
    hub = await startHubWithVendors('crm-names-unavailable', { accessExports: true });
    context = hub.temporal.context();
  });
  afterAll(() => hub?.close());

  /** Runs `work` while every connection to Dataverse is dropped, like an unreachable host. */
  async function withDynamicsDown<T>(work: () => Promise<T>): Promise<T> {
    await hub.vendors.dynamics.control.outage(true);
    try {
      return await work();
    } finally {
      await hub.vendors.dynamics.control.outage(false);
    }
  }

  const lower = (value: unknown) => JSON.stringify(value).toLowerCase();

  /** A withdrawal whose Mailchimp write is refused (403): the change stays open, its workflow running. */
  const openConsentChange = (first: string, last: string) =>
    openConsentChangeNeedingAttention(hub, context, { first, last, listId, requestRef: 'ticket-16' });

  it("withholds a consent change's extension reason while Dynamics is down, and redacts the next one of the same run once Dynamics answers again (the failed lookup is not kept)", async () => {
    // Dynamics is down from the start: the run never read the names (a vendor failure would read them).
    const { accepted, first } = await withDynamicsDown(async () => {
      const accepted = await openConsentChange('Philippa', 'Quenneville');
      const first = await extendRequestDeadline(context, hub.ledger, accepted.eventId, {
        months: 1,
        reason: 'Philippa Quenneville sent her ID by post',
        operator: 'op-16',
      });
      return { accepted, first };
    });
    // The extension itself goes ahead; only the words are not kept.
    expect(first.deadline.extendedMonths).toBe(1);
    expect(first.recorded.reason).toBe(withheldTextMarker);
    // Dynamics answers again: the same run asks it again, instead of reusing its failure.
    const second = await extendRequestDeadline(context, hub.ledger, accepted.eventId, {
      months: 1,
      reason: 'Philippa QUENNEVILLE asked for more time',
      operator: 'op-16',
    });
    expect(second.recorded.reason).toBe('[name] [name] asked for more time');
    const stored = await hub.ledger.listOperatorActions(accepted.eventId);
    expect(stored.map((entry) => entry.reason)).toEqual([
      expect.stringMatching(/^\+1 month \(due [^)]+\): \[withheld: the CRM's names/),
      expect.stringMatching(/^\+1 month \(due [^)]+\): \[name\] \[name\] asked for more time$/),
    ]);
    for (const needle of ['philippa', 'quenneville']) expect(lower(stored)).not.toContain(needle);
  });

  it("withholds a consent system's close note while Dynamics is down; the close itself is done", async () => {
    const { accepted, result } = await withDynamicsDown(async () => {
      const accepted = await openConsentChange('Wilhelmina', 'Oxenbridge');
      const result = await actOnRequest(context, hub.ledger, accepted.eventId, {
        action: 'close',
        system: 'mailchimp',
        reason: 'Wilhelmina Oxenbridge unsubscribed by hand',
        operator: 'op-16',
      });
      return { accepted, result };
    });
    expect(result.recorded).toMatchObject({
      action: 'close',
      system: 'mailchimp',
      reason: withheldTextMarker,
    });
    const stored = await hub.ledger.listOperatorActions(accepted.eventId);
    expect(stored).toEqual([expect.objectContaining({ action: 'close', reason: withheldTextMarker })]);
    expect(lower(stored)).not.toContain('oxenbridge');
  });

  it("withholds a consent change's evidence note when its workflow cannot read the names, and records the change itself (an opt-out is never refused)", async () => {
    const email = await personInCrm(hub, {
      first: 'Gwendolyn',
      last: 'Abernathy',
      email: `zq.${Date.now()}@example.com`,
    });
    const accepted = await withDynamicsDown(async () => {
      const change = await recordConsentChange(
        context,
        {
          email,
          purpose: 'phone',
          decision: 'withdrawn',
          occurredAt: new Date().toISOString(),
          source: 'privacy-inbox',
          evidence: { requestRef: 'ticket-17', note: 'Gwendolyn Abernathy called, asked for no calls' },
        },
        undefined,
        { ledger: hub.ledger },
      );
      for (let i = 0; i < 240; i++) {
        if (await hub.ledger.getConsentEvent(change.eventId)) return change;
        await delay(250);
      }
      throw new Error('the change never reached the ledger');
    });
    const event = await hub.ledger.getConsentEvent(accepted.eventId);
    expect(event).toMatchObject({ decision: 'withdrawn', evidence: { note: withheldTextMarker } });
    expect(lower(event)).not.toContain('abernathy');
  });

  it("withholds an open access request's extension reason while Dynamics is down", async () => {
    const email = `av.${Date.now()}@example.com`;
    const { started, status, extended } = await withDynamicsDown(async () => {
      const { accessContext, started, status } = await openAccessNeedingAttention(hub, context, {
        email,
        first: 'Octavia',
        last: 'Pemberton-Lyle',
        requestedBy: 'privacy-inbox#160',
      });
      const extended = await extendRequestDeadline(accessContext, hub.ledger, started.requestId, {
        months: 1,
        reason: 'Octavia Pemberton-Lyle sent a second letter',
        operator: 'op-16',
      });
      return { started, status, extended };
    });
    expect(status.systems.mailchimp.status).toBe('needs_attention');
    // The run could not read the names: Mailchimp's refusal is kept with its words withheld too.
    expect(status.systems.mailchimp.failure?.reason).toBe(withheldTextMarker);
    expect(extended.recorded.reason).toBe(withheldTextMarker);
    const stored = await hub.ledger.listOperatorActions(started.requestId);
    expect(lower(stored)).not.toContain('octavia');
    expect(lower(stored)).not.toContain('pemberton');
  });
});
