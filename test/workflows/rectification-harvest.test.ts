import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxRectificationRecords } from '../../domain/rectification-bound.js';
import type { HubClientContext } from '../../hub-client/erasures.js';
import { awaitReceipt, requestErasure } from '../../hub-client/erasures.js';
import {
  awaitRectification,
  lookupRectification,
  requestRectification,
} from '../../hub-client/rectifications.js';
import { isRunning } from '../../hub-client/shredding.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { erasureWorkflowId } from '../../workflows/erasure-definitions.js';
import { buildTestApi, freshApiKey, hubContext } from '../api/api-test-kit.js';
import { erasureContext } from '../support/erasure-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { mailchimpFiredAt, upemailDelivery, webhookApi } from '../support/mailchimp-webhooks.js';
import { halfDoneRectification, rectificationReceiptWhenKept } from '../support/rectification-runs.js';
import { dynamicsRowsHolding, mailchimpListsHolding } from '../support/sandbox-records.js';
import { uniqueEmail } from '../support/unique-email.js';

/**
 * Two Mailchimp-shaped audiences (10 hex digits), created before the hub first lists the account's audiences
 * (the connector keeps that list for a while); each test seeds its own members into them.
 */
const news = randomBytes(5).toString('hex');
const events = randomBytes(5).toString('hex');

/**
 * Issue 18: a rectification harvests the person's records in every system under the old address and checks
 * the new address against everyone else's records in every system before it writes anything; each attempt
 * then writes exactly the harvested records. Real connectors, the vendor sandboxes (state read over their
 * HTTP controls), sandbox faults and a real Temporal dev server.
 */
