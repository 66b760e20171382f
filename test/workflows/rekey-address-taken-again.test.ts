import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessExportDocument } from '../../activities/access-export.js';
import type { AccessStatusView } from '../../domain/access.js';
import type { ErasureReceipt } from '../../domain/erasure.js';
import {
  type AccessClientContext,
  awaitAccess,
  readAccessExport,
  requestAccess,
} from '../../hub-client/access.js';
import { type ConsentClientContext, consentStatus, recordConsentChange } from '../../hub-client/consent.js';
import { lookupErasure, requestErasure } from '../../hub-client/erasures.js';
import { awaitRectification, requestRectification } from '../../hub-client/rectifications.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { accessWorkflowId } from '../../workflows/access-definitions.js';
import { testWithdrawal } from '../support/consent-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { operatorWaitTimings } from '../support/requests-needing-attention.js';
import { uniqueEmail } from '../support/unique-email.js';
import { mailchimpMember } from '../support/vendor-sandboxes.js';
import { waitFor } from '../support/waiting.js';

const listId = 'takenagain1';

/**
 * An address given up can become someone else's: P rectified A -> B, then Q signed up with A (a grant
 * recorded under key(A) after the re-key). Requests by A are then Q's: the link A -> B is no longer followed,
 * so Q's opt-out reaches Q's member at A and leaves P subscribed at B, Q's access request exports Q's data,
 * not P's, and an erasure by A erases Q, not P. The answers say which re-key was not followed (keys only).
 * The siblings with nothing recorded under A since the re-key (the link followed) are in
 * rights-follow-rekey.test.ts and erasure-follows-rekey.test.ts. Real connectors, the vendor sandboxes and a
 * real Temporal dev server.
 */
