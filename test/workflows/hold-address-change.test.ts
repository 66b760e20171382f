import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureStatusView } from '../../domain/erasure.js';
import { awaitReceipt, type HubClientContext, requestErasure } from '../../hub-client/erasures.js';
import { placeHold, releaseHold } from '../../hub-client/holds.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { mailchimpSubscriberHash } from '../../sandboxes/mailchimp/subscriber-hash.js';
import { raw } from '../connectors/mailchimp/mailchimp-test-kit.js';
import { erasureContext, erasureStatusWhen } from '../support/erasure-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { deliverUpemail as deliverMailchimpUpemail } from '../support/mailchimp-webhooks.js';
import { uniqueEmail } from '../support/unique-email.js';

const listId = 'movelist01';

type Row = Record<string, unknown>;
type DynamicsState = { contacts: Row[]; leads: Row[] };
type MailchimpState = {
  lists: { id: string; members: { email_address: string; contact_id: string; status: string }[] }[];
};

/**
 * Issue 18 (breaker's D1): a held person's records whose address changes between the restriction and the
 * release (Mailchimp moves the member on an upemail; a CRM user edits the row's emailaddress1) are still
 * erased after the release, because the erasure deletes the records it restricted by the ids that still find
 * them, and its receipt is true against the sandboxes' state.
 */
