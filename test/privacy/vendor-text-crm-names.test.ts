import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  awaitReceipt,
  closeErasureSystem,
  type HubClientContext,
  requestErasure,
} from '../../hub-client/erasures.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { erasureContext, erasureFailureReason } from '../support/erasure-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import {
  openConsentChangeNeedingAttention,
  personRefusedByMailchimp,
} from '../support/requests-needing-attention.js';

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

  /** The person, refused by Mailchimp with an answer that echoes the member's merge fields. */
  const person = (prefix: string) => ({
    first: firstName,
    last: lastName,
    listId,
    email: `${prefix}.${Date.now()}@example.com`,
    message: `Member ${firstName} ${lastName.toUpperCase()} (FNAME=${firstName.toLowerCase()}) is locked`,
  });

  const leaked = (text: string) =>
    [firstName, lastName].filter((name) => text.toLowerCase().includes(name.toLowerCase()));

  it("redacts the erasure's Mailchimp failure of the names the harvest found, though Mailchimp was asked alongside it", async () => {
    const email = await personRefusedByMailchimp(hub, person('xq'));
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#16',
      requestedAt: new Date().toISOString(),
    });
    const reason = await erasureFailureReason(context, started.requestId, 'mailchimp');
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
    const { status } = await openConsentChangeNeedingAttention(hub, hub.temporal.context(), {
      ...person('yq'),
      requestRef: 'ticket-16',
    });
    const reason = status.systems.mailchimp.failure?.reason;
    expect(reason).toBeDefined();
    expect(reason).toContain('[name]');
    expect(leaked(reason ?? '')).toEqual([]);
    await hub.vendors.mailchimp.control.clearFaults();
  });
});
