import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitReceipt, type HubClientContext, requestErasure } from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

/**
 * Issue 18 (breaker): a legal hold placed once an erasure's deletes had all completed, before its receipt,
 * left no trace in the receipt although `consent-hub hold` said the erasure stops. The receipt now records
 * it (`holdAfterDeletes`: nothing was left to restrict).
 */
describe('a hold placed after an erasure’s last delete, before its receipt', { timeout: 120_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;
  /** Every system's closing summary waits here while `summaries` is set: all deletes are done by then. */
  let summaries: { arrived: number; open: Promise<void> } | undefined;

  beforeAll(async () => {
    hub = await startHubWithVendors('hold-after-deletes', {
      wrapLedger: (ledger: Ledger) =>
        new Proxy(ledger, {
          get(target, property, receiver) {
            const value = Reflect.get(target, property, receiver);
            if (property !== 'countErasureRecords' || typeof value !== 'function') return value;
            return async (...args: unknown[]) => {
              if (summaries) {
                summaries.arrived++;
                await summaries.open;
              }
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
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

  it('is recorded in the receipt as arrived after the deletes completed, and nothing is restricted', async () => {
    const email = `after-deletes.${Date.now()}@example.com`;
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'After', emailaddress1: email }] });
    let open!: () => void;
    summaries = { arrived: 0, open: new Promise((resolve) => (open = resolve)) };
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#185',
      requestedAt: new Date().toISOString(),
      gaClientIds: ['5555.6666'],
    });
    // Dynamics, Mailchimp and Google have each finished deleting (or submitting) and wait in their summary.
    for (let i = 0; i < 400 && summaries.arrived < 3; i++) await new Promise((r) => setTimeout(r, 100));
    expect(summaries.arrived).toBe(3);
    const placedAt = new Date().toISOString();
    await hub.ledger.placeHold({
      subjectKey: started.subjectKey,
      reason: 'legal_claims',
      placedBy: 'cli:legal',
      placedAt,
    });
    open();
    const receipt = await awaitReceipt(context, started);
    summaries = undefined;

    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(receipt.restriction).toBeUndefined();
    expect(receipt.holdAfterDeletes).toEqual({
      reason: 'legal_claims',
      placedAt,
      note: expect.stringMatching(/after every system’s deletes had completed: nothing was left to restrict/),
    });
    expect(await hub.ledger.getReceipt(started.requestId)).toEqual(receipt);
  });

  it('an erasure with no hold at all has no such entry', async () => {
    const email = `no-hold.${Date.now()}@example.com`;
    await hub.vendors.dynamics.control.seed({ contacts: [{ lastname: 'Free', emailaddress1: email }] });
    const receipt = await awaitReceipt(
      context,
      await requestErasure(context, {
        email,
        requestedBy: 'privacy-inbox#186',
        requestedAt: new Date().toISOString(),
      }),
    );
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(receipt.holdAfterDeletes).toBeUndefined();
  });
});
