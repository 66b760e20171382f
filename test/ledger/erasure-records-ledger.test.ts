import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ErasureRecordEntry, Ledger } from '../../ledger/ledger.js';
import { ledgerBackends, withFreshLedger } from './backends.js';

/**
 * readdressErasureRecords on both backends: a held erasure names the records its restriction found by the id
 * that still finds them (Mailchimp's contact id rather than the keyed hash the harvest planned), without
 * undoing a deletion and without a record counted twice.
 */
describe.each(ledgerBackends)('an erasure readdressing its planned records on $name', (backend) => {
  let ledger: Ledger;

  withFreshLedger(backend, (fresh) => {
    ledger = fresh;
  });

  const member = (id: string) => ({ kind: 'member', container: 'aud-1', id });
  const records = async (requestId: string): Promise<Partial<ErasureRecordEntry>[]> =>
    (await ledger.listErasureRecords(requestId, { limit: 100 })).map(({ kind, container, id, result }) => ({
      kind,
      container,
      id,
      result,
    }));

  it('renames a planned record to the id that still finds it', async () => {
    const requestId = randomUUID();
    await ledger.planErasureRecords(requestId, 'mailchimp', [member('hash-1'), member('hash-2')]);
    await ledger.readdressErasureRecords(requestId, 'mailchimp', [
      { from: member('hash-1'), to: member('contact-1') },
    ]);
    expect(await records(requestId)).toEqual([
      { ...member('contact-1'), result: 'planned' },
      { ...member('hash-2'), result: 'planned' },
    ]);
    // Again (a retried activity): the old name is gone, so nothing changes.
    await ledger.readdressErasureRecords(requestId, 'mailchimp', [
      { from: member('hash-1'), to: member('contact-1') },
    ]);
    expect(await records(requestId)).toHaveLength(2);
  });

  it('drops the old name when the new one is already recorded, keeping its result', async () => {
    const requestId = randomUUID();
    await ledger.planErasureRecords(requestId, 'mailchimp', [member('hash-1')]);
    await ledger.markErasureRecords(requestId, 'mailchimp', [{ ...member('contact-1'), result: 'deleted' }]);
    await ledger.readdressErasureRecords(requestId, 'mailchimp', [
      { from: member('hash-1'), to: member('contact-1') },
    ]);
    expect(await records(requestId)).toEqual([{ ...member('contact-1'), result: 'deleted' }]);
  });

  it('leaves a record already done, and other requests and systems, as they are', async () => {
    const requestId = randomUUID();
    const other = randomUUID();
    await ledger.planErasureRecords(requestId, 'mailchimp', [member('hash-1')]);
    await ledger.markErasureRecords(requestId, 'mailchimp', [{ ...member('hash-1'), result: 'deleted' }]);
    await ledger.planErasureRecords(requestId, 'dynamics', [{ kind: 'contact', id: 'hash-2' }]);
    await ledger.planErasureRecords(other, 'mailchimp', [member('hash-2')]);
    await ledger.readdressErasureRecords(requestId, 'mailchimp', [
      { from: member('hash-1'), to: member('contact-1') },
      // Planned under Dynamics and under another request, not under this request's Mailchimp.
      { from: member('hash-2'), to: member('contact-2') },
      { from: { kind: 'contact', id: 'hash-2' }, to: { kind: 'contact', id: 'row-2' } },
    ]);
    expect(await records(requestId)).toEqual([
      { kind: 'contact', container: undefined, id: 'hash-2', result: 'planned' },
      { ...member('hash-1'), result: 'deleted' },
    ]);
    expect(await records(other)).toEqual([{ ...member('hash-2'), result: 'planned' }]);
  });
});
