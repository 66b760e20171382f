import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentChangeRequestSchema } from '../../domain/consent.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { consentBatchResult, recordConsentBatch } from '../../hub-client/consent-batch.js';
import { consentStateFromLedger } from '../../ledger/consent-state.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

type Row = Record<string, unknown>;

/**
 * A batch overlapping a person's own change: the batch took the person in (an opt-out), then a later grant
 * with evidence went through the person's own workflow while the batch's Dynamics write was still retrying.
 * The vendor must end with the decision in force (the grant), never the batch's older state.
 */
describe('a consent batch racing a later single change of the same person', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let ledger: Ledger;
  let context: ConsentClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('consent-batch-race');
    ledger = hub.ledger;
    context = hub.temporal.context();
  });
  afterAll(() => hub?.close());

  const contactOf = async (email: string) =>
    ((await hub.vendors.dynamics.control.state<{ contacts: Row[] }>()).contacts.find(
      (c) => c.emailaddress1 === email,
    ) ?? {}) as Row;

  const dynamicsState = async (subjectKey: string) =>
    (await ledger.listSystemConsentStates(subjectKey)).find((s) => s.system === 'dynamics');

  async function until(check: () => Promise<boolean>, what: string) {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await delay(100);
    }
    throw new Error(`never: ${what}`);
  }

  it('does not write its older state over a later change that went through the person’s own workflow, and records the decision in force', async () => {
    const email = `race.${Date.now()}@example.com`;
    const subjectKey = subjectKeyFor(email, context.subjectKeySecret);
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Ra', lastname: 'Ce', emailaddress1: email }],
    });
    // The batch's $batch write fails until the person's own change is written.
    await hub.vendors.dynamics.control.fail({ method: 'POST', path: '\\$batch', status: 503, count: 1000 });
    const optOutAt = new Date(Date.now() - 60_000).toISOString();
    const accepted = await recordConsentBatch(
      context,
      [
        {
          index: 0,
          change: consentChangeRequestSchema.parse({
            email,
            purpose: 'marketing_email',
            decision: 'withdrawn',
            occurredAt: optOutAt,
            source: 'batch-test',
            evidence: { channel: 'import' },
          }),
        },
      ],
      { ledger },
    );
    await until(async () => (await ledger.listConsentEvents(subjectKey)).length === 1, 'batch intake');

    const grant = await recordConsentChange(
      context,
      {
        email,
        purpose: 'marketing_email',
        decision: 'granted',
        occurredAt: new Date().toISOString(),
        source: 'form:contact',
        evidence: { policyVersion: '2026-02', formId: 'contact' },
      },
      undefined,
      { ledger },
    );
    await until(
      async () => (await dynamicsState(subjectKey))?.eventIds.marketing_email === grant.eventId,
      'the grant written to Dynamics',
    );
    expect((await contactOf(email)).donotbulkemail).toBe(false);
    await hub.vendors.dynamics.control.clearFaults();

    const result = await consentBatchResult(context, accepted.batchId);
    expect(result.results[0]?.route).toBe('bulk');
    expect(result.results[0]?.handedOff?.dynamics).toMatch(/later change/);
    // Whatever the batch did, the person's own workflow ends: the contact holds the grant in force.
    await delay(2000);
    const state = await consentStateFromLedger(ledger, subjectKey);
    expect(state.purposes.marketing_email?.eventId).toBe(grant.eventId);
    expect((await contactOf(email)).donotbulkemail).toBe(false);
    expect(await dynamicsState(subjectKey)).toMatchObject({
      fields: { donotbulkemail: 'false' },
      eventIds: { marketing_email: grant.eventId },
    });
  }, 120_000);
});
