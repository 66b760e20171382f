import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ErasureStatusView } from '../../domain/erasure.js';
import type { ReconciliationReport } from '../../domain/reconciliation.js';
import {
  awaitReceipt,
  type HubClientContext,
  lookupErasure,
  requestErasure,
} from '../../hub-client/erasures.js';
import { placeHold, releaseHold } from '../../hub-client/holds.js';
import { keyedVendorId } from '../../privacy/keyed-id.js';
import { consentWorkflowId } from '../../workflows/consent-definitions.js';
import { holdReleasedSignal } from '../../workflows/erasure-definitions.js';
import { erasureContext, erasureStatusWhen } from '../support/erasure-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { uniqueEmail } from '../support/unique-email.js';

const listId = 'holdlist01';

type Row = Record<string, unknown>;
type DynamicsState = { contacts: Row[]; leads: Row[] };
type MailchimpState = {
  lists: { id: string; members: { email_address: string; status: string; tags: { name: string }[] }[] }[];
};

/**
 * Legal hold (GDPR Art. 18, Art. 17(3)) against the real connectors, the vendor sandboxes and a real Temporal
 * dev server: a held person's erasure restricts instead of deleting, waits durably, and deletes once the hold
 * is released; the restriction receipt and the erasure receipt both say what happened and when.
 */
