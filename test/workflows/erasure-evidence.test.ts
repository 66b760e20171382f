import { createHmac } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureReceipt, ErasureStatusView } from '../../domain/erasure.js';
import { maxRedactionNames } from '../../domain/redaction-names.js';
import {
  awaitReceipt,
  type HubClientContext,
  lookupErasure,
  requestErasure,
  retryErasureSystem,
} from '../../hub-client/erasures.js';
import { keyedVendorId } from '../../privacy/keyed-id.js';
import { gatedLedger, type HeldCall } from '../support/gated-ledger.js';
import { activityInputs, largestPayload } from '../support/history.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

// Dataverse pages of 200 rows, and 100 deletions per activity: the big case below is paged both ways.
process.env.DYNAMICS_PAGE_SIZE = '200';
const deletePageSize = 100;
const property = 'properties/400000001';

async function waitForStatus(
  context: HubClientContext,
  requestId: string,
  test: (s: ErasureStatusView) => boolean,
): Promise<ErasureStatusView> {
  for (let i = 0; i < 240; i++) {
    const found = await lookupErasure(context, requestId);
    if (found.state === 'open' && test(found.status)) return found.status;
    await delay(250);
  }
  throw new Error('status never matched');
}

let counter = 0;
const uniqueEmail = (name: string) => `${name}.${Date.now()}.${counter++}@example.com`;
const request = (email: string) => ({ email, requestedBy: 'test', requestedAt: new Date().toISOString() });

type DynamicsState = { contacts: Record<string, unknown>[]; leads: Record<string, unknown>[] };

