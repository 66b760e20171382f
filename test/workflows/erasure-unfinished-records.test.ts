import { createHmac } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscriberHash } from '../../connectors/mailchimp/subscriber-hash.js';
import type { ErasureReceipt, ErasureStatusView, SystemName } from '../../domain/erasure.js';
import {
  awaitReceipt,
  closeErasureSystem,
  type HubClientContext,
  lookupErasure,
  requestErasure,
} from '../../hub-client/erasures.js';
import { keyedVendorId } from '../../privacy/keyed-id.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

const audiences = ['unfinished-news', 'unfinished-events'];
const property = 'properties/400000001';
let counter = 0;
const uniqueEmail = (name: string) => `${name}.${Date.now()}.${counter++}@example.com`;
const request = (email: string) => ({ email, requestedBy: 'test', requestedAt: new Date().toISOString() });
type DynamicsState = { contacts: Record<string, unknown>[]; leads: Record<string, unknown>[] };

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

/**
 * A system that ends closed by an operator or failed still names, in the receipt, every record the erasure
 * planned there, each with its outcome; the ledger's list and the keyed digest say the same.
 */
describe('receipts of systems the erasure did not finish', { timeout: 120_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('erasure-unfinished');
    context = {
      ...hub.temporal.context(),
      timings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes', heartbeatTimeout: '10 seconds' },
    };
    await hub.vendors.mailchimp.control.seed({
      lists: audiences.map((id) => ({ id, name: id, members: [] })),
    });
  });
  afterAll(async () => {
    await hub?.close();
  });

  const dynamicsIds = async (email: string) => {
    const state = await hub.vendors.dynamics.control.state<DynamicsState>();
    const mine = (rows: Record<string, unknown>[], id: string) =>
      rows.filter((row) => row.emailaddress1 === email).map((row) => String(row[id]));
    return { contacts: mine(state.contacts, 'contactid'), leads: mine(state.leads, 'leadid') };
  };

  /** The ledger's full list for the system agrees with the receipt: same records, same count, same digest. */
  const expectLedgerAgrees = async (receipt: ErasureReceipt, system: SystemName) => {
    const stored = await hub.ledger.listErasureRecords(receipt.requestId, { system, limit: 1000 });
    const line = (r: { kind: string; id: string; container?: string; result: string }) =>
      `${r.kind}\t${r.container ?? ''}\t${r.id}\t${r.result}\n`;
    expect(stored.some((r) => r.result === 'planned')).toBe(false);
    expect(receipt.systems[system].records.map(line)).toEqual(stored.map(line));
    expect(receipt.systems[system].recordCount).toBe(stored.length);
    const digest = createHmac('sha256', hub.temporal.secrets.subjectKeySecret);
    for (const r of stored) digest.update(line(r));
    expect(receipt.systems[system].recordsDigest).toBe(digest.digest('hex'));
  };

  it('names a Dynamics contact whose DELETE got a 403 as not_deleted when the operator closes the system, and the lead after it too', async () => {
    const email = uniqueEmail('refused');
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Re', lastname: 'Fused', emailaddress1: email }],
      leads: [{ firstname: 'Re', lastname: 'Fused', emailaddress1: email }],
    });
    const planted = await dynamicsIds(email);
    await hub.vendors.dynamics.control.fail({
      method: 'DELETE',
      path: '^/api/data/v9.2/contacts',
      status: 403,
      count: 1,
    });
    const started = await requestErasure(context, request(email));
    await waitForStatus(context, started.requestId, (s) => s.systems.dynamics.status === 'needs_attention');
    await closeErasureSystem(context, started.requestId, {
      system: 'dynamics',
      reason: 'the app user lacks delete rights; ticket IT-42',
      operator: 'op-1',
    });
    const receipt = await awaitReceipt(context, started);

    expect(receipt.outcome).toBe('completed_with_failures');
    expect(receipt.systems.dynamics.status).toBe('closed_by_operator');
    // Contacts come before leads: the contact was refused, the lead's turn never came.
    expect(receipt.systems.dynamics.records).toEqual([
      {
        kind: 'contact',
        id: planted.contacts[0],
        result: 'not_deleted',
        reason: 'refused_by_vendor',
        httpStatus: 403,
        auditHistoryRemoved: false,
      },
      {
        kind: 'lead',
        id: planted.leads[0],
        result: 'not_deleted',
        reason: 'closed_by_operator',
        auditHistoryRemoved: false,
      },
    ]);
    expect(receipt.systems.dynamics.recordsTruncated).toBe(false);
    await expectLedgerAgrees(receipt, 'dynamics');
    expect(await hub.ledger.getReceipt(started.requestId)).toEqual(receipt);
    // The CRM still holds both: the receipt says so rather than claiming an erasure.
    expect(await dynamicsIds(email)).toEqual(planted);
  });

  it('names each Mailchimp member per audience with its outcome when the system fails for want of an operator', async () => {
    const email = uniqueEmail('member');
    await hub.vendors.mailchimp.control.seed({
      lists: audiences.map((id) => ({
        id,
        name: id,
        members: [{ email_address: email, status: 'subscribed' as const }],
      })),
    });
    const hash = subscriberHash(email);
    await hub.vendors.mailchimp.control.fail({
      method: 'POST',
      path: `/members/${hash}/actions/delete-permanent$`,
      status: 403,
      count: 1,
    });
    const short = { ...context, timings: { ...context.timings, operatorDeadline: '2 seconds' } };
    const receipt = await awaitReceipt(short, await requestErasure(short, request(email)));

    expect(receipt.outcome).toBe('completed_with_failures');
    expect(receipt.systems.mailchimp.status).toBe('failed');
    const keyed = keyedVendorId(hub.temporal.secrets.subjectKeySecret, 'mailchimp', hash);
    const records = receipt.systems.mailchimp.records;
    expect(records.map((r) => r.container).sort()).toEqual([...audiences].sort());
    expect(records.every((r) => r.kind === 'member' && r.id === keyed && r.result === 'not_deleted')).toBe(
      true,
    );
    // The first audience's member was refused; the other's turn never came before the deadline passed.
    expect(records.map((r) => [r.reason, r.httpStatus])).toEqual([
      ['refused_by_vendor', 403],
      ['operator_deadline_passed', undefined],
    ]);
    await expectLedgerAgrees(receipt, 'mailchimp');
    expect(JSON.stringify(receipt)).not.toContain(email);
    expect(JSON.stringify(receipt)).not.toContain(hash);
  });

  it('names each Google id whose deletion was refused as not_deleted when the operator closes the system, and the one Google accepted in the same call as submitted', async () => {
    const email = uniqueEmail('google');
    await hub.vendors.google.control.fail({
      method: 'POST',
      path: '^/analytics/v3/',
      body: '9911\\.2233',
      status: 403,
      count: 1,
    });
    const started = await requestErasure(context, {
      ...request(email),
      gaClientIds: ['9911.2233'],
      gaUserIds: ['user-9911'],
    });
    await waitForStatus(context, started.requestId, (s) => s.systems.google.status === 'needs_attention');
    await closeErasureSystem(context, started.requestId, {
      system: 'google',
      reason: 'property access revoked',
      operator: 'op-2',
    });
    const receipt = await awaitReceipt(context, started);

    expect(receipt.systems.google.status).toBe('closed_by_operator');
    const keyed = (id: string) => keyedVendorId(hub.temporal.secrets.subjectKeySecret, 'google', id);
    // Google refused the client id only; the user id, sent in the same call, was accepted (issue 15: the
    // receipt says exactly which deletions Google took, not `not_deleted` for the whole call).
    const accepted = JSON.stringify(await hub.vendors.google.control.state());
    expect(accepted).toContain('user-9911');
    expect(accepted).not.toContain('9911.2233');
    expect(
      receipt.systems.google.records.map((r) => [r.kind, r.container, r.id, r.result, r.reason]).sort(),
    ).toEqual(
      [
        ['userDeletionRequest', property, keyed('9911.2233'), 'not_deleted', 'closed_by_operator'],
        ['userDeletionRequest', property, keyed('user-9911'), 'submitted', undefined],
      ].sort(),
    );
    await expectLedgerAgrees(receipt, 'google');
    // A system that did finish keeps its own records: Dynamics held nothing for this person.
    expect(receipt.systems.dynamics).toMatchObject({ status: 'not_found', records: [] });
  });
});
