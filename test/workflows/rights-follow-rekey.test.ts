import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessExportDocument } from '../../activities/access-export.js';
import type { AccessStatusView } from '../../domain/access.js';
import { consentChangeRequestSchema } from '../../domain/consent.js';
import type { ErasureReceipt } from '../../domain/erasure.js';
import {
  type AccessClientContext,
  awaitAccess,
  lookupAccess,
  readAccessExport,
  requestAccess,
} from '../../hub-client/access.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { recordConsentBatch } from '../../hub-client/consent-batch.js';
import { lookupErasure, requestErasure } from '../../hub-client/erasures.js';
import { awaitRectification, requestRectification } from '../../hub-client/rectifications.js';
import { GrantRefusedAfterErasure, RectificationRefused } from '../../hub-client/request-errors.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { accessWorkflowId } from '../../workflows/access-definitions.js';
import { consentWorkflowId } from '../../workflows/consent-definitions.js';
import { testWithdrawal } from '../support/consent-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { operatorWaitTimings } from '../support/requests-needing-attention.js';
import { uniqueEmail } from '../support/unique-email.js';
import { mailchimpMember } from '../support/vendor-sandboxes.js';
import { waitFor } from '../support/waiting.js';
import { workflowStatus } from '../support/workflow-runs.js';

const listId = 'rightsrekey1';

/**
 * Issue 18's leftovers: an access request and a consent change by an address a rectification moved away from
 * act on the person under the key and address they have now, as erasure, hold and status do, whatever
 * state the person's consent workflow is in (the ledger's re-key link is followed, not a running workflow).
 * Real connectors, the vendor sandboxes and a real Temporal dev server.
 */
