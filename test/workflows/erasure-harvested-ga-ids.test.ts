import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitReceipt, type HubClientContext, requestErasure } from '../../hub-client/erasures.js';
import { keyedVendorId } from '../../privacy/keyed-id.js';
import { activityInputs } from '../support/history.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

/**
 * Issue 15: GA client ids harvested from the CRM grow with the rows of an address shared by many rows. They
 * must not travel in the erasure's history (the harvest's result, every later step's input): the harvest
 * stores them in the ledger, sealed with the person's data key, and Google's step submits them from there.
 */
describe('erasure: GA client ids harvested from the CRM', { timeout: 240_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;
  let counter = 0;
  const uniqueEmail = (name: string) => `${name}.${Date.now()}.${counter++}@example.com`;
  const request = (email: string) => ({ email, requestedBy: 'test', requestedAt: new Date().toISOString() });

  beforeAll(async () => {
    hub = await startHubWithVendors('erasure-harvested-ga-ids', {
      subjectKeys: true,
      // These tests read what the activities were given after the erasure ends; the crypto-shred runs as soon
      // as it ends and would make the history unreadable first (tested in test/privacy). Keys are kept here.
      wrapLedger: (ledger) =>
        new Proxy(ledger, {
          get: (target, property) =>
            property === 'destroySubjectDataKeys'
              ? async () => 0
              : (Reflect.get(target, property, target) as unknown) instanceof Function
                ? (Reflect.get(target, property, target) as (...args: unknown[]) => unknown).bind(target)
                : Reflect.get(target, property, target),
        }),
    });
    context = {
      ...hub.temporal.context(),
      timings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes', heartbeatTimeout: '10 seconds' },
    };
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('keeps GA client ids harvested from many CRM rows out of the history: sealed in the ledger, submitted from there, each in the receipt', async () => {
    const email = uniqueEmail('shared');
    const gaIds = Array.from({ length: 8 }, (_, i) => `${7100 + i}.${1600000000 + i}`);
    await hub.vendors.dynamics.control.seed({
      leads: gaIds.map((id, i) => ({
        firstname: 'Sh',
        lastname: `Ared${i}`,
        emailaddress1: email,
        new_gaclientid: id,
      })),
    });
    const started = await requestErasure(context, request(email));
    const receipt = await awaitReceipt(context, started);

    // Every harvested id was submitted to Google and is in the receipt (keyed), as before.
    expect(receipt.systems.google.status).toBe('submitted');
    expect(receipt.systems.google.recordCount).toBe(gaIds.length);
    expect(receipt.systems.google.records.map((r) => r.id).sort()).toEqual(
      gaIds.map((id) => keyedVendorId(hub.temporal.secrets.subjectKeySecret, 'google', id)).sort(),
    );
    const sentToGoogle = JSON.stringify(await hub.vendors.google.control.state());
    for (const id of gaIds) expect(sentToGoogle).toContain(id);
    // No activity input carries them: the harvest stored them, sealed, and returned a count.
    const inputs = await activityInputs(hub.temporal.client, started.workflowId, hub.temporal.dataConverter);
    const carrying = inputs.filter((i) => gaIds.some((id) => JSON.stringify(i.input).includes(id)));
    expect(carrying.map((i) => `${i.activityType} ${JSON.stringify(i.input).slice(0, 600)}`)).toEqual([]);
    const submits = inputs.filter((i) => i.activityType === 'submitErasure');
    expect(submits.length).toBeGreaterThan(0);
    expect(submits.some((i) => (i.input as { harvestedGaIds?: boolean }).harvestedGaIds === true)).toBe(true);
    // The ledger holds them sealed with the person's data key, never in the clear, each page submitted.
    const pages = await hub.ledger.listHarvestedIdPages(started.requestId);
    expect(pages.reduce((n, p) => n + p.count, 0)).toBe(gaIds.length);
    expect(pages.every((p) => p.submittedAt !== undefined)).toBe(true);
    const stored = JSON.stringify(pages);
    for (const id of gaIds) expect(stored).not.toContain(id);
    expect(
      Buffer.from(pages[0]?.sealed ?? '', 'base64')
        .subarray(0, 4)
        .toString('ascii'),
    ).toBe('CHX2');
  });

  it('lists each harvested id once, submitted, when Google answers 503 mid-way and the step is retried from the sealed pages', async () => {
    const email = uniqueEmail('retried');
    const gaIds = Array.from({ length: 4 }, (_, i) => `${8200 + i}.${1700000000 + i}`);
    await hub.vendors.dynamics.control.seed({
      leads: gaIds.map((id, i) => ({
        firstname: 'Re',
        lastname: `Try${i}`,
        emailaddress1: email,
        new_gaclientid: id,
      })),
    });
    await hub.vendors.google.control.fail({
      method: 'POST',
      path: 'userDeletionRequests',
      status: 503,
      count: 1,
    });
    const started = await requestErasure(context, request(email));
    const receipt = await awaitReceipt(context, started);

    expect(receipt.systems.google.status).toBe('submitted');
    expect(receipt.systems.google.attempts).toBeGreaterThan(1);
    expect(receipt.systems.google.records.map((r) => `${r.id}:${r.result}`).sort()).toEqual(
      gaIds
        .map((id) => `${keyedVendorId(hub.temporal.secrets.subjectKeySecret, 'google', id)}:submitted`)
        .sort(),
    );
    const pages = await hub.ledger.listHarvestedIdPages(started.requestId);
    expect(pages.every((p) => p.submittedAt !== undefined)).toBe(true);
  });
});
