import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentChangeRequestSchema } from '../../domain/consent.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { recordConsentBatch } from '../../hub-client/consent-batch.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

/**
 * A batch's change for an address a rectification moved away from, while the person's workflow under their
 * new key runs: the single route hands it to that workflow (the new key); the batch must do the same, not
 * record it under the old key and write it to the old address.
 */
describe('a consent batch for an address a rectification moved away from', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let ledger: Ledger;
  let context: ConsentClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('consent-batch-rekey');
    ledger = hub.ledger;
    context = hub.temporal.context();
  });
  afterAll(() => hub?.close());

  const optOut = (email: string, purpose: 'phone' | 'marketing_email') =>
    consentChangeRequestSchema.parse({
      email,
      purpose,
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'batch-test',
      evidence: { channel: 'import' },
    });

  it('records the change under the new key, as the single route does', async () => {
    const oldEmail = `moved.old.${Date.now()}@example.com`;
    const newEmail = `moved.new.${Date.now()}@example.com`;
    const oldKey = subjectKeyFor(oldEmail, context.subjectKeySecret);
    const newKey = subjectKeyFor(newEmail, context.subjectKeySecret);
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Mo', lastname: 'Ved', emailaddress1: newEmail }],
    });
    await ledger.rekeySubject({
      from: oldKey,
      to: newKey,
      requestId: randomUUID(),
      at: new Date().toISOString(),
    });
    // The person's workflow under the new key is open (the test context keeps it 5 s after its last write).
    await recordConsentChange(context, optOut(newEmail, 'phone'), undefined, { ledger });

    const accepted = await recordConsentBatch(
      context,
      [{ index: 0, change: optOut(oldEmail, 'marketing_email') }],
      {
        ledger,
      },
    );
    expect(accepted.accepted[0]?.subjectKey).toBe(newKey);
    const eventId = accepted.accepted[0]?.eventId;
    for (let i = 0; i < 100 && !(await ledger.listConsentEvents(newKey)).some((e) => e.id === eventId); i++)
      await delay(100);
    expect((await ledger.listConsentEvents(newKey)).map((e) => e.id)).toContain(eventId);
    expect((await ledger.listConsentEvents(oldKey)).map((e) => e.id)).not.toContain(eventId);
  }, 120_000);
});
