import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureReceipt } from '../../domain/erasure.js';
import {
  type ErasureStarted,
  type HubClientContext,
  lookupErasure,
  movedRecordsErasureStates,
  requestErasure,
} from '../../hub-client/erasures.js';
import { placeHold, releaseHold } from '../../hub-client/holds.js';
import {
  awaitRectification,
  lookupRectification,
  requestRectification,
} from '../../hub-client/rectifications.js';
import { RectificationRefused } from '../../hub-client/request-errors.js';
import { keyedVendorId } from '../../privacy/keyed-id.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { closeSystemUpdate, erasureWorkflowId } from '../../workflows/erasure-definitions.js';
import { erasureContext } from '../support/erasure-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { halfDoneRectification } from '../support/rectification-runs.js';
import { dynamicsRowsHolding, mailchimpListsHolding } from '../support/sandbox-records.js';
import { uniqueEmail } from '../support/unique-email.js';

/** A Mailchimp-shaped audience id (10 hex digits), created before the hub first lists the audiences. */
const list = randomBytes(5).toString('hex');
type Row = Record<string, unknown>;

/**
 * Issue 18, after a rectification: an erasure, a legal hold and its release asked for by an address a
 * rectification moved away from act on the person under the key (and address) they have now, following a
 * chain of re-keys, and say under which key they were asked; an erasure after a half-done rectification (the
 * ledger not re-keyed) erases the records it moved to the other address too, by either address. Real
 * connectors, the vendor sandboxes (state read over their HTTP controls) and a real Temporal dev server.
 */