describe('a re-key is not followed once the old address is someone else’s', { timeout: 300_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: AccessClientContext & ConsentClientContext;
  let secret: string;

  beforeAll(async () => {
    hub = await startHubWithVendors('rekey-address-taken-again', { accessExports: true });
    await hub.vendors.mailchimp.control.seed({ lists: [{ id: listId, name: 'Taken again', members: [] }] });
    context = { ...hub.temporal.context(), timings: { ...operatorWaitTimings }, exportTtl: '1 hour' };
    secret = hub.temporal.secrets.subjectKeySecret;
  });
  afterAll(async () => {
    await hub?.close();
  });

  const key = (email: string) => subjectKeyFor(email, secret);
  const seedPerson = async (email: string, person: { firstname: string; jobtitle: string }) => {
    await hub.vendors.dynamics.control.seed({
      contacts: [{ lastname: 'Reuse', emailaddress1: email, ...person }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Taken again', members: [{ email_address: email, status: 'subscribed' }] }],
    });
  };
  /** P at A, rectified to B; then Q at A in both tools, with Q's sign-up recorded under key(A). */
  const addressTakenAgain = async (options: { signUpRecorded?: boolean } = {}) => {
    const given = uniqueEmail('given.up');
    const moved = uniqueEmail('moved.to');
    await seedPerson(given, { firstname: 'Petra', jobtitle: 'Petra Planted Title' });
    const rectification = await awaitRectification(
      context,
      await requestRectification(
        context,
        {
          email: given,
          set: { email: moved },
          requestedBy: 'privacy-inbox#q',
          requestedAt: new Date().toISOString(),
        },
        { ledger: hub.ledger },
      ),
    );
    expect(rectification.rekeyed?.to).toBe(key(moved));
    expect((await mailchimpMember(hub.vendors, listId, moved))?.status).toBe('subscribed');
    expect(await mailchimpMember(hub.vendors, listId, given)).toBeUndefined();
    // Q signs up with A: Mailchimp's subscribe webhook recorded the grant under key(A), after the re-key.
    await seedPerson(given, { firstname: 'Quentin', jobtitle: 'Quentin Own Title' });
    const at = new Date().toISOString();
    if (options.signUpRecorded !== false)
      await hub.ledger.appendConsentEvent({
        id: randomUUID(),
        subjectKey: key(given),
        purpose: 'marketing_email',
        decision: 'granted',
        occurredAt: at,
        recordedAt: at,
        source: 'mailchimp:subscribe',
        evidence: { channel: 'mailchimp', policyVersion: '2026-01' },
      });
    const notFollowed = {
      from: key(given),
      to: key(moved),
      rectificationRequestId: rectification.requestId,
    };
    return { given, moved, notFollowed, linkedAt: rectification.rekeyed?.at ?? '' };
  };
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

  it("Q's opt-out by the reused address reaches Q's member there and leaves P subscribed at the new address", async () => {
    const { given, moved, notFollowed } = await addressTakenAgain();
    const optOut = await recordConsentChange(context, testWithdrawal(given, 'marketing_email'), undefined, {
      ledger: hub.ledger,
    });
    expect(optOut.subjectKey).toBe(key(given));
    await waitFor('Q’s member at the reused address is unsubscribed', async () =>
      (await mailchimpMember(hub.vendors, listId, given))?.status === 'unsubscribed' ? true : undefined,
    );
    await waitFor('the opt-out is in the ledger under key(A)', async () =>
      (await hub.ledger.listConsentEvents(key(given))).some((e) => e.id === optOut.eventId)
        ? true
        : undefined,
    );
    expect((await hub.ledger.listConsentEvents(key(moved))).map((e) => e.id)).not.toContain(optOut.eventId);
    expect((await mailchimpMember(hub.vendors, listId, moved))?.status).toBe('subscribed');
    // Status by A is Q's, and says which re-key it did not follow.
    const status = await consentStatus(context, hub.ledger, given);
    expect(status.subjectKey).toBe(key(given));
    expect(status.requestedUnder).toMatchObject({ subjectKey: key(given), rekeys: [], notFollowed });
  });

  it("Q's access request by the reused address exports Q's data, not P's", async () => {
    const { given, moved, notFollowed } = await addressTakenAgain();
    const started = await requestAccess(
      context,
      { email: given, requestedBy: 'privacy-inbox#q', requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
    expect(started.subjectKey).toBe(key(given));
    expect(started.requestedUnder).toMatchObject({ subjectKey: key(given), rekeys: [], notFollowed });
    const status = await ready(started.requestId);
    expect(status.status).toBe('ready');
    expect(status.subjectKey).toBe(key(given));
    const { content } = await readAccessExport(context, hub.accessExports!, started.requestId, 'json');
    const text = content.toString('utf8');
    const document = JSON.parse(text) as AccessExportDocument;
    expect(document.subjectKey).toBe(key(given));
    expect(document.subject.email).toBe(given);
    expect(text).toContain('Quentin Own Title');
    expect(text).not.toContain('Petra Planted Title');
    expect(text).not.toContain(moved);
  });

  it('an erasure by the reused address erases Q there and leaves P at the new address alone', async () => {
    const { given, moved, notFollowed } = await addressTakenAgain();
    const started = await requestErasure(
      context,
      { email: given, requestedBy: 'privacy-inbox#q', requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
    expect(started.subjectKey).toBe(key(given));
    expect(started.requestedUnder).toMatchObject({ subjectKey: key(given), rekeys: [], notFollowed });
    await waitFor(
      'the erasure completes',
      async () => {
        const found = await lookupErasure(context, started.requestId);
        return found.state === 'completed' ? (found.receipt as ErasureReceipt) : undefined;
      },
      { tries: 600, everyMs: 200 },
    );
    expect(await mailchimpMember(hub.vendors, listId, given)).toBeUndefined();
    expect((await mailchimpMember(hub.vendors, listId, moved))?.status).toBe('subscribed');
    expect(await hub.ledger.getTombstone(key(given))).toBeDefined();
    expect(await hub.ledger.getTombstone(key(moved))).toBeUndefined();
  });

  it("a Mailchimp unsubscribe of the reused address fired after the re-key is Q's own, though nothing was recorded under it yet; one fired before it is still P's", async () => {
    const { given, moved, notFollowed, linkedAt } = await addressTakenAgain({ signUpRecorded: false });
    const webhook = (occurredAt: string) => ({
      ...testWithdrawal(given, 'marketing_email'),
      source: 'mailchimp',
      occurredAt,
      evidence: { channel: 'mailchimp-webhook' },
    });
    // A late delivery of P's own unsubscribe (fired before the re-key) still goes to P at the new address.
    const late = await recordConsentChange(
      context,
      webhook(new Date(Date.parse(linkedAt) - 60_000).toISOString()),
      undefined,
      { ledger: hub.ledger },
    );
    expect(late.subjectKey).toBe(key(moved));
    await waitFor('P’s member at the new address is unsubscribed by P’s own late webhook', async () =>
      (await mailchimpMember(hub.vendors, listId, moved))?.status === 'unsubscribed' ? true : undefined,
    );
    expect((await mailchimpMember(hub.vendors, listId, given))?.status).toBe('subscribed');
    // Fired after the re-key: Mailchimp showed the address once P's member had moved away, so it is Q's.
    const fresh = await recordConsentChange(context, webhook(new Date().toISOString()), undefined, {
      ledger: hub.ledger,
    });
    expect(fresh.subjectKey).toBe(key(given));
    await waitFor('Q’s member at the reused address is unsubscribed', async () =>
      (await mailchimpMember(hub.vendors, listId, given))?.status === 'unsubscribed' ? true : undefined,
    );
    await waitFor('the change is recorded under key(A)', async () =>
      (await hub.ledger.listConsentEvents(key(given))).some((e) => e.id === fresh.eventId) ? true : undefined,
    );
    // Recorded under A, it gives A its life: a request by A from the hub's own channels is Q's too.
    const access = await requestAccess(
      context,
      { email: given, requestedBy: 'privacy-inbox#q', requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
    expect(access.subjectKey).toBe(key(given));
    expect(access.requestedUnder).toMatchObject({ rekeys: [], notFollowed });
  });
});