describe('a held erasure deletes the records it restricted, whatever their address became', {
  timeout: 240_000,
}, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('hold-address-change');
    context = erasureContext(hub);
  });
  afterAll(async () => {
    await hub?.close();
  });

  const waitFor = (requestId: string, test: (s: ErasureStatusView) => boolean) =>
    erasureStatusWhen(context, requestId, test);
  const mailchimpMembers = async () =>
    (await hub.vendors.mailchimp.control.state<MailchimpState>()).lists.flatMap((list) => list.members);
  const dynamicsRows = async () => {
    const state = await hub.vendors.dynamics.control.state<DynamicsState>();
    return [...state.contacts, ...state.leads];
  };
  /** What Mailchimp does when the person changes their address there (upemail): the member moves. */
  const moveMember = async (from: string, to: string) => {
    const moved = await raw(
      hub.vendors.mailchimp.sandbox.url,
      'PATCH',
      `/lists/${listId}/members/${mailchimpSubscriberHash(from)}`,
      { email_address: to },
      hub.vendors.mailchimp.env.MAILCHIMP_API_KEY,
    );
    expect(moved.status).toBe(200);
  };

  it('erases a member Mailchimp moved to a new address and a row whose address a CRM user edited during the hold', async () => {
    const email = uniqueEmail('held-mover');
    const movedTo = uniqueEmail('held-moved');
    const editedTo = uniqueEmail('held-edited');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Held', lastname: 'Mover', emailaddress1: email }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Move list', members: [{ email_address: email, status: 'subscribed' }] }],
    });
    await placeHold(context, hub.ledger, { email, reason: 'legal_claims', placedBy: 'cli:legal' });
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#181',
      requestedAt: new Date().toISOString(),
    });
    const onHold = await waitFor(started.requestId, (s) => s.status === 'on_hold');
    expect(onHold.restriction?.systems.mailchimp.status).toBe('restricted');
    expect(onHold.restriction?.systems.dynamics.status).toBe('restricted');

    const member = (await mailchimpMembers()).find((m) => m.email_address === email);
    const contact = (await dynamicsRows()).find((row) => row.emailaddress1 === email);
    expect(member?.status).toBe('unsubscribed');
    expect(contact?.statecode).toBe(1);
    // During the hold: the person changes the address in Mailchimp, and a CRM user edits the row's address.
    await moveMember(email, movedTo);
    await hub.connectors.dynamics?.rectify?.({ email, gaClientIds: [], gaUserIds: [] }, { email: editedTo }, [
      { kind: 'contact', id: String(contact?.contactid) },
    ]);
    expect((await mailchimpMembers()).find((m) => m.contact_id === member?.contact_id)?.email_address).toBe(
      movedTo,
    );
    expect((await dynamicsRows()).find((row) => row.contactid === contact?.contactid)?.emailaddress1).toBe(
      editedTo,
    );

    await releaseHold(context, hub.ledger, { email, reason: 'resolved', releasedBy: 'cli:legal' });
    const receipt = await awaitReceipt(context, started);

    // The receipt is true against the vendors: the member (at its new address) and the row (at its edited
    // one) are gone, and each system says it erased them, not that it found nothing.
    expect((await mailchimpMembers()).filter((m) => m.contact_id === member?.contact_id)).toEqual([]);
    expect((await dynamicsRows()).filter((row) => row.contactid === contact?.contactid)).toEqual([]);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(receipt.systems.mailchimp.records).toEqual([
      expect.objectContaining({ kind: 'member', container: listId, result: 'deleted' }),
    ]);
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(receipt.systems.dynamics.records).toEqual([
      expect.objectContaining({ kind: 'contact', id: contact?.contactid, result: 'deleted' }),
    ]);
    // The member is named by Mailchimp's contact id (random), never by an address or its hash.
    const text = JSON.stringify(receipt);
    for (const personal of [email, movedTo, editedTo, mailchimpSubscriberHash(movedTo)])
      expect(text).not.toContain(personal);
  });

  /** Mailchimp's upemail delivery to the hub's webhook, as the API receives it. */
  const deliverUpemail = (from: string, to: string) =>
    deliverMailchimpUpemail(hub, {
      webhookSecret: 'hold-upemail-secret-0123456789',
      listId,
      from,
      to,
      newId: mailchimpSubscriberHash(to),
      firedAgoMs: 2000,
    });

  it('an upemail during a held erasure is recorded by the erasure, not refused and dropped: the receipt names the change and the moved member is erased', async () => {
    const email = uniqueEmail('held-upemail');
    const movedTo = uniqueEmail('held-upemail-new');
    const secret = hub.temporal.secrets.subjectKeySecret;
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Upemail', emailaddress1: email }] });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Move list', members: [{ email_address: email, status: 'subscribed' }] }],
    });
    await placeHold(context, hub.ledger, { email, reason: 'legal_claims', placedBy: 'cli:legal' });
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#183',
      requestedAt: new Date().toISOString(),
    });
    await waitFor(started.requestId, (s) => s.status === 'on_hold');
    await moveMember(email, movedTo);
    const delivered = await deliverUpemail(email, movedTo);
    expect(delivered.status).toBe(200);
    expect(delivered.body).toEqual({
      subjectKey: started.subjectKey,
      newSubjectKey: subjectKeyFor(movedTo, secret),
      recordedIn: `erasure-${started.subjectKey}`,
    });
    expect(delivered.body).not.toHaveProperty('refused');
    // Recorded while the erasure waits: the operator sees it in the status.
    const seen = await waitFor(started.requestId, (s) => (s.addressChanges ?? []).length > 0);
    expect(seen.addressChanges).toEqual([
      {
        source: 'mailchimp:upemail',
        changedAt: expect.any(String),
        newSubjectKey: subjectKeyFor(movedTo, secret),
      },
    ]);
    // A redelivery (Mailchimp retries) is answered the same, and recorded once.
    expect((await deliverUpemail(email, movedTo)).body).toEqual(delivered.body);

    await releaseHold(context, hub.ledger, { email, reason: 'resolved', releasedBy: 'cli:legal' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.addressChanges).toEqual(seen.addressChanges);
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect((await mailchimpMembers()).filter((m) => [email, movedTo].includes(m.email_address))).toEqual([]);
    expect(await hub.ledger.getReceipt(started.requestId)).toEqual(receipt);
    expect(JSON.stringify(receipt)).not.toContain(movedTo);
  });

  it('an upemail while an unheld erasure retries Mailchimp makes it erase the member at the new address, not report it gone', async () => {
    const email = uniqueEmail('running-upemail');
    const movedTo = uniqueEmail('running-upemail-new');
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Move list', members: [{ email_address: email, status: 'subscribed' }] }],
    });
    // Mailchimp's deletes fail for now: the erasure has planned the member and retries its delete.
    await hub.vendors.mailchimp.control.fail({
      method: 'POST',
      path: '/actions/delete-permanent$',
      status: 503,
      count: 1000,
    });
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#184',
      requestedAt: new Date().toISOString(),
    });
    await waitFor(started.requestId, (s) => s.systems.mailchimp.attempts >= 1);
    await moveMember(email, movedTo);
    const delivered = await deliverUpemail(email, movedTo);
    expect(delivered.body).toMatchObject({ recordedIn: `erasure-${started.subjectKey}` });
    await waitFor(started.requestId, (s) => (s.addressChanges ?? []).length > 0);
    await hub.vendors.mailchimp.control.clearFaults();
    const receipt = await awaitReceipt(context, started);
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(receipt.systems.mailchimp.records.map((r) => r.result)).toContain('deleted');
    expect((await mailchimpMembers()).filter((m) => m.email_address === movedTo)).toEqual([]);
    expect(receipt.addressChanges).toHaveLength(1);
  });

  it('after a hold with no address change, each restricted record is deleted once and listed once', async () => {
    const email = uniqueEmail('held-still');
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Still', emailaddress1: email }] });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Move list', members: [{ email_address: email, status: 'subscribed' }] }],
    });
    await placeHold(context, hub.ledger, { email, reason: 'legal_claims', placedBy: 'cli:legal' });
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#182',
      requestedAt: new Date().toISOString(),
    });
    await waitFor(started.requestId, (s) => s.status === 'on_hold');
    await releaseHold(context, hub.ledger, { email, reason: 'resolved', releasedBy: 'cli:legal' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.systems.mailchimp.records.map((r) => r.result)).toEqual(['deleted']);
    expect(receipt.systems.dynamics.records.map((r) => r.result)).toEqual(['deleted']);
    expect((await mailchimpMembers()).filter((m) => m.email_address === email)).toEqual([]);
  });
});