describe('a held person’s erasure restricts, and erases once the hold is released', {
  timeout: 240_000,
}, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('legal-hold');
    context = erasureContext(hub);
  });
  afterAll(async () => {
    await hub?.close();
  });

  const waitFor = (requestId: string, test: (s: ErasureStatusView) => boolean) =>
    erasureStatusWhen(context, requestId, test);
  const dynamicsRows = async (email: string) => {
    const state = await hub.vendors.dynamics.control.state<DynamicsState>();
    const mine = (rows: Row[]) => rows.filter((row) => row.emailaddress1 === email);
    return { contacts: mine(state.contacts), leads: mine(state.leads) };
  };
  const mailchimpMembers = async (email: string) => {
    const state = await hub.vendors.mailchimp.control.state<MailchimpState>();
    return state.lists.flatMap((list) => list.members.filter((m) => m.email_address === email));
  };

  it('restricts everywhere while held, then deletes after the release; both receipts say so', async () => {
    const email = uniqueEmail('held');
    await hub.vendors.dynamics.control.seed({
      contacts: [
        { firstname: 'Held', lastname: 'Person', emailaddress1: email, new_gaclientid: '1111.2222' },
      ],
      leads: [{ firstname: 'Held', lastname: 'Person', emailaddress1: email }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Hold list', members: [{ email_address: email, status: 'subscribed' }] }],
    });

    const held = await placeHold(context, hub.ledger, {
      email,
      reason: 'legal_claims',
      placedBy: 'cli:legal',
    });
    expect(held).toMatchObject({ placed: true, erasureRunning: false, hold: { reason: 'legal_claims' } });
    const again = await placeHold(context, hub.ledger, {
      email,
      reason: 'authority_order',
      placedBy: 'cli:other',
    });
    expect(again).toMatchObject({ placed: false, hold: { reason: 'legal_claims', placedBy: 'cli:legal' } });

    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#77',
      requestedAt: new Date().toISOString(),
    });
    const onHold = await waitFor(started.requestId, (s) => s.status === 'on_hold');

    // Restricted, not deleted: every donot* set and the rows inactive; the member unsubscribed and tagged.
    const rows = await dynamicsRows(email);
    expect(rows.contacts).toHaveLength(1);
    expect(rows.leads).toHaveLength(1);
    expect(rows.contacts[0]).toMatchObject({
      donotbulkemail: true,
      donotbulkpostalmail: true,
      donotemail: true,
      donotfax: true,
      donotphone: true,
      donotpostalmail: true,
      donotsendmm: true,
      followemail: false,
      statecode: 1,
      statuscode: 2,
    });
    expect(rows.leads[0]).toMatchObject({
      donotbulkemail: true,
      donotemail: true,
      donotfax: true,
      donotphone: true,
      donotpostalmail: true,
      donotsendmm: true,
      followemail: false,
      statecode: 2,
      statuscode: 5,
    });
    const members = await mailchimpMembers(email);
    expect(members).toHaveLength(1);
    expect(members[0]?.status).toBe('unsubscribed');
    expect(members[0]?.tags.map((t) => t.name)).toEqual(['restricted']);
    // Google was not asked to delete anything yet.
    expect(JSON.stringify(await hub.vendors.google.control.state())).not.toContain('1111.2222');

    const secret = hub.temporal.secrets.subjectKeySecret;
    const contactId = String(rows.contacts[0]?.contactid);
    expect(onHold.systems.dynamics.status).toBe('pending');
    expect(onHold.restriction?.hold.reason).toBe('legal_claims');
    expect(onHold.restriction?.systems.dynamics).toMatchObject({ status: 'restricted' });
    expect(onHold.restriction?.systems.dynamics.records).toContainEqual({
      kind: 'contact',
      id: contactId,
      result: 'restricted',
      actions: expect.arrayContaining([
        'donotemail',
        'donotbulkpostalmail',
        'followemail',
        'statecode',
        'statuscode',
      ]),
    });
    expect(onHold.restriction?.systems.mailchimp.records).toEqual([
      expect.objectContaining({
        kind: 'member',
        container: listId,
        result: 'restricted',
        actions: ['status:unsubscribed', 'tag:restricted'],
      }),
    ]);
    expect(onHold.restriction?.systems.mailchimp.records[0]?.id).toMatch(/^hmac:/);
    expect(onHold.restriction?.systems.google).toMatchObject({ status: 'not_applicable' });
    expect(onHold.restriction?.systems.google.note).toMatch(/no per-user restriction/);

    // The restriction receipt is in the ledger already, while the erasure waits.
    const restrictionReceipt = await hub.ledger.getRestriction(started.requestId);
    expect(restrictionReceipt).toMatchObject({
      requestId: started.requestId,
      subjectKey: started.subjectKey,
      outcome: 'restricted',
      hold: { reason: 'legal_claims', placedAt: held.hold.placedAt },
    });
    expect(restrictionReceipt?.released).toBeUndefined();
    const restrictedAt = Date.parse(restrictionReceipt?.restrictedAt ?? '');
    expect(restrictedAt).toBeGreaterThanOrEqual(Date.parse(held.hold.placedAt));
    // Still waiting, and still holding the data, a moment later.
    await delay(1000);
    expect((await lookupErasure(context, started.requestId)).state).toBe('open');
    expect((await dynamicsRows(email)).contacts).toHaveLength(1);

    const released = await releaseHold(context, hub.ledger, {
      email,
      reason: 'resolved',
      releasedBy: 'cli:legal',
    });
    expect(released).toMatchObject({ erasureSignalled: true, hold: { releaseReason: 'resolved' } });
    const receipt = await awaitReceipt(context, started);

    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(receipt.systems.google.status).toBe('submitted');
    expect(receipt.systems.google.records.map((r) => r.id)).toEqual([
      keyedVendorId(secret, 'google', '1111.2222'),
    ]);
    expect(receipt.restriction).toMatchObject({
      hold: { reason: 'legal_claims' },
      outcome: 'restricted',
      restrictedAt: restrictionReceipt?.restrictedAt,
      released: { by: 'cli:legal', reason: 'resolved', at: released.hold?.releasedAt },
    });
    // In order: restricted, released, then erased.
    expect(Date.parse(receipt.restriction?.released?.at ?? '')).toBeGreaterThanOrEqual(restrictedAt);
    expect(Date.parse(receipt.completedAt)).toBeGreaterThanOrEqual(
      Date.parse(released.hold?.releasedAt ?? ''),
    );
    expect(await dynamicsRows(email)).toEqual({ contacts: [], leads: [] });
    expect(await mailchimpMembers(email)).toEqual([]);
    expect(await hub.ledger.getReceipt(started.requestId)).toEqual(receipt);
    expect((await hub.ledger.getRestriction(started.requestId))?.released).toEqual(
      receipt.restriction?.released,
    );
  });

  it('reconciliation reads a held person’s restriction as the hub’s own write: no withdrawal recorded, nothing repaired, before or after the release', async () => {
    const email = uniqueEmail('held-reconciled');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Held', lastname: 'Reconciled', emailaddress1: email }],
      leads: [{ firstname: 'Held', lastname: 'Reconciled', emailaddress1: email }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Hold list', members: [{ email_address: email, status: 'subscribed' }] }],
    });
    await placeHold(context, hub.ledger, { email, reason: 'legal_claims', placedBy: 'cli:legal' });
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#80',
      requestedAt: new Date().toISOString(),
    });
    await waitFor(started.requestId, (s) => s.status === 'on_hold');
    expect((await mailchimpMembers(email))[0]?.status).toBe('unsubscribed');

    const reconcile = (runId: string): Promise<ReconciliationReport> =>
      hub.temporal.client.workflow.execute('reconciliationWorkflow', {
        taskQueue: hub.temporal.taskQueue,
        workflowId: runId,
        args: [{ runId, full: true }],
      });
    const consentWorkflowStarted = () =>
      hub.temporal.client.workflow
        .getHandle(consentWorkflowId(started.subjectKey))
        .describe()
        .then(
          () => true,
          (error: unknown) => {
            if (error instanceof WorkflowNotFoundError) return false;
            throw error;
          },
        );

    const whileHeld = await reconcile(`held-reconcile-${Date.now()}`);
    expect(whileHeld.systems.mailchimp.people).toBeGreaterThan(0);
    expect(whileHeld.systems.dynamics.people).toBeGreaterThan(0);
    expect(await hub.ledger.listConsentEvents(started.subjectKey)).toEqual([]);
    expect(await consentWorkflowStarted()).toBe(false);
    expect(whileHeld.needsAttention.filter((d) => d.subjectKey === started.subjectKey)).toEqual([]);
    // Still restricted as the erasure left it: nothing was "repaired" back.
    expect((await mailchimpMembers(email))[0]?.status).toBe('unsubscribed');
    expect((await dynamicsRows(email)).contacts[0]).toMatchObject({ donotemail: true, statecode: 1 });

    await releaseHold(context, hub.ledger, { email, reason: 'resolved', releasedBy: 'cli:legal' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    await reconcile(`held-reconcile-after-${Date.now()}`);
    expect(await hub.ledger.listConsentEvents(started.subjectKey)).toEqual([]);
    expect(await consentWorkflowStarted()).toBe(false);
    expect(await dynamicsRows(email)).toEqual({ contacts: [], leads: [] });
    expect(await mailchimpMembers(email)).toEqual([]);
  });

  it('keeps restricting when a release is signalled past the hub’s codec (straight to Temporal), and erases after the hub’s release', async () => {
    const email = uniqueEmail('held-plain-release');
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Hold list', members: [{ email_address: email, status: 'subscribed' }] }],
    });
    await placeHold(context, hub.ledger, { email, reason: 'legal_claims', placedBy: 'cli:legal' });
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#81',
      requestedAt: new Date().toISOString(),
    });
    await waitFor(started.requestId, (s) => s.status === 'on_hold');
    // A client as `temporal workflow signal` is: payloads as the default converter makes them, no codec.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const plain = new Client({ connection, namespace: hub.temporal.namespace });
      await plain.workflow.getHandle(started.workflowId, started.requestId).signal(holdReleasedSignal, {
        releasedAt: new Date().toISOString(),
        releasedBy: 'cli:legal',
        reason: 'resolved',
      });
    } finally {
      await connection.close();
    }
    await delay(3_000);
    expect((await lookupErasure(context, started.requestId)).state).toBe('open');
    expect(await waitFor(started.requestId, (s) => s.status === 'on_hold')).toMatchObject({
      status: 'on_hold',
    });
    expect((await mailchimpMembers(email))[0]?.status).toBe('unsubscribed');

    await releaseHold(context, hub.ledger, { email, reason: 'resolved', releasedBy: 'cli:legal' });
    expect((await awaitReceipt(context, started)).outcome).toBe('completed');
    expect(await mailchimpMembers(email)).toEqual([]);
  });

  it('erases at once a person whose hold was released before the erasure, and a person never held', async () => {
    for (const hold of [true, false]) {
      const email = uniqueEmail(hold ? 'released' : 'free');
      await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Free', emailaddress1: email }] });
      if (hold) {
        await placeHold(context, hub.ledger, { email, reason: 'legal_obligation', placedBy: 'cli:legal' });
        expect(
          (
            await releaseHold(context, hub.ledger, {
              email,
              reason: 'retention_expired',
              releasedBy: 'cli:legal',
            })
          ).erasureSignalled,
        ).toBe(false);
      }
      const started = await requestErasure(context, {
        email,
        requestedBy: 'privacy-inbox#78',
        requestedAt: new Date().toISOString(),
      });
      const receipt = await awaitReceipt(context, started);
      expect(receipt.restriction).toBeUndefined();
      expect(receipt.systems.dynamics.status).toBe('erased');
      expect(await hub.ledger.getRestriction(started.requestId)).toBeUndefined();
    }
  });

  it('completes a waiting erasure from the ledger alone when the release signal never reached it', async () => {
    const email = uniqueEmail('lost-signal');
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Lost', emailaddress1: email }] });
    await placeHold(context, hub.ledger, { email, reason: 'objection_pending', placedBy: 'cli:legal' });
    const quick = { ...context, timings: { ...context.timings, holdRecheck: '2 seconds' } };
    const started = await requestErasure(quick, {
      email,
      requestedBy: 'privacy-inbox#79',
      requestedAt: new Date().toISOString(),
    });
    await waitFor(started.requestId, (s) => s.status === 'on_hold');
    // The ledger alone: no signal is sent.
    await hub.ledger.releaseHold({
      subjectKey: started.subjectKey,
      releasedAt: new Date().toISOString(),
      releasedBy: 'cli:legal',
      releaseReason: 'verification_done',
    });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.restriction?.released).toMatchObject({ by: 'cli:legal', reason: 'verification_done' });
    expect(receipt.systems.dynamics.status).toBe('erased');
  });
});