/** Erasure evidence against the real connectors and the vendor sandboxes, with an in-process worker. */
describe('erasure evidence with the vendor sandboxes', { timeout: 240_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;
  let hold: (method: 'recordReceipt') => HeldCall;

  beforeAll(async () => {
    hub = await startHubWithVendors('erasure-evidence', {
      wrapLedger: (ledger) => {
        const gated = gatedLedger(ledger);
        hold = gated.hold;
        return gated.ledger;
      },
    });
    context = {
      ...hub.temporal.context(),
      timings: {
        attentionAfter: '1 minute',
        operatorDeadline: '5 minutes',
        heartbeatTimeout: '10 seconds',
        deletePageSize,
      },
    };
  });
  afterAll(async () => {
    await hub?.close();
  });

  const idsOf = async (email: string) => {
    const state = await hub.vendors.dynamics.control.state<DynamicsState>();
    const mine = (rows: Record<string, unknown>[], id: string) =>
      rows
        .filter((row) => [row.emailaddress1, row.emailaddress2, row.emailaddress3].includes(email))
        .map((row) => String(row[id]));
    return { contacts: mine(state.contacts, 'contactid'), leads: mine(state.leads, 'leadid') };
  };

  it('lists every record deleted across attempts: a contact and a lead, with a 503 on the lead', async () => {
    const email = uniqueEmail('retried');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Re', lastname: 'Tried', emailaddress1: email }],
      leads: [{ firstname: 'Re', lastname: 'Tried', emailaddress1: email }],
    });
    const planted = await idsOf(email);
    // More 503s than the SDK's own three retries: the activity fails once, after the contact is gone.
    await hub.vendors.dynamics.control.fail({
      method: 'DELETE',
      path: '^/api/data/v9.2/leads',
      status: 503,
      count: 4,
    });
    await hub.vendors.dynamics.control.clearRequests();
    const receipt = await awaitReceipt(context, await requestErasure(context, request(email)));
    const refused = (await hub.vendors.dynamics.control.requests()).filter(
      (entry) => entry.method === 'DELETE' && entry.status === 503,
    );
    expect(refused).toHaveLength(4);
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(receipt.systems.dynamics.failure).toBeUndefined();
    expect(receipt.systems.dynamics.records.map((r) => `${r.kind}:${r.id}:${r.result}`).sort()).toEqual(
      [`contact:${planted.contacts[0]}:deleted`, `lead:${planted.leads[0]}:deleted`].sort(),
    );
    expect(receipt.systems.dynamics.recordCount).toBe(2);
    expect(await idsOf(email)).toEqual({ contacts: [], leads: [] });
  });

  it('says in the receipt which activities Dataverse deleted with the contact and the lead (counted before the delete), and none is left', async () => {
    const email = uniqueEmail('activities');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Act', lastname: 'Ive', emailaddress1: email }],
      leads: [{ firstname: 'Act', lastname: 'Ive', emailaddress1: email }],
    });
    const planted = await idsOf(email);
    const contactId = planted.contacts[0] as string;
    const leadId = planted.leads[0] as string;
    await hub.vendors.dynamics.control.seed({
      emails: [
        { subject: 'Quote', _regardingobjectid_value: contactId },
        { subject: 'Offer', _regardingobjectid_value: leadId },
      ],
      phonecalls: [{ subject: 'Call', _regardingobjectid_value: leadId }],
      appointments: [{ subject: 'Demo', _regardingobjectid_value: contactId }],
      tasks: [
        { subject: 'Brochure', _regardingobjectid_value: contactId },
        { subject: 'Follow up', _regardingobjectid_value: leadId },
        { subject: 'Send', _regardingobjectid_value: leadId },
      ],
    });
    const receipt = await awaitReceipt(context, await requestErasure(context, request(email)));
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(receipt.systems.dynamics.deletedWithRecords).toEqual({
      email: 2,
      phonecall: 1,
      appointment: 1,
      task: 3,
    });
    type Activities = Record<'emails' | 'phonecalls' | 'appointments' | 'tasks', Record<string, unknown>[]>;
    const state = await hub.vendors.dynamics.control.state<Activities>();
    const left = [...state.emails, ...state.phonecalls, ...state.appointments, ...state.tasks].filter((row) =>
      [contactId, leadId].includes(String(row._regardingobjectid_value)),
    );
    expect(left).toEqual([]);
    expect(await hub.ledger.getReceipt(receipt.requestId)).toEqual(receipt);
  });

  it('reduces a whole _ga cookie harvested from the CRM to its client id, and reports an unusable one instead of claiming it', async () => {
    const email = uniqueEmail('cookie');
    await hub.vendors.dynamics.control.seed({
      contacts: [
        {
          firstname: 'Co',
          lastname: 'Okie',
          emailaddress1: email,
          new_gaclientid: 'GA1.1.1234567890.1600000000',
        },
      ],
      leads: [{ firstname: 'Co', lastname: 'Okie', emailaddress1: email, new_gaclientid: 'see notes' }],
    });
    const receipt = await awaitReceipt(context, await requestErasure(context, request(email)));
    expect(receipt.systems.google.status).toBe('submitted');
    expect(receipt.systems.google.records.map((r) => r.id)).toEqual([
      keyedVendorId(hub.temporal.secrets.subjectKeySecret, 'google', '1234567890.1600000000'),
    ]);
    expect(receipt.systems.google.unusableIdentifiers).toEqual([
      {
        kind: 'gaClientId',
        source: 'dynamics',
        reason: expect.stringMatching(/not a Google Analytics client id/),
        count: 1,
      },
    ]);
    const submitted = JSON.stringify(await hub.vendors.google.control.state());
    expect(submitted).toContain('1234567890.1600000000');
    expect(submitted).not.toContain('GA1.1.1234567890');
    expect(submitted).not.toContain('see notes');
  });

  it('waits for the reset of a used-up Google daily quota instead of calling an operator with a false reason', async () => {
    await hub.vendors.google.control.seed({ quotaUsed: { properties: { [property]: 1_000_000 } } });
    const started = await requestErasure(context, {
      ...request(uniqueEmail('quota')),
      gaClientIds: ['42.43'],
    });
    const waiting = await waitForStatus(
      context,
      started.requestId,
      (s) => s.systems.google.status === 'waiting_for_vendor',
    );
    expect(waiting.status).toBe('running');
    const resumesIn = Date.parse(waiting.systems.google.resumesAt ?? '') - Date.now();
    // Midnight Pacific is within a day, and far beyond the step's one-minute attention deadline.
    expect(resumesIn).toBeGreaterThan(60_000);
    expect(resumesIn).toBeLessThanOrEqual(25 * 3600_000);
    expect(waiting.systems.google.failure?.reason).toMatch(/daily/);
    // The quota is raised; an operator need not wait for midnight.
    await hub.vendors.google.control.seed({ quotaUsed: { properties: { [property]: 0 } } });
    await retryErasureSystem(context, started.requestId, { system: 'google' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.systems.google.status).toBe('submitted');
  });

  it('erases one address held by many rows in pages, keeping every payload in the history small', async () => {
    // The 25,000-row case of the issue is in `npm run bench -- big-erasure`; this one proves the same
    // mechanisms (paged deletes, a bounded and exact receipt) at a size npm test can afford.
    const email = 'info@big-crm.example.com';
    const rows = 1_200;
    await hub.vendors.dynamics.control.seed({
      // Every row a name of its own, as on a role address: the names the erasure carries must not grow.
      leads: Array.from({ length: rows }, (_, i) => ({
        firstname: `First${i}`,
        lastname: `Lead ${i}`,
        emailaddress1: email,
      })),
    });
    const planted = (await idsOf(email)).leads;
    expect(planted).toHaveLength(rows);
    const started = await requestErasure(context, request(email));
    const receipt = await awaitReceipt(context, started);
    expect(receipt.systems.dynamics).toMatchObject({
      status: 'erased',
      recordCount: rows,
      recordsTruncated: true,
    });
    expect(receipt.systems.dynamics.records).toHaveLength(50);
    expect(receipt.systems.dynamics.recordsDigest).toMatch(/^[0-9a-f]{64}$/);
    const stored = await hub.ledger.listErasureRecords(started.requestId, {
      system: 'dynamics',
      limit: rows * 2,
    });
    expect(stored).toHaveLength(rows);
    expect(stored.every((record) => record.result === 'deleted')).toBe(true);
    expect((await idsOf(email)).leads).toEqual([]);
    // Exact: the ledger lists precisely the rows planted, the receipt's inline records are its first 50,
    // and the digest is the keyed digest of the whole list.
    expect(stored.map((record) => record.id).sort()).toEqual([...planted].sort());
    expect(receipt.systems.dynamics.records.map((r) => `${r.kind}:${r.id}:${r.result}`)).toEqual(
      stored.slice(0, 50).map((r) => `${r.kind}:${r.id}:${r.result}`),
    );
    const digest = createHmac('sha256', hub.temporal.secrets.subjectKeySecret);
    for (const r of stored) digest.update(`${r.kind}\t${r.container ?? ''}\t${r.id}\t${r.result}\n`);
    expect(receipt.systems.dynamics.recordsDigest).toBe(digest.digest('hex'));
    // Paged: one activity per page of 100 (and one more that finds none left), never one for all.
    const history = await hub.temporal.client.workflow.getHandle(started.workflowId).fetchHistory();
    const pages = (history.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deleteErasurePage',
    ).length;
    expect(pages).toBeGreaterThanOrEqual(rows / deletePageSize);
    expect(pages).toBeLessThanOrEqual(rows / deletePageSize + 2);
    // A list of 1,200 ids would be about 100 KB; the largest payload holds counts and 50 records.
    const largest = await largestPayload(hub.temporal.client, started.workflowId);
    expect(largest.bytes, largest.eventType).toBeLessThan(24_000);
    // The names harvested for redaction are bounded too: no input carries more than the cap, and a delete
    // page's input stays the size of a few names (with all 2,400 names it was over 25 KB each).
    const inputs = await activityInputs(hub.temporal.client, started.workflowId, hub.temporal.dataConverter);
    const withNames = inputs.filter((i) =>
      Array.isArray((i.input as { subject?: { names?: unknown } }).subject?.names),
    );
    expect(withNames.length).toBeGreaterThan(pages);
    for (const { activityType, input } of withNames) {
      const names = (input as { subject: { names: string[] } }).subject.names;
      expect(names.length, activityType).toBeLessThanOrEqual(maxRedactionNames);
    }
    // Not none either: after the harvest the steps carry the cap of names, for redaction to use.
    const counts = withNames.map((i) => (i.input as { subject: { names: string[] } }).subject.names.length);
    expect(Math.max(...counts)).toBe(maxRedactionNames);
    const pageInputs = inputs.filter((i) => i.activityType === 'deleteErasurePage');
    expect(Math.max(...pageInputs.map((i) => i.bytes))).toBeLessThan(4_096);
  });

  it('carries out requests that arrive while the receipt is written in a follow-up erasure whose receipt names the first', async () => {
    const email = uniqueEmail('late');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'La', lastname: 'Te', emailaddress1: email, new_gaclientid: '111.222' }],
    });
    const receiptWrite = hold('recordReceipt');
    const withDeadline = { ledger: hub.ledger };
    const first = await requestErasure(context, request(email), withDeadline);
    const [written] = (await receiptWrite.arrived) as [ErasureReceipt];
    // Two more requests while the first receipt is on its way into the ledger: the signal lands during
    // the receipt's activity, after the point where that receipt could take it.
    const lateAt = Date.now();
    const late = await requestErasure(
      context,
      { ...request(email), gaClientIds: ['555.666'], requestedBy: 'late-desk' },
      withDeadline,
    );
    const later = await requestErasure(
      context,
      { ...request(email), gaUserIds: ['late-user-7'], requestedBy: 'later-desk' },
      withDeadline,
    );
    expect([late.joined, later.joined]).toEqual([true, true]);
    expect(late.requestId).toBe(first.requestId);
    const followUpWrite = hold('recordReceipt');
    receiptWrite.release();

    // The first receipt is stored and its request answered; the late requests' deadline, carried by the
    // follow-up under its own id, stays open until the follow-up's receipt is stored.
    const [followUpWritten] = (await followUpWrite.arrived) as [ErasureReceipt];
    expect((await hub.ledger.getRequestDeadline(first.requestId))?.completedAt).toBe(written.completedAt);
    const carried = await hub.ledger.getRequestDeadline(followUpWritten.requestId);
    // Received when the late request was, not when the first was (the row under the first id says that).
    expect(carried).toMatchObject({ kind: 'erasure', subjectKey: first.subjectKey });
    expect(Date.parse(carried?.receivedAt ?? '')).toBeGreaterThanOrEqual(lateAt);
    expect(carried?.completedAt).toBeUndefined();
    followUpWrite.release();

    const followUp = await awaitReceipt(context, late);
    expect((await hub.ledger.getRequestDeadline(followUp.requestId))?.completedAt).toBe(followUp.completedAt);
    expect(followUp.requestId).not.toBe(first.requestId);
    expect(followUp.followUpOf).toBe(first.requestId);
    expect(followUp.reErasureOf).toBe(first.requestId);
    expect(followUp.requestedBy).toBe('late-desk');
    expect(followUp.joinedRequests).toEqual([
      expect.objectContaining({ requestedBy: 'later-desk', gaClientIdsAdded: 0, gaUserIdsAdded: 1 }),
    ]);
    const keyed = (id: string) => keyedVendorId(hub.temporal.secrets.subjectKeySecret, 'google', id);
    expect(followUp.systems.google.records.map((r) => r.id).sort()).toEqual(
      [keyed('555.666'), keyed('late-user-7')].sort(),
    );
    const submitted = JSON.stringify(await hub.vendors.google.control.state());
    expect(submitted).toContain('555.666');
    expect(submitted).toContain('late-user-7');

    // The first receipt is stored as the workflow wrote it, without the late requests.
    const stored = await hub.ledger.getReceipt(first.requestId);
    expect(stored).toEqual(written);
    expect(stored?.followUpOf).toBeUndefined();
    expect(stored?.systems.google.records.map((r) => r.id)).toEqual([keyed('111.222')]);
    expect(await hub.ledger.getReceipt(followUp.requestId)).toEqual(followUp);
    expect(await lookupErasure(context, first.requestId)).toEqual({ state: 'completed', receipt: followUp });
  });
});