describe('access and consent changes follow a re-key', { timeout: 300_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: AccessClientContext & ConsentClientContext;
  let secret: string;

  beforeAll(async () => {
    hub = await startHubWithVendors('rights-follow-rekey', { accessExports: true });
    await hub.vendors.mailchimp.control.seed({ lists: [{ id: listId, name: 'Rights', members: [] }] });
    context = { ...hub.temporal.context(), timings: { ...operatorWaitTimings }, exportTtl: '1 hour' };
    secret = hub.temporal.secrets.subjectKeySecret;
  });
  afterAll(async () => {
    await hub?.close();
  });

  const key = (email: string) => subjectKeyFor(email, secret);
  const seedPerson = async (email: string, extra: Record<string, unknown> = {}) => {
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Rhoda', lastname: 'Rekey', emailaddress1: email, ...extra }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Rights', members: [{ email_address: email, status: 'subscribed' }] }],
    });
  };
  const rectify = async (email: string, newEmail: string) => {
    const receipt = await awaitRectification(
      context,
      await requestRectification(
        context,
        {
          email,
          set: { email: newEmail },
          requestedBy: 'privacy-inbox#18',
          requestedAt: new Date().toISOString(),
        },
        { ledger: hub.ledger },
      ),
    );
    expect(receipt.outcome).toBe('completed');
    expect(receipt.rekeyed?.to).toBe(key(newEmail));
    return receipt;
  };
  /** Waits for the export, closing (as an operator would) a system that needs attention. */
  const ready = async (requestId: string): Promise<AccessStatusView> => {
    for (;;) {
      const status = await awaitAccess(context, requestId);
      if (status.status !== 'needs_attention') return status;
      const handle = context.client.workflow.getHandle(accessWorkflowId(requestId));
      for (const [system, state] of Object.entries(status.systems))
        if (state.status === 'needs_attention')
          await handle.executeUpdate('closeSystem', {
            args: [{ system, reason: 'not part of this test', operator: 'test' }],
          });
      await delay(100);
    }
  };
  const noAddressIn = (value: unknown, ...emails: string[]) => {
    const text = JSON.stringify(value).toLowerCase();
    for (const email of emails) expect(text).not.toContain(email);
  };

  it('access by the first of three addresses gathers the person at the newest one, and says it was asked under the old key', async () => {
    const oldEmail = uniqueEmail('access.old');
    const newEmail = uniqueEmail('access.new');
    const newerEmail = uniqueEmail('access.newer');
    await seedPerson(oldEmail, { jobtitle: 'Planted Rekey Title' });
    const first = await rectify(oldEmail, newEmail);
    const second = await rectify(newEmail, newerEmail);
    const byOld = await requestAccess(
      context,
      { email: oldEmail, requestedBy: 'privacy-inbox#18', requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
    expect(byOld.subjectKey).toBe(key(newerEmail));
    expect(byOld.requestedUnder).toMatchObject({
      subjectKey: key(oldEmail),
      rekeys: [
        { from: key(oldEmail), to: key(newEmail), rectificationRequestId: first.requestId },
        { from: key(newEmail), to: key(newerEmail), rectificationRequestId: second.requestId },
      ],
    });
    expect(byOld.requestedUnder?.note).toBeUndefined();
    // Nothing was recorded under the old keys since their re-keys: every link was followed.
    expect(byOld.requestedUnder?.notFollowed).toBeUndefined();
    const status = await ready(byOld.requestId);
    expect(status.status).toBe('ready');
    expect(status.subjectKey).toBe(key(newerEmail));
    expect(status.requestedUnder?.subjectKey).toBe(key(oldEmail));
    expect(status.systems.dynamics.recordCount).toBeGreaterThan(0);
    expect(status.systems.mailchimp.recordCount).toBeGreaterThan(0);
    // The copy is the person's as they are now: the contact and member at the newest address.
    const { content } = await readAccessExport(context, hub.accessExports!, byOld.requestId, 'json');
    const text = content.toString('utf8');
    const document = JSON.parse(text) as AccessExportDocument;
    expect(document.subjectKey).toBe(key(newerEmail));
    expect(document.subject.email).toBe(newerEmail);
    expect(text).toContain('Planted Rekey Title');
    expect(text).not.toContain(oldEmail);
    // The answer, status and the workflow's view hold keys only.
    noAddressIn(
      [byOld, status, await lookupAccess(context, byOld.requestId)],
      oldEmail,
      newEmail,
      newerEmail,
    );

    // By the address the person has now, nothing was re-keyed: no requestedUnder, the same key.
    const byNow = await requestAccess(
      context,
      { email: newerEmail, requestedBy: 'privacy-inbox#18', requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
    expect(byNow.subjectKey).toBe(key(newerEmail));
    expect(byNow.requestedUnder).toBeUndefined();
    expect((await ready(byNow.requestId)).requestedUnder).toBeUndefined();
  });

  it("a withdrawal by the old address after the new key's consent workflow closed goes to the person at the new address", async () => {
    const oldEmail = uniqueEmail('consent.old');
    const newEmail = uniqueEmail('consent.new');
    await seedPerson(oldEmail);
    const receipt = await rectify(oldEmail, newEmail);
    expect(receipt.rekeyed?.consentWorkflow).toBe('none_running');
    // A change by the new address ran the person's workflow, which closes once idle (5 s in tests).
    await recordConsentChange(context, testWithdrawal(newEmail, 'phone'), undefined, { ledger: hub.ledger });
    await waitFor('the new key’s consent workflow closes', async () =>
      (await workflowStatus(context.client, consentWorkflowId(key(newEmail)))) === 'COMPLETED'
        ? true
        : undefined,
    );

    const late = await recordConsentChange(context, testWithdrawal(oldEmail, 'marketing_email'), undefined, {
      ledger: hub.ledger,
    });
    expect(late.subjectKey).toBe(key(newEmail));
    // Written where the person is now: Mailchimp's member at the new address is unsubscribed.
    await waitFor('the member at the new address is unsubscribed', async () =>
      (await mailchimpMember(hub.vendors, listId, newEmail))?.status === 'unsubscribed' ? true : undefined,
    );
    await waitFor('the change is in the ledger under the new key', async () =>
      (await hub.ledger.listConsentEvents(key(newEmail))).some((e) => e.id === late.eventId)
        ? true
        : undefined,
    );
    expect((await hub.ledger.listConsentEvents(key(oldEmail))).map((e) => e.id)).not.toContain(late.eventId);
    expect(await mailchimpMember(hub.vendors, listId, oldEmail)).toBeUndefined();

    // A batch (webhooks, reconciliation) takes the same route with no workflow running.
    await waitFor('the new key’s consent workflow closes again', async () =>
      (await workflowStatus(context.client, consentWorkflowId(key(newEmail)))) === 'COMPLETED'
        ? true
        : undefined,
    );
    const batch = await recordConsentBatch(
      context,
      [
        {
          index: 0,
          change: consentChangeRequestSchema.parse(testWithdrawal(oldEmail, 'postal_mail')),
        },
      ],
      { ledger: hub.ledger },
    );
    expect(batch.accepted[0]?.subjectKey).toBe(key(newEmail));
    const batchEvent = batch.accepted[0]?.eventId;
    await waitFor('the batch change is in the ledger under the new key', async () =>
      (await hub.ledger.listConsentEvents(key(newEmail))).some((e) => e.id === batchEvent) ? true : undefined,
    );
    expect(await workflowStatus(context.client, consentWorkflowId(key(oldEmail)))).toBeUndefined();
  });

  it('a grant by the old address after the person was erased under the new key is refused, as a grant by the new one is', async () => {
    const oldEmail = uniqueEmail('grant.old');
    const newEmail = uniqueEmail('grant.new');
    await seedPerson(oldEmail);
    await rectify(oldEmail, newEmail);
    const erasure = await requestErasure(
      context,
      { email: newEmail, requestedBy: 'privacy-inbox#18', requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
    await waitFor(
      'the erasure completes',
      async () => {
        const found = await lookupErasure(context, erasure.requestId);
        return found.state === 'completed' ? (found.receipt as ErasureReceipt) : undefined;
      },
      { tries: 600, everyMs: 200 },
    );
    expect(await hub.ledger.getTombstone(key(newEmail))).toBeDefined();
    await expect(
      recordConsentChange(
        context,
        {
          ...testWithdrawal(oldEmail, 'marketing_email'),
          decision: 'granted',
          evidence: { policyVersion: '2026-01', formId: 'signup' },
        },
        undefined,
        { ledger: hub.ledger },
      ),
    ).rejects.toBeInstanceOf(GrantRefusedAfterErasure);
    expect(await hub.ledger.listConsentEvents(key(oldEmail))).toEqual([]);
  });

  it('refuses a rectification to an address another person was rectified away from (address_taken), so requests by it never reach the one who left; the person taking their own old address back is allowed', async () => {
    const leftEmail = uniqueEmail('taken.left');
    const movedToEmail = uniqueEmail('taken.movedto');
    const otherEmail = uniqueEmail('taken.other');
    await seedPerson(leftEmail);
    await seedPerson(otherEmail);
    const first = await rectify(leftEmail, movedToEmail);
    const other = {
      email: otherEmail,
      set: { email: leftEmail.toUpperCase() },
      requestedBy: 'privacy-inbox#18',
      requestedAt: new Date().toISOString(),
    };
    const refusal = await requestRectification(context, other, { ledger: hub.ledger }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(RectificationRefused);
    expect((refusal as RectificationRefused).code).toBe('address_taken');
    expect((refusal as RectificationRefused).message).toContain(first.requestId);
    noAddressIn((refusal as Error).message, leftEmail, movedToEmail, otherEmail);
    // Nothing moved: the other person is still at their own address, and the one who left still follows the link.
    expect(await hub.ledger.getSubjectLink(key(otherEmail))).toBeUndefined();
    expect((await hub.ledger.getSubjectLink(key(leftEmail)))?.to).toBe(key(movedToEmail));
    // The person who left may take their old address back.
    const back = await rectify(movedToEmail, leftEmail);
    expect(back.rekeyed?.from).toBe(key(movedToEmail));
  });
});
