import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordConsentChange } from '../../hub-client/consent.js';
import {
  awaitReceipt,
  closeErasureSystem,
  type HubClientContext,
  requestErasure,
} from '../../hub-client/erasures.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { personInCrm } from '../support/crm-people.js';
import { erasureContext, erasureFailureReason } from '../support/erasure-runs.js';
import { rawHistoryText } from '../support/history.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { waitFor } from '../support/waiting.js';

// A local part that shares no word with the name: only the name the CRM holds can redact it.
const email = `zq.${Date.now()}@example.com`;
const firstName = 'Zebulon';
const lastName = 'Quixotewright';

/** The name the CRM holds reaches the redaction of every later call: failures, status views, logs. */
describe("redaction of the CRM's name for the person", { timeout: 120_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;
  const logs = capturingLogger();

  beforeAll(async () => {
    hub = await startHubWithVendors('crm-name-redaction', { logger: logs.logger });
    context = erasureContext(hub);
  });
  afterAll(() => hub?.close());

  it('redacts the first and last name Dynamics holds from a Dataverse error that echoes them, in the failure, the history and the logs', async () => {
    await personInCrm(hub, { first: firstName, last: lastName, email });
    // As a plug-in's message would: Dataverse answers 400 with the row's name in the error text.
    await hub.vendors.dynamics.control.fail({
      method: 'DELETE',
      path: '^/api/data/v9.2/contacts',
      status: 400,
      count: 20,
      message: `Cannot delete the contact ${firstName} ${lastName.toUpperCase()}: the plug-in 'Keep ${lastName}' refused`,
    });
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#11',
      requestedAt: new Date().toISOString(),
    });
    const reason = await erasureFailureReason(context, started.requestId, 'dynamics');
    // The operator still reads what Dataverse said, without the person's name.
    expect(reason).toBe(
      "Dataverse rejected the request: Cannot delete the contact [name] [name]: the plug-in 'Keep [name]' refused",
    );

    await closeErasureSystem(context, started.requestId, { system: 'dynamics', reason: 'plug-in removed' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.systems.dynamics.status).toBe('closed_by_operator');

    // The connector's own warning quotes the vendor's reason: it is there, redacted.
    const connectorWarning = logs
      .records()
      .find((line) => line.msg === 'Dynamics call failed' && String(line.reason).includes('plug-in'));
    expect(connectorWarning?.reason).toContain('[name]');
    const everything = [
      logs.lines.join('\n'),
      await rawHistoryText(hub.temporal.client, started.workflowId),
      JSON.stringify(receipt),
      reason,
    ].join('\n');
    for (const needle of [firstName, lastName])
      expect(everything.toLowerCase()).not.toContain(needle.toLowerCase());
    // The sandbox really sent the name: the redaction, not the vendor, kept it out.
    await hub.vendors.dynamics.control.clearFaults();
  });

  it("redacts the CRM's names from an erasure's reason note, typed before they were known, in the receipt and the ledger", async () => {
    const noteEmail = await personInCrm(hub, {
      first: 'Ottoline',
      last: 'Vandersteen',
      email: `nq.${Date.now()}@example.com`,
    });
    const started = await requestErasure(
      context,
      {
        email: noteEmail,
        reason: 'subject_request',
        reasonNote: 'phoned in by Ottoline VANDERSTEEN herself',
        requestedBy: 'privacy-inbox#12',
        requestedAt: new Date().toISOString(),
      },
      { ledger: hub.ledger },
    );
    const receipt = await awaitReceipt(context, started);
    expect(receipt.reasonNote).toBe('phoned in by [name] [name] herself');
    const stored = JSON.stringify(await hub.ledger.getReceipt(started.requestId));
    expect(stored).toContain('phoned in by [name] [name] herself');
    for (const needle of ['ottoline', 'vandersteen']) expect(stored.toLowerCase()).not.toContain(needle);
  });

  it("redacts the CRM's names from a consent change's evidence note before the ledger keeps it, though no lane had read them", async () => {
    const noteEmail = await personInCrm(hub, {
      first: 'Perpetua',
      last: 'Quillfeather',
      email: `cq.${Date.now()}@example.com`,
    });
    const accepted = await recordConsentChange(
      { ...hub.temporal.context(), ...context },
      {
        email: noteEmail,
        purpose: 'marketing_email',
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        source: 'privacy-inbox',
        evidence: { requestRef: 'ticket-77', note: 'letter signed Perpetua QUILLFEATHER' },
      },
    );
    const notes = await waitFor('the change in the ledger, with its note', async () => {
      const kept = (await hub.ledger.listConsentEvents(accepted.subjectKey))
        .map((event) => String(event.evidence.note ?? ''))
        .filter(Boolean);
      return kept.length > 0 ? kept : undefined;
    });
    expect(notes).toEqual(['letter signed [name] [name]']);
  });
});