describe('erasure and legal hold follow a re-key', { timeout: 300_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;
  let secret: string;

  beforeAll(async () => {
    hub = await startHubWithVendors('erasure-follows-rekey');
    await hub.vendors.mailchimp.control.seed({ lists: [{ id: list, name: 'Rekey news', members: [] }] });
    const base = erasureContext(hub);
    context = { ...base, timings: { ...base.timings, holdRecheck: '2 seconds' } };
    secret = hub.temporal.secrets.subjectKeySecret;
  });
  afterAll(async () => {
    await hub?.close();
  });

  const dynamicsRows = async (email: string) => {
    const { contacts, leads } = await dynamicsRowsHolding(hub.vendors, email);
    return [
      ...contacts.map((row) => `contact:${String(row.contactid)}`),
      ...leads.map((row) => `lead:${String(row.leadid)}`),
    ].sort();
  };
  const mailchimpMembers = async (email: string) => (await mailchimpListsHolding(hub.vendors, email)).length;
  const seedPerson = async (email: string, extra: Row = {}) => {
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Ottilie', lastname: 'Rekey', emailaddress1: email, ...extra }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: list, name: 'Rekey news', members: [{ email_address: email, status: 'subscribed' }] }],
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
    expect(receipt.rekeyed?.to).toBe(subjectKeyFor(newEmail, secret));
    return receipt;
  };
  const erase = (email: string, ticket: string) =>
    requestErasure(
      context,
      { email, requestedBy: ticket, requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
  const until = async (what: string, test: () => Promise<boolean>) => {
    for (let i = 0; i < 900; i++) {
      if (await test()) return;
      await delay(100);
    }
    throw new Error(`never: ${what}`);
  };
  const receiptOf = async (started: { requestId: string }): Promise<ErasureReceipt> => {
    let found = await lookupErasure(context, started.requestId);
    await until('the erasure completes', async () => {
      found = await lookupErasure(context, started.requestId);
      return found.state === 'completed';
    });
    if (found.state !== 'completed') throw new Error('not completed');
    return found.receipt;
  };
  /** A rectification left half-done: Dynamics moved, Mailchimp refused (a 400) and closed by an operator. */
  const halfDone = (oldEmail: string, newEmail: string) =>
    halfDoneRectification(hub, context, oldEmail, newEmail, { tries: 900 });
  const key = (email: string) => subjectKeyFor(email, secret);
  const noAddressIn = (value: unknown, ...emails: string[]) => {
    const text = JSON.stringify(value).toLowerCase();
    for (const email of emails) expect(text).not.toContain(email);
  };

  it('erase and hold by the first of three addresses (old -> new -> newer) act on the person at the newest, and say they were asked under the old key', async () => {
    const oldEmail = uniqueEmail('chain.old');
    const newEmail = uniqueEmail('chain.new');
    const newerEmail = uniqueEmail('chain.newer');
    await seedPerson(oldEmail);
    const first = await rectify(oldEmail, newEmail);
    const second = await rectify(newEmail, newerEmail);
    const [oldKey, newKey, newerKey] = [key(oldEmail), key(newEmail), key(newerEmail)];
    const records = await dynamicsRows(newerEmail);
    expect(records).toHaveLength(1);
    expect(await mailchimpMembers(newerEmail)).toBe(1);
    const rekeys = [
      { from: oldKey, to: newKey, rectificationRequestId: first.requestId },
      { from: newKey, to: newerKey, rectificationRequestId: second.requestId },
    ];

    // The hold by the oldest address holds the person under their key now.
    const held = await placeHold(context, hub.ledger, {
      email: oldEmail,
      reason: 'legal_claims',
      placedBy: 'ops:legal',
    });
    expect(held.subjectKey).toBe(newerKey);
    expect(held.requestedUnder).toMatchObject({ subjectKey: oldKey, rekeys });
    expect((await hub.ledger.getHold(newerKey))?.releasedAt).toBeUndefined();
    expect(await hub.ledger.getHold(oldKey)).toBeUndefined();

    // The erasure by the oldest address restricts the person at the newest (held), and deletes on release.
    const started: ErasureStarted = await erase(oldEmail, 'privacy-inbox#301');
    expect(started.subjectKey).toBe(newerKey);
    expect(started.workflowId).toBe(erasureWorkflowId(newerKey));
    expect(started.requestedUnder).toMatchObject({ subjectKey: oldKey, rekeys });
    // Nothing was recorded under the old keys since their re-keys: every link was followed.
    expect(started.requestedUnder?.notFollowed).toBeUndefined();
    noAddressIn(started, oldEmail, newEmail, newerEmail);
    await until('the erasure restricts the held person', async () => {
      const found = await lookupErasure(context, started.requestId);
      return found.state === 'open' && found.status.status === 'on_hold';
    });
    expect(await dynamicsRows(newerEmail)).toEqual(records);

    // Released by the middle address: the same person, under the same key.
    const released = await releaseHold(context, hub.ledger, {
      email: newEmail,
      reason: 'resolved',
      releasedBy: 'ops:legal',
    });
    expect(released.subjectKey).toBe(newerKey);
    expect(released.requestedUnder).toMatchObject({ subjectKey: newKey, rekeys: [rekeys[1]] });
    const receipt = await receiptOf(started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.subjectKey).toBe(newerKey);
    expect(receipt.requestedUnder).toMatchObject({ subjectKey: oldKey, rekeys });
    expect(receipt.restriction).toBeDefined();
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(await dynamicsRows(newerEmail)).toEqual([]);
    expect(await mailchimpMembers(newerEmail)).toBe(0);
    expect((await hub.ledger.getTombstone(newerKey))?.firstRequestId).toBe(started.requestId);
    expect(await hub.ledger.getTombstone(oldKey)).toBeUndefined();
    expect((await hub.ledger.getReceipt(started.requestId))?.requestedUnder?.subjectKey).toBe(oldKey);
    noAddressIn(receipt, oldEmail, newEmail, newerEmail);
  });

  it('an erasure by the old address of a completed rectification joins the running erasure of the new one and is listed as asked under the old key', async () => {
    const oldEmail = uniqueEmail('join.old');
    const newEmail = uniqueEmail('join.new');
    await seedPerson(oldEmail);
    await rectify(oldEmail, newEmail);
    const [oldKey, newKey] = [key(oldEmail), key(newEmail)];
    // The new address's erasure cannot finish while Dataverse answers 503: the old address's request joins it.
    await hub.vendors.dynamics.control.fail({
      method: 'GET',
      path: 'contacts|leads',
      status: 503,
      count: 100_000,
    });
    const byNew = await erase(newEmail, 'privacy-inbox#302');
    const byOld = await erase(oldEmail, 'privacy-inbox#303');
    expect(byOld).toMatchObject({ joined: true, requestId: byNew.requestId, subjectKey: newKey });
    await hub.vendors.dynamics.control.clearFaults();
    const receipt = await receiptOf(byNew);
    expect(receipt.requestedUnder).toBeUndefined();
    expect(receipt.joinedRequests).toEqual([
      expect.objectContaining({
        requestedBy: 'privacy-inbox#303',
        requestedUnder: expect.objectContaining({ subjectKey: oldKey }),
      }),
    ]);
    expect(await dynamicsRows(newEmail)).toEqual([]);
  });

  it('after a half-done rectification, an erasure by the old address also erases what moved to the new one, GA ids harvested from it included', async () => {
    const oldEmail = uniqueEmail('half.old');
    const newEmail = uniqueEmail('half.new');
    const gaId = `${Date.now() % 1_000_000}.1700000123`;
    await seedPerson(oldEmail, { new_gaclientid: gaId });
    const rectification = await halfDone(oldEmail, newEmail);
    const [oldKey, newKey] = [key(oldEmail), key(newEmail)];
    expect(await dynamicsRows(newEmail)).toHaveLength(1);
    expect(await mailchimpMembers(oldEmail)).toBe(1);

    const started = await erase(oldEmail, 'privacy-inbox#304');
    expect(started.subjectKey).toBe(oldKey);
    expect(started.requestedUnder).toBeUndefined();
    const moved = started.movedRecords?.[0];
    expect(started.movedRecords).toHaveLength(1);
    expect(moved).toMatchObject({
      subjectKey: newKey,
      rectificationRequestId: rectification.requestId,
      systems: ['dynamics'],
    });
    noAddressIn(started, oldEmail, newEmail);
    const [receipt, other] = await Promise.all([
      receiptOf(started),
      receiptOf({ requestId: moved?.erasureRequestId ?? 'none' }),
    ]);
    expect(receipt.movedRecords).toEqual(started.movedRecords);
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(other.subjectKey).toBe(newKey);
    expect(other.requestedBy).toBe('privacy-inbox#304');
    expect(other.systems.dynamics.status).toBe('erased');
    // The GA id on the moved contact was harvested there and sent to Google for deletion.
    expect(other.systems.google.status).toBe('submitted');
    expect(other.systems.google.records.map((r) => r.id)).toEqual([keyedVendorId(secret, 'google', gaId)]);
    expect(JSON.stringify(await hub.vendors.google.control.state())).toContain(gaId);
    expect(await dynamicsRows(newEmail)).toEqual([]);
    expect(await dynamicsRows(oldEmail)).toEqual([]);
    expect(await mailchimpMembers(oldEmail)).toBe(0);
    expect(await hub.ledger.getTombstone(oldKey)).toBeDefined();
    expect(await hub.ledger.getTombstone(newKey)).toBeDefined();
    noAddressIn([receipt, other], oldEmail, newEmail);
  });

  it('after a half-done rectification, an erasure by the new address also erases what is still at the old one', async () => {
    const oldEmail = uniqueEmail('sib.old');
    const newEmail = uniqueEmail('sib.new');
    await seedPerson(oldEmail);
    const rectification = await halfDone(oldEmail, newEmail);
    const [oldKey, newKey] = [key(oldEmail), key(newEmail)];

    const started = await erase(newEmail, 'privacy-inbox#305');
    expect(started.subjectKey).toBe(newKey);
    expect(started.movedRecords).toEqual([
      expect.objectContaining({ subjectKey: oldKey, rectificationRequestId: rectification.requestId }),
    ]);
    const otherId = started.movedRecords?.[0]?.erasureRequestId;
    expect(otherId).toBeDefined();
    const [receipt, other] = await Promise.all([
      receiptOf(started),
      receiptOf({ requestId: otherId ?? 'none' }),
    ]);
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(other.subjectKey).toBe(oldKey);
    expect(other.systems.mailchimp.status).toBe('erased');
    expect(await dynamicsRows(newEmail)).toEqual([]);
    expect(await mailchimpMembers(oldEmail)).toBe(0);
  });

  it('a rectification left half-done under an earlier address, then one that re-keyed it: an erasure by the newest or the first address also erases the records the first one moved', async () => {
    const firstEmail = uniqueEmail('chain.first');
    const strandedEmail = uniqueEmail('chain.stranded');
    const newestEmail = uniqueEmail('chain.newest');
    await seedPerson(firstEmail);
    const stranded = await halfDone(firstEmail, strandedEmail);
    expect(await dynamicsRows(strandedEmail)).toHaveLength(1);
    // Dynamics holds nothing under the first address any more; Mailchimp does, and moves: the ledger re-keys.
    await rectify(firstEmail, newestEmail);
    expect(await mailchimpMembers(newestEmail)).toBe(1);

    const [firstKey, strandedKey, newestKey] = [key(firstEmail), key(strandedEmail), key(newestEmail)];
    const byNewest = await erase(newestEmail, 'privacy-inbox#307');
    expect(byNewest.subjectKey).toBe(newestKey);
    expect(byNewest.movedRecords).toEqual([
      expect.objectContaining({
        subjectKey: strandedKey,
        rectificationRequestId: stranded.requestId,
        systems: ['dynamics'],
        erasureRequestId: expect.any(String),
      }),
    ]);
    // Asked by the first address, the erasure follows the re-key and names the same stranded records.
    const byFirst = await erase(firstEmail, 'privacy-inbox#308');
    expect(byFirst.subjectKey).toBe(newestKey);
    expect(byFirst.requestedUnder?.subjectKey).toBe(firstKey);
    // ...and the first address itself, which a vendor may still hold (searched as named, in every system).
    expect(byFirst.movedRecords?.map((m) => m.subjectKey)).toEqual([strandedKey, firstKey]);
    const [receipt, other] = await Promise.all([
      receiptOf(byNewest),
      receiptOf({ requestId: byNewest.movedRecords?.[0]?.erasureRequestId ?? 'none' }),
    ]);
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(other.subjectKey).toBe(strandedKey);
    expect(other.systems.dynamics.status).toBe('erased');
    expect(await dynamicsRows(strandedEmail)).toEqual([]);
    expect(await mailchimpMembers(newestEmail)).toBe(0);
    noAddressIn([byNewest, byFirst, receipt, other], firstEmail, strandedEmail, newestEmail);
  });

  it('a second rectification of a person is refused while the first still runs, and taken once it has ended', async () => {
    const oldEmail = uniqueEmail('twice.old');
    await seedPerson(oldEmail);
    await hub.vendors.mailchimp.control.fail({ method: 'PATCH', path: '/lists/', status: 400, count: 1 });
    const first = await requestRectification(
      context,
      {
        email: oldEmail,
        set: { email: uniqueEmail('twice.first') },
        requestedBy: 'privacy-inbox#309',
        requestedAt: new Date().toISOString(),
      },
      { ledger: hub.ledger },
    );
    await until('Mailchimp waits for an operator', async () => {
      const found = await lookupRectification(context, hub.ledger, first.requestId);
      return found.state === 'open' && found.status.systems.mailchimp.status === 'needs_attention';
    });
    const second = {
      email: oldEmail,
      set: { email: uniqueEmail('twice.second') },
      requestedBy: 'privacy-inbox#310',
      requestedAt: new Date().toISOString(),
    };
    const refused = await requestRectification(context, second, { ledger: hub.ledger }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(RectificationRefused);
    expect((refused as RectificationRefused).code).toBe('rectification_running');
    expect((refused as Error).message).toContain(first.requestId);
    noAddressIn((refused as Error).message, oldEmail, second.set.email);
    // Nothing of the second was written: the Dynamics row is where the first put it, and no request is open.
    expect(
      await hub.ledger.listRequestDeadlines({ open: true, kind: 'rectification', subjectKey: key(oldEmail) }),
    ).toEqual([expect.objectContaining({ requestId: first.requestId })]);

    await context.client.workflow.getHandle(first.workflowId).executeUpdate(closeSystemUpdate, {
      args: [{ system: 'mailchimp', reason: 'vendor refused', operator: 'ops:test' }],
    });
    await awaitRectification(context, first);
    const again = await requestRectification(context, second, { ledger: hub.ledger });
    expect((await awaitRectification(context, again)).systems.mailchimp.status).toBe('rectified');
  });

  it('an erasure by the new address of a completed rectification starts no second erasure: the old address is left to whoever holds it now', async () => {
    const oldEmail = uniqueEmail('done.old');
    const newEmail = uniqueEmail('done.new');
    await seedPerson(oldEmail);
    await rectify(oldEmail, newEmail);
    // Someone is at the old address again: not the person who asked by their address now.
    await seedOldAddressAgain(oldEmail);
    const started = await erase(newEmail, 'privacy-inbox#306');
    expect(started.subjectKey).toBe(key(newEmail));
    expect(started.requestedUnder).toBeUndefined();
    expect(started.movedRecords).toBeUndefined();
    const receipt = await receiptOf(started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.movedRecords).toBeUndefined();
    expect(await hub.ledger.getTombstone(subjectKeyFor(oldEmail, secret))).toBeUndefined();
    expect(await mailchimpMembers(oldEmail)).toBe(1);
    expect(await dynamicsRows(oldEmail)).toHaveLength(1);
  });

  /** A vendor holds the old address again after the re-key: a re-subscribe in Mailchimp, a lead in Dynamics. */
  const seedOldAddressAgain = async (oldEmail: string) => {
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: list, name: 'Rekey news', members: [{ email_address: oldEmail, status: 'subscribed' }] }],
    });
    await hub.vendors.dynamics.control.seed({
      leads: [{ firstname: 'Late', lastname: 'Lead', emailaddress1: oldEmail, companyname: 'Old Form AB' }],
    });
    expect(await mailchimpMembers(oldEmail)).toBe(1);
    expect(await dynamicsRows(oldEmail)).toHaveLength(1);
  };
  /** As `erase --wait` does: until every erasure the receipt's movedRecords names has ended. */
  const movedRecordsEnded = async (receipt: ErasureReceipt) => {
    let now: Record<string, string> = {};
    await until('the erasures of the other addresses end', async () => {
      now = await movedRecordsErasureStates(context, receipt);
      return Object.values(now).every((state) => state === 'completed' || state === 'failed');
    });
    return now;
  };

  it('an erasure by the old address of a completed rectification also erases what a vendor holds at the old address since, with its own receipt', async () => {
    const oldEmail = uniqueEmail('back.old');
    const newEmail = uniqueEmail('back.new');
    await seedPerson(oldEmail);
    const rectification = await rectify(oldEmail, newEmail);
    const [oldKey, newKey] = [key(oldEmail), key(newEmail)];
    await seedOldAddressAgain(oldEmail);

    const started = await erase(oldEmail, 'privacy-inbox#311');
    expect(started.subjectKey).toBe(newKey);
    expect(started.requestedUnder).toMatchObject({ subjectKey: oldKey });
    expect(started.requestedUnder?.notFollowed).toBeUndefined();
    expect(started.movedRecords).toEqual([
      expect.objectContaining({
        subjectKey: oldKey,
        rectificationRequestId: rectification.requestId,
        systems: ['dynamics', 'mailchimp', 'google'],
        erasureRequestId: expect.any(String),
      }),
    ]);
    const oldId = started.movedRecords?.[0]?.erasureRequestId ?? 'none';
    expect(oldId).not.toBe(started.requestId);
    noAddressIn(started, oldEmail, newEmail);

    const receipt = await receiptOf(started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.movedRecords).toEqual(started.movedRecords);
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(await movedRecordsEnded(receipt)).toEqual({ [oldId]: 'completed' });
    const other = await receiptOf({ requestId: oldId });
    // The old address was searched as named: no re-key followed back to the person, no further erasure.
    expect(other.subjectKey).toBe(oldKey);
    expect(other.requestedUnder).toBeUndefined();
    expect(other.movedRecords).toBeUndefined();
    expect(other.requestedBy).toBe('privacy-inbox#311');
    expect(other.systems.mailchimp.status).toBe('erased');
    expect(other.systems.dynamics.status).toBe('erased');
    expect(other.systems.dynamics.records.length).toBeGreaterThan(0);
    expect(await mailchimpMembers(oldEmail)).toBe(0);
    expect(await dynamicsRows(oldEmail)).toEqual([]);
    expect(await mailchimpMembers(newEmail)).toBe(0);
    expect(await dynamicsRows(newEmail)).toEqual([]);
    expect((await hub.ledger.getTombstone(newKey))?.firstRequestId).toBe(started.requestId);
    expect((await hub.ledger.getTombstone(oldKey))?.firstRequestId).toBe(oldId);
    noAddressIn([receipt, other, await hub.ledger.getReceipt(oldId)], oldEmail, newEmail);
  });

  it('an erasure by the old address of a completed rectification with nothing left there completes, the old address searched and nothing found', async () => {
    const oldEmail = uniqueEmail('empty.old');
    const newEmail = uniqueEmail('empty.new');
    await seedPerson(oldEmail);
    await rectify(oldEmail, newEmail);
    const oldKey = key(oldEmail);
    expect(await mailchimpMembers(oldEmail)).toBe(0);
    expect(await dynamicsRows(oldEmail)).toEqual([]);

    const started = await erase(oldEmail, 'privacy-inbox#312');
    expect(started.subjectKey).toBe(key(newEmail));
    expect(started.movedRecords?.map((m) => m.subjectKey)).toEqual([oldKey]);
    const oldId = started.movedRecords?.[0]?.erasureRequestId ?? 'none';
    const receipt = await receiptOf(started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(await movedRecordsEnded(receipt)).toEqual({ [oldId]: 'completed' });
    const other = await receiptOf({ requestId: oldId });
    expect(other.subjectKey).toBe(oldKey);
    expect(other.systems.mailchimp.status).toBe('not_found');
    expect(other.systems.dynamics.status).toBe('not_found');
    expect(await mailchimpMembers(newEmail)).toBe(0);
  });

  it('the same erasure by the old address twice starts nothing twice: the second joins what the first started', async () => {
    const oldEmail = uniqueEmail('twice.erase.old');
    const newEmail = uniqueEmail('twice.erase.new');
    await seedPerson(oldEmail);
    await rectify(oldEmail, newEmail);
    const [oldKey, newKey] = [key(oldEmail), key(newEmail)];
    await seedOldAddressAgain(oldEmail);
    // Neither erasure can finish while Dataverse answers 503: the second request meets both running.
    await hub.vendors.dynamics.control.fail({
      method: 'GET',
      path: 'contacts|leads',
      status: 503,
      count: 100_000,
    });
    try {
      const first = await erase(oldEmail, 'privacy-inbox#313');
      const oldId = first.movedRecords?.[0]?.erasureRequestId ?? 'none';
      const second = await erase(oldEmail, 'privacy-inbox#313');
      // The old address's erasure gave its key a life of its own: the second acts on it, and joins that erasure.
      expect(second).toMatchObject({ joined: true, requestId: oldId, subjectKey: oldKey });
      expect(second.movedRecords).toBeUndefined();
      const runs = async (subjectKey: string) => {
        const ids: string[] = [];
        for await (const run of context.client.workflow.list({
          query: `WorkflowId = '${erasureWorkflowId(subjectKey)}'`,
        }))
          ids.push(run.runId);
        return ids;
      };
      expect(await runs(newKey)).toEqual([first.requestId]);
      expect(await runs(oldKey)).toEqual([oldId]);
    } finally {
      await hub.vendors.dynamics.control.clearFaults();
    }
  });
});
