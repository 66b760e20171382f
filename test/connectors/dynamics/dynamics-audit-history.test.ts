import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NonRetryableVendorError } from '../../../connectors/connector-errors.js';
import { type DynamicsFixture, startDynamicsFixture, subject } from './dynamics-fixture.js';

/**
 * Dataverse keeps audit records of deleted rows; an erasure deletes them with DeleteRecordChangeHistory
 * (learn.microsoft.com/power-apps/developer/data-platform/auditing/delete-audit-data).
 */
describe('Dynamics erasure removes audit change history', () => {
  let fx: DynamicsFixture;

  beforeAll(async () => {
    fx = await startDynamicsFixture();
  });
  afterAll(() => fx.sandbox.close());
  beforeEach(() => fx.control.reset());

  const auditOf = async () => (await fx.control.state<{ audit: Record<string, number> }>()).audit;

  it('deletes the contact and the lead, then their audit history, the deletion’s own entry included', async () => {
    await fx.control.seed({
      contacts: [{ emailaddress1: 'ada@example.com' }, { emailaddress1: 'keep@example.com' }],
      leads: [{ emailaddress2: 'ada@example.com' }],
    });
    const connector = fx.connector();
    await connector.applyConsent(subject('ada@example.com'), {
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      hasEvidence: false,
    });
    const erased = await connector.erase(subject('ada@example.com'));
    expect(erased.records.map((r) => [r.kind, r.result, r.auditHistoryRemoved]).sort()).toEqual([
      ['contact', 'deleted', true],
      ['lead', 'deleted', true],
    ]);
    const audit = await auditOf();
    for (const record of erased.records) expect(audit[`${record.kind}:${record.id}`]).toBeUndefined();
    // The other person's history is untouched.
    expect(Object.values(audit)).toEqual([1]);
    const calls = (await fx.control.requests()).filter((r) => r.path.endsWith('/DeleteRecordChangeHistory'));
    expect(calls.map((c) => c.status)).toEqual([200, 200]);
  });

  it('fails non-retryably, naming the privilege, without prvDeleteRecordChangeHistory; once granted, the retry removes the history', async () => {
    await fx.control.seed({
      contacts: [{ emailaddress1: 'grace@example.com' }],
      deniedPrivileges: ['prvDeleteRecordChangeHistory'],
    });
    const connector = fx.connector();
    const [record] = (await connector.find(subject('grace@example.com'))).records;
    if (!record) throw new Error('the seeded contact was not found');
    const error = await connector
      .deleteRecord?.(subject('grace@example.com'), record)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    expect((error as NonRetryableVendorError).status).toBe(403);
    expect((error as NonRetryableVendorError).reason).toMatch(/prvDeleteRecordChangeHistory/);
    // The row went; its history (create and delete) stayed.
    expect((await fx.control.state<{ contacts: unknown[] }>()).contacts).toEqual([]);
    expect((await auditOf())[`contact:${record.id}`]).toBe(2);

    await fx.control.seed({ deniedPrivileges: [] });
    expect(await connector.deleteRecord?.(subject('grace@example.com'), record)).toBe('already_gone');
    expect((await auditOf())[`contact:${record.id}`]).toBeUndefined();
  });
});
