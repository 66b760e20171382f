import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsentStatusView } from '../../domain/consent.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { awaitRectification, requestRectification } from '../../hub-client/rectifications.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import type { consentWorkflow } from '../../workflows/consent.js';
import { consentWorkflowId } from '../../workflows/consent-definitions.js';
import { changeSettled, consentViewWhen, testWithdrawal } from '../support/consent-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { deliverUpemail } from '../support/mailchimp-webhooks.js';
import { uniqueEmail } from '../support/unique-email.js';
import { mailchimpMember } from '../support/vendor-sandboxes.js';
import { waitFor } from '../support/waiting.js';
import { terminateWorkflows, workflowStatus } from '../support/workflow-runs.js';

const listId = 'handoverlist1';

/**
 * Issue 18: an email change re-keys the person, and the consent workflow still running under the old key
 * hands its pending work to the new key's workflow and ends; afterwards exactly one consent workflow runs,
 * under the new key. Real dev server, real connectors, the vendor sandboxes.
 */
describe('consent workflow hand-over on re-key', { timeout: 240_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: ConsentClientContext;
  const opened: string[] = [];

  beforeAll(async () => {
    hub = await startHubWithVendors('consent-handover');
    const base = hub.temporal.context();
    // A long idle period: the consent workflow stays open between changes, as production's does.
    context = { ...base, consentTimings: { ...base.consentTimings, idleAfter: '10 minutes' } };
  });
  afterAll(async () => {
    if (context) await terminateWorkflows(context.client, opened);
    await hub?.close();
  });

  const handleOf = (subjectKey: string) =>
    context.client.workflow.getHandle<typeof consentWorkflow>(consentWorkflowId(subjectKey));
  const statusOf = (subjectKey: string) => workflowStatus(context.client, consentWorkflowId(subjectKey));
  const viewWhen = (subjectKey: string, test: (view: ConsentStatusView) => boolean, what: string) =>
    consentViewWhen(context.client, subjectKey, test, what);

  async function plant(oldEmail: string, gaClientId: string) {
    await hub.vendors.dynamics.control.seed({
      contacts: [
        { firstname: 'Hand', lastname: 'Over', emailaddress1: oldEmail, new_gaclientid: gaClientId },
      ],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: listId, name: 'Hand-over list', members: [{ email_address: oldEmail, status: 'subscribed' }] },
      ],
    });
  }

  it('hands a failed GA withdrawal waiting for an operator to the new key: one workflow runs, under the new key, and writes it', async () => {
    const oldEmail = uniqueEmail('handover-old');
    const newEmail = uniqueEmail('handover-new');
    const gaClientId = `4242.${Date.now() % 1_000_000}`;
    await plant(oldEmail, gaClientId);
    const secret = context.subjectKeySecret;
    const oldKey = subjectKeyFor(oldEmail, secret);
    const newKey = subjectKeyFor(newEmail, secret);
    opened.push(consentWorkflowId(oldKey), consentWorkflowId(newKey));

    // Google refuses the user deletion once, for good: the withdrawal waits for an operator there.
    await hub.vendors.google.control.fail({ method: 'POST', path: 'userDeletionRequests', status: 403 });
    const withdrawal = await recordConsentChange(context, testWithdrawal(oldEmail, 'statistics'), undefined, {
      ledger: hub.ledger,
    });
    expect(withdrawal.subjectKey).toBe(oldKey);
    await viewWhen(oldKey, (v) => v.systems.google.status === 'needs_attention', 'google needs attention');
    await hub.vendors.google.control.clearFaults();
    expect(JSON.stringify(await hub.vendors.google.control.state())).not.toContain(gaClientId);

    const started = await requestRectification(
      context,
      {
        email: oldEmail,
        set: { email: newEmail },
        requestedBy: 'privacy-inbox#handover',
        requestedAt: new Date().toISOString(),
      },
      { ledger: hub.ledger },
    );
    const receipt = await awaitRectification(context, started);
    expect(receipt.rekeyed).toMatchObject({ from: oldKey, to: newKey, consentWorkflow: 'handed_over' });

    // The old run ended naming the new key, and nothing else: no address in its result.
    const ended = await handleOf(oldKey).result();
    expect(ended.rekeyedTo).toMatchObject({ subjectKey: newKey, requestId: started.requestId });
    expect(JSON.stringify(ended)).not.toContain(oldEmail);
    expect(await statusOf(oldKey)).toBe('COMPLETED');

    // The new key's workflow runs and carries the pending withdrawal to Google, for the new address's GA id.
    const view = await viewWhen(
      newKey,
      (v) => v.systems.google.written?.outcome === 'applied',
      'the new key writes the withdrawal to Google',
    );
    expect(view.purposes.statistics).toMatchObject({ decision: 'withdrawn', eventId: withdrawal.eventId });
    expect(JSON.stringify(await hub.vendors.google.control.state())).toContain(gaClientId);
    expect(await statusOf(newKey)).toBe('RUNNING');
    expect(await statusOf(oldKey)).toBe('COMPLETED');
    expect((await hub.ledger.listConsentEvents(newKey)).map((e) => e.id)).toEqual([withdrawal.eventId]);
    expect(await hub.ledger.listConsentEvents(oldKey)).toEqual([]);

    // A change sent later for the old address reaches the person's running workflow under the new key.
    const late = await recordConsentChange(context, testWithdrawal(oldEmail, 'marketing_email'), undefined, {
      ledger: hub.ledger,
    });
    expect(late).toMatchObject({ subjectKey: newKey, workflowId: consentWorkflowId(newKey) });
    await viewWhen(
      newKey,
      changeSettled('marketing_email', late.eventId),
      'the late change is written under the new key',
    );
    expect(await statusOf(oldKey)).toBe('COMPLETED');
    expect((await mailchimpMember(hub.vendors, listId, newEmail))?.status).toBe('unsubscribed');
  });

  it('hands an idle consent workflow over when Mailchimp reports the address change (upemail)', async () => {
    const oldEmail = uniqueEmail('up-handover-old');
    const newEmail = uniqueEmail('up-handover-new');
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Upemail', emailaddress1: oldEmail }] });
    // The person has already changed the address in Mailchimp when the hub hears of it.
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: listId, name: 'Hand-over list', members: [{ email_address: newEmail, status: 'subscribed' }] },
      ],
    });
    const secret = context.subjectKeySecret;
    const oldKey = subjectKeyFor(oldEmail, secret);
    const newKey = subjectKeyFor(newEmail, secret);
    opened.push(consentWorkflowId(oldKey), consentWorkflowId(newKey));
    const withdrawal = await recordConsentChange(context, testWithdrawal(oldEmail, 'marketing_email'));
    await viewWhen(
      oldKey,
      (v) => v.inFlight === 0 && v.systems.dynamics.written?.outcome === 'applied',
      'the withdrawal is written and the workflow idles',
    );
    const response = await deliverUpemail(hub, {
      webhookSecret: 'handover-upemail-secret-0123456789',
      listId,
      from: oldEmail,
      to: newEmail,
      newId: 'def456',
      firedAgoMs: 5000,
    });
    expect(response.status).toBe(200);
    const { rectificationRequestId } = response.body as { rectificationRequestId: string };
    const receipt = await waitFor('the rectification receipt', () =>
      hub.ledger.getRectification(rectificationRequestId),
    );
    expect(receipt.rekeyed).toMatchObject({ from: oldKey, to: newKey, consentWorkflow: 'handed_over' });

    expect((await handleOf(oldKey).result()).rekeyedTo?.subjectKey).toBe(newKey);
    const view = await viewWhen(newKey, (v) => v.inFlight === 0, 'the new key idles');
    expect(view.purposes.marketing_email).toMatchObject({
      decision: 'withdrawn',
      eventId: withdrawal.eventId,
    });
    expect(await statusOf(newKey)).toBe('RUNNING');
    expect(await statusOf(oldKey)).toBe('COMPLETED');
  });

  it('says none_running on the receipt when no consent workflow was open under the old key', async () => {
    const oldEmail = uniqueEmail('none-old');
    const newEmail = uniqueEmail('none-new');
    await plant(oldEmail, '');
    const started = await requestRectification(
      context,
      {
        email: oldEmail,
        set: { email: newEmail },
        requestedBy: 'privacy-inbox#none',
        requestedAt: new Date().toISOString(),
      },
      { ledger: hub.ledger },
    );
    const receipt = await awaitRectification(context, started);
    expect(receipt.rekeyed?.consentWorkflow).toBe('none_running');
    expect(await statusOf(subjectKeyFor(newEmail, context.subjectKeySecret))).toBeUndefined();
  });
});