describe('rectification harvests first: retries and conflicts never make two people one', {
  timeout: 240_000,
}, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('rectification-harvest');
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: news, name: 'Harvest news', members: [] },
        { id: events, name: 'Harvest events', members: [] },
      ],
    });
    context = erasureContext(hub);
  });
  afterAll(async () => {
    await hub?.close();
  });

  const dynamicsRows = async (email: string) => {
    const { contacts, leads } = await dynamicsRowsHolding(hub.vendors, email);
    return {
      contacts: contacts.map((row) => String(row.contactid)),
      leads: leads.map((row) => String(row.leadid)),
    };
  };
  const mailchimpAudiences = async (email: string) =>
    (await mailchimpListsHolding(hub.vendors, email)).sort();
  const rectify = async (email: string, newEmail: string) => {
    const started = await requestRectification(context, {
      email,
      set: { email: newEmail },
      requestedBy: 'privacy-inbox#18',
      requestedAt: new Date().toISOString(),
    });
    return awaitRectification(context, started);
  };

  it('a Dynamics write that fails once and is retried moves both of her rows, her own contact never counted as a conflict', async () => {
    const oldEmail = uniqueEmail('rita.old');
    const newEmail = uniqueEmail('rita.new');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Rita', lastname: 'Levi', emailaddress1: oldEmail }],
      leads: [{ firstname: 'Rita', lastname: 'Levi', emailaddress1: oldEmail }],
    });
    const before = await dynamicsRows(oldEmail);
    expect(before.contacts).toHaveLength(1);
    expect(before.leads).toHaveLength(1);
    await hub.vendors.dynamics.control.fail({ method: 'PATCH', path: 'leads', status: 503, count: 1 });

    const receipt = await rectify(oldEmail, newEmail);

    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.dynamics.status).toBe('rectified');
    expect(receipt.systems.dynamics.recordCount).toBe(2);
    for (const record of receipt.systems.dynamics.records) {
      expect(record.result).toBe('rectified');
      expect(record.changed.map((c) => c.field)).toEqual(['emailaddress1']);
    }
    expect(await dynamicsRows(oldEmail)).toEqual({ contacts: [], leads: [] });
    expect(await dynamicsRows(newEmail)).toEqual(before);
    expect(receipt.rekeyed?.to).toBe(subjectKeyFor(newEmail, hub.temporal.secrets.subjectKeySecret));
  });

  it('a Mailchimp write that fails once in the second audience lists both audiences as changed after the retry', async () => {
    const oldEmail = uniqueEmail('mia.a');
    const newEmail = uniqueEmail('mia.b');
    const [first, second] = [news, events];
    await hub.vendors.mailchimp.control.seed({
      lists: [first, second].map((id) => ({
        id,
        name: id === news ? 'Harvest news' : 'Harvest events',
        members: [{ email_address: oldEmail, status: 'subscribed' }],
      })),
    });
    await hub.vendors.mailchimp.control.fail({
      method: 'PATCH',
      path: `/lists/${second}/members/`,
      status: 503,
      count: 1,
    });

    const receipt = await rectify(oldEmail, newEmail);

    expect(await mailchimpAudiences(oldEmail)).toEqual([]);
    expect(await mailchimpAudiences(newEmail)).toEqual([first, second].sort());
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.mailchimp.status).toBe('rectified');
    expect(receipt.systems.mailchimp.recordCount).toBe(2);
    expect(receipt.systems.mailchimp.records.map((r) => r.container).sort()).toEqual([first, second].sort());
    for (const record of receipt.systems.mailchimp.records) {
      expect(record.result).toBe('rectified');
      expect(record.changed.map((c) => c.field)).toContain('email_address');
    }
  });

  it("refuses the whole rectification, writing nothing anywhere, when another person's records hold the new address in Dynamics and Mailchimp", async () => {
    const grace = uniqueEmail('grace');
    const alan = uniqueEmail('alan');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Grace', lastname: 'Hopper', emailaddress2: grace }],
      leads: [
        { firstname: 'Grace', lastname: 'Hopper', emailaddress1: grace },
        { firstname: 'Alan', lastname: 'Turing', emailaddress1: alan },
      ],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: news, name: 'Harvest news', members: [{ email_address: grace, status: 'subscribed' }] },
        { id: events, name: 'Harvest events', members: [{ email_address: alan, status: 'unsubscribed' }] },
      ],
    });
    const [graceRows, alanRows] = [await dynamicsRows(grace), await dynamicsRows(alan)];

    const receipt = await rectify(grace, alan);

    // Refused, not completed: nothing was written anywhere.
    expect(receipt.outcome).toBe('refused');
    expect(receipt.refusal).toBe('vendor_conflict');
    for (const system of ['dynamics', 'mailchimp'] as const) {
      expect(receipt.systems[system].status).toBe('failed');
      expect(receipt.systems[system].failure?.reason).toMatch(/refused: .* in dynamics and mailchimp;/);
      expect(receipt.systems[system].records).toEqual([]);
    }
    expect(receipt.rekeyed).toBeUndefined();
    expect(receipt.rekeyNote).toMatch(/^refused: /);
    expect(JSON.stringify(receipt)).not.toContain(grace);
    expect(JSON.stringify(receipt)).not.toContain(alan);
    // Nothing was written: Grace and Alan keep their own records and addresses in both systems.
    expect(await dynamicsRows(grace)).toEqual(graceRows);
    expect(await dynamicsRows(alan)).toEqual(alanRows);
    expect(await mailchimpAudiences(grace)).toEqual([news]);
    expect(await mailchimpAudiences(alan)).toEqual([events]);
  });

  it('refuses before any Dynamics write when only Mailchimp has someone else at the new address', async () => {
    const oldEmail = uniqueEmail('only-mc-old');
    const newEmail = uniqueEmail('only-mc-new');
    const audience = news;
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Harvest', emailaddress1: oldEmail }] });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        {
          id: audience,
          name: 'Harvest news',
          members: [
            { email_address: oldEmail, status: 'subscribed' },
            { email_address: newEmail, status: 'subscribed' },
          ],
        },
      ],
    });
    const rows = await dynamicsRows(oldEmail);

    const receipt = await rectify(oldEmail, newEmail);

    expect(receipt.systems.dynamics.status).toBe('failed');
    expect(receipt.systems.dynamics.failure?.reason).toMatch(/refused: .* in mailchimp;/);
    expect(receipt.rekeyed).toBeUndefined();
    expect(await dynamicsRows(oldEmail)).toEqual(rows);
    expect(await dynamicsRows(newEmail)).toEqual({ contacts: [], leads: [] });
  });

  it("refuses an upemail webhook's address change onto a Dynamics contact of another person, though the person has no Dynamics rows", async () => {
    const edsger = uniqueEmail('edsger');
    const katherine = uniqueEmail('katherine');
    const audience = news;
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Katherine', lastname: 'Johnson', emailaddress1: katherine }],
    });
    // Edsger already changed his address in Mailchimp.
    await hub.vendors.mailchimp.control.seed({
      lists: [
        {
          id: audience,
          name: 'Harvest news',
          members: [{ email_address: katherine, status: 'subscribed' }],
        },
      ],
    });
    const secret = hub.temporal.secrets.subjectKeySecret;
    const eventId = randomUUID();
    await hub.ledger.appendConsentEvent({
      id: eventId,
      subjectKey: subjectKeyFor(edsger, secret),
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: '2026-01-05T10:00:00.000Z',
      recordedAt: '2026-01-05T10:00:01.000Z',
      source: 'form:signup',
      evidence: { policyVersion: 'privacy-2026-01', formId: 'signup', channel: 'web', requestRef: 'r-18' },
    });
    const katherineRows = await dynamicsRows(katherine);
    const webhookSecret = 'upemail-harvest-secret-0123456789';
    const app = await webhookApi(hub, webhookSecret);
    try {
      const answer = await app.inject(
        upemailDelivery(webhookSecret, {
          listId: audience,
          from: edsger,
          to: katherine,
          newId: 'abc123',
          firedAt: mailchimpFiredAt(5000),
        }),
      );
      expect(answer.statusCode).toBe(200);
      const { rectificationRequestId } = answer.json() as { rectificationRequestId: string };
      const receipt = await rectificationReceiptWhenKept(hub.ledger, rectificationRequestId);
      expect(receipt?.outcome).toBe('refused');
      expect(receipt?.refusal).toBe('vendor_conflict');
      expect(receipt?.systems.dynamics.status).toBe('failed');
      expect(receipt?.systems.dynamics.failure?.reason).toMatch(/refused: .* in dynamics;/);
      expect(receipt?.rekeyed).toBeUndefined();
      // Mailchimp holds the new address, Dynamics the old: the disagreement waits for an operator, keys only.
      const refusals = await hub.ledger.listAddressChangeRefusals({
        subjectKey: subjectKeyFor(edsger, secret),
        open: true,
      });
      expect(refusals).toEqual([
        {
          id: rectificationRequestId,
          subjectKey: subjectKeyFor(edsger, secret),
          newSubjectKey: subjectKeyFor(katherine, secret),
          source: 'mailchimp:upemail',
          reason: 'vendor_conflict',
          requestId: rectificationRequestId,
          recordedAt: receipt?.completedAt,
        },
      ]);
      // Edsger's consent stays under his own key; Katherine's subject key gets none of it.
      expect((await hub.ledger.listConsentEvents(subjectKeyFor(edsger, secret))).map((e) => e.id)).toEqual([
        eventId,
      ]);
      expect(await hub.ledger.listConsentEvents(subjectKeyFor(katherine, secret))).toEqual([]);
      expect(await dynamicsRows(katherine)).toEqual(katherineRows);
    } finally {
      await app.close();
    }
  });
  const erase = (email: string, ticket: string) =>
    requestErasure(context, { email, requestedBy: ticket, requestedAt: new Date().toISOString() });
  const until = async (what: string, test: () => Promise<boolean>) => {
    for (let i = 0; i < 600; i++) {
      if (await test()) return;
      await delay(100);
    }
    throw new Error(`never: ${what}`);
  };

  it('answers 409 to a rectification of a person whose erasure is running, and writes nothing', async () => {
    const oldEmail = uniqueEmail('erasing.old');
    const newEmail = uniqueEmail('erasing.new');
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Erasing', emailaddress1: oldEmail }] });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: news, name: 'Harvest news', members: [{ email_address: oldEmail, status: 'subscribed' }] },
      ],
    });
    // Mailchimp's delete keeps failing (retryable): the erasure is still running when the rectification comes.
    await hub.vendors.mailchimp.control.fail({ path: 'delete-permanent', status: 503, count: 10_000 });
    const erasure = await erase(oldEmail, 'privacy-inbox#180');
    const subjectKey = subjectKeyFor(oldEmail, hub.temporal.secrets.subjectKeySecret);
    await until('the erasure runs', () => isRunning(context.client, erasureWorkflowId(subjectKey)));
    const key = freshApiKey();
    const app = await buildTestApi({
      hub: hubContext(hub.temporal, hub.temporal.taskQueue),
      ledger: hub.ledger,
      key,
    });
    try {
      const answer = await app.inject({
        method: 'POST',
        url: '/v1/rectifications',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: { email: oldEmail, set: { email: newEmail }, requestedBy: 'privacy-inbox#181' },
      });
      expect(answer.statusCode).toBe(409);
      expect(answer.body).toContain('an erasure of this person is running');
      expect(answer.body).not.toContain(oldEmail);
    } finally {
      await app.close();
    }
    await expect(
      requestRectification(context, {
        email: oldEmail,
        set: { email: newEmail },
        requestedBy: 'privacy-inbox#181',
        requestedAt: new Date().toISOString(),
      }),
    ).rejects.toThrow(/an erasure of this person is running/);
    expect(await mailchimpAudiences(newEmail)).toEqual([]);
    await hub.vendors.mailchimp.control.clearFaults();
    const receipt = await awaitReceipt(context, erasure);
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(await dynamicsRows(oldEmail)).toEqual({ contacts: [], leads: [] });
    expect(await dynamicsRows(newEmail)).toEqual({ contacts: [], leads: [] });
  });

  it('refuses, writing nothing, a rectification whose harvest finds an erasure of the person begun after its intake', async () => {
    const oldEmail = uniqueEmail('raced.old');
    const newEmail = uniqueEmail('raced.new');
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Raced', emailaddress1: oldEmail }] });
    // Mailchimp's deletes fail: the erasure stays running while the rectification harvests.
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: news, name: 'Harvest news', members: [{ email_address: oldEmail, status: 'subscribed' }] },
      ],
    });
    await hub.vendors.mailchimp.control.fail({ path: 'delete-permanent', status: 503, count: 10_000 });
    await hub.vendors.dynamics.control.setLatency(800);
    const started = await requestRectification(context, {
      email: oldEmail,
      set: { email: newEmail },
      requestedBy: 'privacy-inbox#182',
      requestedAt: new Date().toISOString(),
    });
    const erasure = await erase(oldEmail, 'privacy-inbox#183');
    const receipt = await awaitRectification(context, started);
    await hub.vendors.dynamics.control.setLatency(0);

    expect(receipt.systems.dynamics).toMatchObject({ status: 'failed', failure: { type: 'ErasureRunning' } });
    expect(receipt.systems.mailchimp).toMatchObject({
      status: 'failed',
      failure: { type: 'ErasureRunning' },
    });
    expect(receipt.rekeyed).toBeUndefined();
    expect(receipt.rekeyNote).toMatch(/^refused: an erasure of this person is running/);
    expect(await dynamicsRows(newEmail)).toEqual({ contacts: [], leads: [] });
    expect(await mailchimpAudiences(newEmail)).toEqual([]);
    await hub.vendors.mailchimp.control.clearFaults();
    const erased = await awaitReceipt(context, erasure);
    expect(erased.systems.dynamics).toMatchObject({ status: 'erased', recordCount: 1 });
    expect(erased.systems.mailchimp).toMatchObject({ status: 'erased', recordCount: 1 });
  });

  it('an erasure begun while the records are written: no re-key, and the new address is erased too, so nothing the rectification moved escapes', async () => {
    const oldEmail = uniqueEmail('mid.old');
    const newEmail = uniqueEmail('mid.new');
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Midway', emailaddress1: oldEmail }] });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: news, name: 'Harvest news', members: [{ email_address: oldEmail, status: 'subscribed' }] },
      ],
    });
    // Mailchimp's write is retried a few times (1 s, 2 s, 4 s): Dynamics is rectified well before it.
    await hub.vendors.mailchimp.control.fail({ method: 'PATCH', path: '/lists/', status: 503, count: 3 });
    const started = await requestRectification(context, {
      email: oldEmail,
      set: { email: newEmail },
      requestedBy: 'privacy-inbox#184',
      requestedAt: new Date().toISOString(),
    });
    await until('Dynamics is rectified', async () => {
      const found = await lookupRectification(context, hub.ledger, started.requestId);
      return found.state === 'open' && found.status.systems.dynamics.status === 'rectified';
    });
    // The erasure of the old address keeps running: its Dataverse reads fail until the faults are cleared.
    await hub.vendors.dynamics.control.fail({
      method: 'GET',
      path: 'contacts|leads',
      status: 503,
      count: 100_000,
    });
    const erasure = await erase(oldEmail, 'privacy-inbox#185');
    const receipt = await awaitRectification(context, started);
    expect(receipt.rekeyed).toBeUndefined();
    expect(receipt.rekeyNote).toMatch(/an erasure of the person began while their records were rectified/);
    const newKey = subjectKeyFor(newEmail, hub.temporal.secrets.subjectKeySecret);
    expect(await isRunning(context.client, erasureWorkflowId(newKey))).toBe(true);
    expect(JSON.stringify(receipt)).not.toContain(newEmail);

    await hub.vendors.dynamics.control.clearFaults();
    await hub.vendors.mailchimp.control.clearFaults();
    await awaitReceipt(context, erasure);
    await until(
      'the new address is erased',
      async () => !(await isRunning(context.client, erasureWorkflowId(newKey))),
    );
    expect(await dynamicsRows(newEmail)).toEqual({ contacts: [], leads: [] });
    expect(await dynamicsRows(oldEmail)).toEqual({ contacts: [], leads: [] });
    expect(await mailchimpAudiences(newEmail)).toEqual([]);
    expect(await mailchimpAudiences(oldEmail)).toEqual([]);
  });
  /** A rectification left half-done: Dynamics moved, Mailchimp refused (a 400) and closed by an operator. */
  const halfDone = async (oldEmail: string, newEmail: string) => {
    const receipt = await halfDoneRectification(hub, context, oldEmail, newEmail, { tries: 600 });
    expect(receipt.systems.mailchimp.status).toBe('closed_by_operator');
    return receipt;
  };

  it('a rectification after a half-done one counts the records the first moved to the new address as the person’s own, and completes', async () => {
    const oldEmail = uniqueEmail('half.old');
    const newEmail = uniqueEmail('half.new');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Half', lastname: 'Done', emailaddress1: oldEmail }],
      leads: [{ firstname: 'Half', lastname: 'Done', emailaddress2: oldEmail }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: news, name: 'Harvest news', members: [{ email_address: oldEmail, status: 'subscribed' }] },
      ],
    });
    const rows = await dynamicsRows(oldEmail);
    await halfDone(oldEmail, newEmail);
    expect(await dynamicsRows(newEmail)).toEqual(rows);
    expect(await mailchimpAudiences(oldEmail)).toEqual([news]);

    const again = await rectify(oldEmail, newEmail);
    expect(again.outcome).toBe('completed');
    expect(again.systems.dynamics).toMatchObject({ status: 'rectified', recordCount: 2 });
    // Both rows are written again (the first run's move reported as this request's change: the receipt of
    // the half-done one says it was not re-keyed).
    expect(again.systems.dynamics.records.map((r) => r.kind).sort()).toEqual(['contact', 'lead']);
    expect(again.systems.mailchimp).toMatchObject({ status: 'rectified', recordCount: 1 });
    expect(again.rekeyed?.to).toBe(subjectKeyFor(newEmail, hub.temporal.secrets.subjectKeySecret));
    expect(await mailchimpAudiences(newEmail)).toEqual([news]);
    expect(await mailchimpAudiences(oldEmail)).toEqual([]);
    expect(await dynamicsRows(newEmail)).toEqual(rows);
  });

  it('after a half-done rectification, another person at the new address is still a conflict, and only where they are', async () => {
    const oldEmail = uniqueEmail('half2.old');
    const newEmail = uniqueEmail('half2.new');
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Half', emailaddress1: oldEmail }] });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: news, name: 'Harvest news', members: [{ email_address: oldEmail, status: 'subscribed' }] },
      ],
    });
    await halfDone(oldEmail, newEmail);
    // Meanwhile someone else signed up with the new address in another audience.
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: events, name: 'Harvest events', members: [{ email_address: newEmail, status: 'subscribed' }] },
      ],
    });
    const stranger = await dynamicsRows(newEmail);

    const again = await rectify(oldEmail, newEmail);
    expect(again.systems.dynamics.failure?.reason).toMatch(/refused: .* in mailchimp;/);
    expect(again.rekeyed).toBeUndefined();
    expect(await dynamicsRows(newEmail)).toEqual(stranger);
    expect(await mailchimpAudiences(oldEmail)).toEqual([news]);
  });

  it(`refuses, writing nothing, a person with more than ${maxRectificationRecords} records in one system, naming the count`, async () => {
    const oldEmail = uniqueEmail('many.old');
    const newEmail = uniqueEmail('many.new');
    const count = maxRectificationRecords + 1;
    await hub.vendors.dynamics.control.seed({
      leads: Array.from({ length: count }, (_, i) => ({ lastname: `Many ${i}`, emailaddress1: oldEmail })),
    });
    const receipt = await rectify(oldEmail, newEmail);
    expect(receipt.systems.dynamics).toMatchObject({
      status: 'failed',
      failure: { type: 'RectificationTooLarge' },
      records: [],
    });
    expect(receipt.systems.dynamics.failure?.reason).toContain(`${count} records in dynamics`);
    expect(receipt.rekeyed).toBeUndefined();
    expect((await dynamicsRows(oldEmail)).leads).toHaveLength(count);
    expect((await dynamicsRows(newEmail)).leads).toEqual([]);
    // The history carries no id of them: the harvest answered the count only.
    const history = await context.client.workflow
      .getHandle(`rectification-${receipt.requestId}`)
      .fetchHistory();
    expect(JSON.stringify(history).length).toBeLessThan(60_000);
  });
});
