import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscriberHash } from '../../connectors/mailchimp/subscriber-hash.js';
import { recordConsentChange } from '../../hub-client/consent.js';
import {
  awaitReceipt,
  closeErasureSystem,
  type HubClientContext,
  lookupErasure,
  requestErasure,
} from '../../hub-client/erasures.js';
import { consentStatusQuery } from '../../workflows/consent-definitions.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { erasureContext } from '../support/erasure-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

const listId = 'vendor-text-news';
// Names that share no word with the address: only the CRM's names can redact them.
const firstName = 'Zebedaia';
const lastName = 'Quillfeatherstone';

/**
 * Issue 16: a text from another system than the CRM (a Mailchimp error quoting the person's name) is redacted
 * of the CRM's names before anything keeps it. The erasure's Mailchimp step waits for the harvest's names; a
 * consent lane, which never carries them, has the gate read them before the failure is kept.
 */
describe("a Mailchimp error naming the person is redacted of the CRM's names", { timeout: 120_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;
  const logs = capturingLogger();

  beforeAll(async () => {
    hub = await startHubWithVendors('vendor-text-crm-names', { logger: logs.logger });
    context = erasureContext(hub);
  });
  afterAll(() => hub?.close());

  async function plant(prefix: string) {
    const email = `${prefix}.${Date.now()}@example.com`;
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: firstName, lastname: lastName, emailaddress1: email }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'News', members: [{ email_address: email, status: 'subscribed' }] }],
    });
    // As a Mailchimp answer that echoes the member's merge fields would.
    await hub.vendors.mailchimp.control.fail({
      path: `members/${subscriberHash(email)}`,
      status: 403,
      message: `Member ${firstName} ${lastName.toUpperCase()} (FNAME=${firstName.toLowerCase()}) is locked`,
    });
    return email;
  }

  const leaked = (text: string) =>
    [firstName, lastName].filter((name) => text.toLowerCase().includes(name.toLowerCase()));

  it("redacts the erasure's Mailchimp failure of the names the harvest found, though Mailchimp was asked alongside it", async () => {
    const email = await plant('xq');
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#16',
      requestedAt: new Date().toISOString(),
    });
    let reason: string | undefined;
    for (let i = 0; i < 200 && reason === undefined; i++) {
      const found = await lookupErasure(context, started.requestId);
      if (found.state === 'open' && found.status.systems.mailchimp.status === 'needs_attention')
        reason = found.status.systems.mailchimp.failure?.reason;
      else await delay(250);
    }
    expect(reason).toBeDefined();
    expect(reason).toContain('[name]');
    expect(leaked(reason ?? '')).toEqual([]);
    await closeErasureSystem(context, started.requestId, { system: 'mailchimp', reason: 'member locked' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.systems.mailchimp.status).toBe('closed_by_operator');
    expect(leaked(JSON.stringify(receipt))).toEqual([]);
    // Every log line of the Mailchimp calls was written once the names were known.
    expect(leaked(logs.lines.join('\n'))).toEqual([]);
    await hub.vendors.mailchimp.control.clearFaults();
  });

  it("redacts a consent lane's Mailchimp failure of the CRM's names, read for it", async () => {
    const email = await plant('yq');
    const accepted = await recordConsentChange(
      hub.temporal.context(),
      {
        email,
        purpose: 'marketing_email',
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        source: 'privacy-inbox',
        evidence: { requestRef: 'ticket-16' },
      },
      undefined,
      { ledger: hub.ledger },
    );
    const handle = hub.temporal.client.workflow.getHandle(accepted.workflowId);
    let reason: string | undefined;
    for (let i = 0; i < 200 && reason === undefined; i++) {
      const status = await handle.query(consentStatusQuery);
      if (status.systems.mailchimp.status === 'needs_attention')
        reason = status.systems.mailchimp.failure?.reason;
      else await delay(250);
    }
    expect(reason).toBeDefined();
    expect(reason).toContain('[name]');
    expect(leaked(reason ?? '')).toEqual([]);
    await hub.vendors.mailchimp.control.clearFaults();
  });
});
