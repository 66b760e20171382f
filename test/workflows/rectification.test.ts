import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectIdentifiers } from '../../connectors/connector.js';
import { awaitReceipt, type HubClientContext, requestErasure } from '../../hub-client/erasures.js';
import { awaitRectification, requestRectification } from '../../hub-client/rectifications.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { closeSystemUpdate } from '../../workflows/erasure-definitions.js';
import { rectificationStatusQuery } from '../../workflows/rectification-definitions.js';
import { freshApiKey } from '../api/api-test-kit.js';
import { erasureContext } from '../support/erasure-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { mailchimpFiredAt, upemailDelivery, webhookApi } from '../support/mailchimp-webhooks.js';
import { rectificationReceiptWhenKept } from '../support/rectification-runs.js';
import { uniqueEmail } from '../support/unique-email.js';

const listId = 'rectifylist1';
type Row = Record<string, unknown>;

/**
 * Rectification (GDPR Art. 16) against the real connectors, the vendor sandboxes and a real Temporal dev
 * server: an email change reaches every system, re-keys the person in the ledger, and an erasure by the new
 * address then erases everything; a new address Mailchimp already has waits for an operator.
 */
describe('rectification of an email and a name', { timeout: 240_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;
  const who = (email: string): SubjectIdentifiers => ({ email, gaClientIds: [], gaUserIds: [] });

  beforeAll(async () => {
    hub = await startHubWithVendors('rectification');
    context = erasureContext(hub);
  });
  afterAll(async () => {
    await hub?.close();
  });

  const findEverywhere = async (email: string) => ({
    dynamics: (await hub.connectors.dynamics?.find(who(email)))?.records
      .map((r) => `${r.kind}:${r.id}`)
      .sort(),
    mailchimp: (await hub.connectors.mailchimp?.find(who(email)))?.records.map(
      (r) => `${r.kind}:${r.container}`,
    ),
  });

  it('moves the person to the new address everywhere; the old one finds nothing, history and erasure follow', async () => {
    const oldEmail = uniqueEmail('old');
    const newEmail = uniqueEmail('new');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Grete', lastname: 'Byron', emailaddress2: oldEmail }],
      leads: [{ firstname: 'Grete', lastname: 'Byron', emailaddress1: oldEmail.toUpperCase() }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        {
          id: listId,
          name: 'Rectify list',
          members: [
            {
              email_address: oldEmail,
              status: 'subscribed',
              merge_fields: { FNAME: 'Grete', LNAME: 'Byron' },
            },
          ],
        },
      ],
    });
    const secret = hub.temporal.secrets.subjectKeySecret;
    const oldKey = subjectKeyFor(oldEmail, secret);
    const newKey = subjectKeyFor(newEmail, secret);
    const eventId = randomUUID();
    await hub.ledger.appendConsentEvent({
      id: eventId,
      subjectKey: oldKey,
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: '2026-01-05T10:00:00.000Z',
      recordedAt: '2026-01-05T10:00:01.000Z',
      source: 'form:signup',
      evidence: { policyVersion: 'privacy-2026-01', formId: 'signup', channel: 'web', requestRef: 'r-1' },
    });
    const before = await findEverywhere(oldEmail);
    expect(before.dynamics).toHaveLength(2);
    expect(before.mailchimp).toEqual([`member:${listId}`]);

    const started = await requestRectification(
      context,
      {
        email: oldEmail,
        set: { email: newEmail, firstname: 'Augusta' },
        requestedBy: 'privacy-inbox#90',
        requestedAt: new Date().toISOString(),
      },
      { ledger: hub.ledger },
    );
    expect(started.newSubjectKey).toBe(newKey);
    const receipt = await awaitRectification(context, started);

    expect(receipt.outcome).toBe('completed');
    expect(receipt.fields).toEqual(['email', 'firstname']);
    expect(receipt.systems.dynamics.status).toBe('rectified');
    expect(receipt.systems.mailchimp.status).toBe('rectified');
    expect(receipt.systems.google.status).toBe('not_applicable');
    const contact = receipt.systems.dynamics.records.find((r) => r.kind === 'contact');
    expect(contact?.changed.map((c) => c.field).sort()).toEqual(['emailaddress2', 'firstname']);
    const lead = receipt.systems.dynamics.records.find((r) => r.kind === 'lead');
    expect(lead?.changed.map((c) => c.field).sort()).toEqual(['emailaddress1', 'firstname']);
    for (const record of [...receipt.systems.dynamics.records, ...receipt.systems.mailchimp.records]) {
      for (const change of record.changed) expect(change.beforeHash).toMatch(/^hmac:[0-9a-f]{32}$/);
    }
    expect(receipt.systems.mailchimp.records[0]?.changed.map((c) => c.field)).toEqual([
      'email_address',
      'merge_fields.FNAME',
    ]);
    // No value in the receipt: neither address, nor the names before or after.
    const text = JSON.stringify(receipt).toLowerCase();
    for (const value of [oldEmail, newEmail, 'grete', 'augusta', 'byron']) expect(text).not.toContain(value);
    expect(receipt.rekeyed).toMatchObject({ from: oldKey, to: newKey });

    // The old address finds nothing anywhere; the new one finds the same records.
    expect(await findEverywhere(oldEmail)).toEqual({ dynamics: [], mailchimp: [] });
    expect(await findEverywhere(newEmail)).toEqual(before);
    const rows = (await hub.vendors.dynamics.control.state<{ contacts: Row[] }>()).contacts.filter(
      (row) => row.emailaddress2 === newEmail,
    );
    expect(rows[0]).toMatchObject({ firstname: 'Augusta', lastname: 'Byron' });
    expect(await hub.ledger.listConsentEvents(oldKey)).toEqual([]);
    expect((await hub.ledger.listConsentEvents(newKey)).map((e) => e.id)).toEqual([eventId]);
    expect(await hub.ledger.getSubjectLink(oldKey)).toMatchObject({
      to: newKey,
      requestId: started.requestId,
    });
    expect(await hub.ledger.getRectification(started.requestId)).toEqual(receipt);

    // An erasure by the new address erases everything the person had.
    const erased = await awaitReceipt(
      context,
      await requestErasure(context, {
        email: newEmail,
        requestedBy: 'privacy-inbox#91',
        requestedAt: new Date().toISOString(),
      }),
    );
    expect(erased.outcome).toBe('completed');
    expect(erased.systems.dynamics.records.map((r) => `${r.kind}:${r.id}`).sort()).toEqual(before.dynamics);
    expect(erased.systems.mailchimp.status).toBe('erased');
    expect(await findEverywhere(newEmail)).toEqual({ dynamics: [], mailchimp: [] });
  });

  it("writes the new address's local part as given (RFC 5321: it may be case-sensitive) while matching and keying it case-insensitively", async () => {
    const oldEmail = uniqueEmail('case-old');
    const written = `Zoë.${uniqueEmail('Case-New')}`.replace('@example.com', '@Example.COM');
    const asGiven = written.replace('@Example.COM', '@example.com');
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Case', emailaddress1: oldEmail }] });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: listId, name: 'Rectify list', members: [{ email_address: oldEmail, status: 'subscribed' }] },
      ],
    });
    const secret = hub.temporal.secrets.subjectKeySecret;
    const request = (email: string, newEmail: string) => ({
      email,
      set: { email: newEmail },
      requestedBy: 'privacy-inbox#95',
      requestedAt: new Date().toISOString(),
    });
    const started = await requestRectification(context, request(oldEmail, written), { ledger: hub.ledger });
    // The key derives from the normalised form, as it always has.
    expect(started.newSubjectKey).toBe(subjectKeyFor(asGiven.toLowerCase(), secret));
    const receipt = await awaitRectification(context, started);
    expect(receipt.outcome).toBe('completed');

    const contacts = (await hub.vendors.dynamics.control.state<{ contacts: Row[] }>()).contacts;
    expect(contacts.filter((row) => row.lastname === 'Case').map((row) => row.emailaddress1)).toContain(
      asGiven,
    );
    const lists = (await hub.vendors.mailchimp.control.state<{ lists: { id: string; members: Row[] }[] }>())
      .lists;
    const members = lists.find((list) => list.id === listId)?.members ?? [];
    expect(members.map((m) => m.email_address)).toContain(asGiven);
    expect(members.map((m) => m.email_address)).not.toContain(oldEmail);
    // Found by any case, as before.
    expect((await findEverywhere(asGiven.toLowerCase())).dynamics).toHaveLength(1);
    expect((await findEverywhere(asGiven.toUpperCase())).mailchimp).toEqual([`member:${listId}`]);

    // A change of case only is the same person and key: refused, as before, nothing written.
    await expect(
      requestRectification(context, request(asGiven, asGiven.toLowerCase()), { ledger: hub.ledger }),
    ).rejects.toThrow(/a change of case only is the same address/);
  });

  it('refuses before writing when Mailchimp already has another member at the new address, and re-keys nothing', async () => {
    const oldEmail = uniqueEmail('clash-old');
    const newEmail = uniqueEmail('clash-new');
    await hub.vendors.mailchimp.control.seed({
      lists: [
        {
          id: listId,
          name: 'Rectify list',
          members: [
            { email_address: oldEmail, status: 'subscribed' },
            { email_address: newEmail, status: 'subscribed' },
          ],
        },
      ],
    });
    const started = await requestRectification(context, {
      email: oldEmail,
      set: { email: newEmail },
      requestedBy: 'privacy-inbox#92',
      requestedAt: new Date().toISOString(),
    });
    const receipt = await awaitRectification(context, started);
    expect(receipt.outcome).toBe('refused');
    expect(receipt.refusal).toBe('vendor_conflict');
    expect(receipt.systems.mailchimp.status).toBe('failed');
    expect(receipt.systems.mailchimp.failure?.reason).toMatch(/refused: .* in mailchimp;/);
    expect(receipt.systems.mailchimp.failure?.reason).not.toContain(newEmail);
    expect(receipt.rekeyed).toBeUndefined();
    expect(receipt.rekeyNote).toMatch(/not re-keyed/);
    // Both members are still there, untouched.
    expect((await findEverywhere(oldEmail)).mailchimp).toEqual([`member:${listId}`]);
    expect((await findEverywhere(newEmail)).mailchimp).toEqual([`member:${listId}`]);
  });

  it("keeps the person's old and new address and old and new names out of a rectification's stored close reason", async () => {
    const oldEmail = uniqueEmail('note-old');
    const newEmail = uniqueEmail('note-new');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Wilhelmina', lastname: 'Ashcombe', emailaddress1: oldEmail }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        {
          id: listId,
          name: 'Rectify list',
          members: [{ email_address: oldEmail, status: 'subscribed' }],
        },
      ],
    });
    // Mailchimp refuses the change for good (a 400), so the system waits for an operator.
    await hub.vendors.mailchimp.control.fail({
      method: 'PATCH',
      path: `/lists/${listId}/members/`,
      status: 400,
      count: 1,
    });
    const started = await requestRectification(context, {
      email: oldEmail,
      set: { email: newEmail, firstname: 'Winnifred' },
      requestedBy: 'privacy-inbox#93',
      requestedAt: new Date().toISOString(),
    });
    const handle = context.client.workflow.getHandle(started.workflowId);
    let ready = false;
    for (let i = 0; i < 120 && !ready; i++) {
      const status = await handle.query(rectificationStatusQuery);
      // Dynamics has answered (with the names it held) and Mailchimp waits on its refusal.
      ready =
        status.systems.dynamics.status === 'rectified' &&
        status.systems.mailchimp.status === 'needs_attention';
      if (!ready) await delay(250);
    }
    expect(ready).toBe(true);
    const reason = `Wilhelmina Ashcombe (${oldEmail}, now Winnifred at ${newEmail}) asked us to merge by hand`;
    // An operator that is a name or an address, sent straight to Temporal, is refused and nothing is recorded.
    await expect(
      handle.executeUpdate(closeSystemUpdate, {
        args: [{ system: 'mailchimp', reason, operator: `Wilhelmina Ashcombe <${oldEmail}>` }],
      }),
    ).rejects.toMatchObject({ cause: { message: expect.stringMatching(/operator or system id/) } });
    expect((await handle.query(rectificationStatusQuery)).operatorActions).toBeUndefined();
    await handle.executeUpdate(closeSystemUpdate, {
      args: [{ system: 'mailchimp', reason, operator: 'ops:test' }],
    });
    const receipt = await awaitRectification(context, started);
    const stored = receipt.operatorActions?.find((action) => action.system === 'mailchimp');
    expect(stored?.reason).toContain('asked us to merge by hand');
    // The receipt (as the ledger keeps it) holds none of the person's addresses or names, in any field.
    const receiptText = JSON.stringify(receipt);
    for (const personal of [oldEmail, newEmail, 'Wilhelmina', 'Ashcombe', 'Winnifred'])
      expect(receiptText).not.toContain(personal);
    expect(receipt.systems.mailchimp.status).toBe('closed_by_operator');
  });

  it('follows a Mailchimp upemail webhook: Dynamics gets the new address and the ledger re-keys, once per delivery', async () => {
    const oldEmail = uniqueEmail('up-old');
    const newEmail = uniqueEmail('up-new');
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Upemail', emailaddress1: oldEmail }] });
    // The person already changed the address in Mailchimp.
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: listId, name: 'Rectify list', members: [{ email_address: newEmail, status: 'subscribed' }] },
      ],
    });
    const secret = hub.temporal.secrets.subjectKeySecret;
    const eventId = randomUUID();
    await hub.ledger.appendConsentEvent({
      id: eventId,
      subjectKey: subjectKeyFor(oldEmail, secret),
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: '2026-01-05T10:00:00.000Z',
      recordedAt: '2026-01-05T10:00:01.000Z',
      source: 'form:signup',
      evidence: { policyVersion: 'privacy-2026-01', formId: 'signup', channel: 'web', requestRef: 'r-2' },
    });
    const webhookSecret = 'upemail-test-secret-0123456789';
    const app = await webhookApi(hub, webhookSecret);
    try {
      // One delivery, sent twice as Mailchimp's retry would: the same fired_at.
      const delivery = upemailDelivery(webhookSecret, {
        listId,
        from: oldEmail,
        to: newEmail,
        newId: 'abc123',
        firedAt: mailchimpFiredAt(5000),
      });
      const deliver = () => app.inject(delivery);
      const first = await deliver();
      expect(first.statusCode).toBe(200);
      const { rectificationRequestId } = first.json() as { rectificationRequestId: string };
      const second = await deliver();
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.json()).toEqual(first.json());

      const receipt = await rectificationReceiptWhenKept(hub.ledger, rectificationRequestId);
      expect(receipt).toMatchObject({
        outcome: 'completed',
        fields: ['email'],
        requestedBy: 'mailchimp:upemail',
      });
      expect(receipt?.systems.dynamics.status).toBe('rectified');
      // Mailchimp moved the member itself: the harvest counts it as the person's, already done.
      expect(receipt?.systems.mailchimp.status).toBe('rectified');
      expect(receipt?.systems.mailchimp.records.map((r) => r.result)).toEqual(['already']);
      expect(await findEverywhere(oldEmail)).toEqual({ dynamics: [], mailchimp: [] });
      expect((await findEverywhere(newEmail)).dynamics).toHaveLength(1);
      expect((await hub.ledger.listConsentEvents(subjectKeyFor(newEmail, secret))).map((e) => e.id)).toEqual([
        eventId,
      ]);
    } finally {
      await app.close();
    }
  });

  it("keeps an upemail refused at intake (the new address another person's in the ledger, or the same address) in the ledger for an operator, keys and a code only, answered 200", async () => {
    const secret = hub.temporal.secrets.subjectKeySecret;
    const oldEmail = uniqueEmail('refused-old');
    const takenEmail = uniqueEmail('refused-taken');
    // Another person's consent under the new address: a move there would make two people one.
    await hub.ledger.appendConsentEvent({
      id: randomUUID(),
      subjectKey: subjectKeyFor(takenEmail, secret),
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: '2026-01-05T10:00:00.000Z',
      recordedAt: '2026-01-05T10:00:01.000Z',
      source: 'form:signup',
      evidence: { policyVersion: 'privacy-2026-01', formId: 'signup', channel: 'web', requestRef: 'r-9' },
    });
    const webhookSecret = 'upemail-refused-secret-0123456789';
    const key = freshApiKey();
    const app = await webhookApi(hub, webhookSecret, key);
    const deliver = (from: string, to: string, firedAt: string) =>
      app.inject(upemailDelivery(webhookSecret, { listId, from, to, newId: 'abc123', firedAt }));
    try {
      const firedAgo = mailchimpFiredAt(5000);
      const taken = await deliver(oldEmail, takenEmail, firedAgo);
      expect(taken.statusCode).toBe(200);
      expect(taken.json()).toMatchObject({ acknowledged: true, reason: 'address_taken' });
      const same = await deliver(oldEmail, oldEmail.toUpperCase(), mailchimpFiredAt(60_000));
      expect(same.statusCode).toBe(200);
      expect(same.json()).toMatchObject({ acknowledged: true, reason: 'same_address' });

      const oldKey = subjectKeyFor(oldEmail, secret);
      const refusals = await hub.ledger.listAddressChangeRefusals({ subjectKey: oldKey, open: true });
      expect(refusals.map((r) => [r.reason, r.newSubjectKey, r.source]).sort()).toEqual(
        [
          ['address_taken', subjectKeyFor(takenEmail, secret), 'mailchimp:upemail'],
          ['same_address', oldKey, 'mailchimp:upemail'],
        ].sort(),
      );
      expect(refusals.map((r) => r.id).sort()).toEqual(
        [taken.json().refusalId, same.json().refusalId].sort(),
      );
      // Nothing in the ledger's record names an address.
      const stored = JSON.stringify(refusals).toLowerCase();
      expect(stored).not.toContain(oldEmail.toLowerCase());
      expect(stored).not.toContain(takenEmail.toLowerCase());
      // A retried delivery keeps one row per delivery.
      await deliver(oldEmail, takenEmail, firedAgo);
      expect(await hub.ledger.listAddressChangeRefusals({ subjectKey: oldKey })).toHaveLength(2);

      // The operator's list (GET /v1/address-change-refusals?open=true) holds both until acknowledged.
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const openIds = async () =>
        (
          (
            await app.inject({ method: 'GET', url: '/v1/address-change-refusals?open=true', headers })
          ).json() as { addressChangeRefusals: { id: string }[] }
        ).addressChangeRefusals.map((r) => r.id);
      expect(await openIds()).toEqual(
        expect.arrayContaining([taken.json().refusalId, same.json().refusalId]),
      );
      const acknowledge = () =>
        app.inject({
          method: 'POST',
          url: `/v1/address-change-refusals/${taken.json().refusalId}/acknowledge`,
          headers,
          payload: JSON.stringify({ resolution: 'aligned_manually' }),
        });
      const acknowledged = await acknowledge();
      expect(acknowledged.statusCode).toBe(200);
      expect(acknowledged.json()).toMatchObject({
        id: taken.json().refusalId,
        resolution: 'aligned_manually',
        resolvedBy: expect.stringMatching(/^api:/),
      });
      expect((await acknowledge()).statusCode).toBe(409);
      expect(await openIds()).not.toContain(taken.json().refusalId);
      expect(await openIds()).toContain(same.json().refusalId);
    } finally {
      await app.close();
    }
  });

  it("takes an upemail whose fired_at lies ahead of the hub's clock or before the received-at floor as received now, answered 200 and flagged as clock skew", async () => {
    const webhookSecret = 'upemail-skew-secret-0123456789';
    const app = await webhookApi(hub, webhookSecret);
    try {
      for (const [firedAt, skew] of [
        ['2099-01-01 00:00:00', 'ahead_of_hub_clock'],
        ['2020-01-01 00:00:00', 'older_than_floor'],
      ] as const) {
        const oldEmail = uniqueEmail('skew-old');
        const newEmail = uniqueEmail('skew-new');
        await hub.vendors.dynamics.control.seed({
          contacts: [{ lastname: 'Skew', emailaddress1: oldEmail }],
        });
        await hub.vendors.mailchimp.control.seed({
          lists: [
            {
              id: listId,
              name: 'Rectify list',
              members: [{ email_address: newEmail, status: 'subscribed' }],
            },
          ],
        });
        const before = Date.now();
        // No new_id: the hub reads only the addresses.
        const answer = await app.inject(
          upemailDelivery(webhookSecret, { listId, from: oldEmail, to: newEmail, firedAt }),
        );
        // Not a 400 that Mailchimp would retry: the address change is carried out.
        expect(answer.statusCode).toBe(200);
        const body = answer.json() as { rectificationRequestId: string; firedAt: string; clockSkew: string };
        expect(body).toMatchObject({ firedAt, clockSkew: skew });
        const deadline = await hub.ledger.getRequestDeadline(body.rectificationRequestId);
        expect(Date.parse(deadline?.receivedAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
        expect(Date.parse(deadline?.receivedAt ?? '')).toBeLessThanOrEqual(Date.now());
        const receipt = await rectificationReceiptWhenKept(hub.ledger, body.rectificationRequestId);
        expect(receipt?.systems.dynamics.status).toBe('rectified');
      }
    } finally {
      await app.close();
    }
  });

  it('re-keys nothing for a person erased just before: the tombstone and the receipt stay with the erased address', async () => {
    const oldEmail = uniqueEmail('erased-old');
    const newEmail = uniqueEmail('erased-new');
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Erased', emailaddress1: oldEmail }] });
    const secret = hub.temporal.secrets.subjectKeySecret;
    const oldKey = subjectKeyFor(oldEmail, secret);
    const newKey = subjectKeyFor(newEmail, secret);
    const erased = await awaitReceipt(
      context,
      await requestErasure(context, {
        email: oldEmail,
        requestedBy: 'privacy-inbox#92',
        requestedAt: new Date().toISOString(),
      }),
    );
    expect(erased.systems.dynamics.status).toBe('erased');

    // The person's email change arrives after the erasure ended: nothing is left anywhere to rectify.
    const started = await requestRectification(
      context,
      {
        email: oldEmail,
        set: { email: newEmail },
        requestedBy: 'privacy-inbox#93',
        requestedAt: new Date().toISOString(),
      },
      { ledger: hub.ledger },
    );
    const receipt = await awaitRectification(context, started);

    expect(receipt.systems.dynamics.status).toBe('not_found');
    expect(receipt.rekeyed).toBeUndefined();
    expect(receipt.rekeyNote).toContain(`the person was erased (request ${erased.requestId})`);
    expect(await hub.ledger.getSubjectLink(oldKey)).toBeUndefined();
    expect(await hub.ledger.getTombstone(oldKey)).toMatchObject({ firstRequestId: erased.requestId });
    expect(await hub.ledger.getTombstone(newKey)).toBeUndefined();
    expect((await hub.ledger.listReceipts({ subjectKey: oldKey })).map((r) => r.requestId)).toEqual([
      erased.requestId,
    ]);
  });
});
