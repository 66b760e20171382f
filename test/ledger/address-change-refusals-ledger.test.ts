import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../../ledger/ledger.js';
import { randomSubjectKey } from '../support/random-subject-key.js';
import { ledgerBackends, withFreshLedger } from './backends.js';

describe.each(ledgerBackends)('refused address changes in the ledger on $name', (backend) => {
  let ledger: Ledger;

  withFreshLedger(backend, (fresh) => {
    ledger = fresh;
  });

  it('keeps a refusal open once per id, lists it under either key, and acknowledges it once', async () => {
    const [oldKey, newKey] = [randomSubjectKey(), randomSubjectKey()];
    const id = `mailchimp-webhook:${randomUUID()}`;
    const refusal = {
      id,
      subjectKey: oldKey,
      newSubjectKey: newKey,
      source: 'mailchimp:upemail',
      reason: 'address_taken' as const,
      recordedAt: '2026-03-01T10:00:00+01:00',
    };
    await ledger.recordAddressChangeRefusal(refusal);
    // A retried delivery writes the same row again: nothing changes.
    await ledger.recordAddressChangeRefusal({
      ...refusal,
      reason: 'intake_error',
      recordedAt: '2026-03-02T00:00:00Z',
    });
    const stored = { ...refusal, recordedAt: '2026-03-01T09:00:00.000Z' };
    expect(await ledger.listAddressChangeRefusals({ subjectKey: oldKey })).toEqual([stored]);
    expect(await ledger.listAddressChangeRefusals({ subjectKey: newKey })).toEqual([stored]);
    expect(await ledger.listAddressChangeRefusals({ open: true })).toContainEqual(stored);

    const resolved = await ledger.resolveAddressChangeRefusal({
      id,
      resolvedAt: '2026-03-03T12:00:00Z',
      resolvedBy: 'cli:alice',
      resolution: 'aligned_manually',
    });
    const acknowledged = {
      ...stored,
      resolvedAt: '2026-03-03T12:00:00.000Z',
      resolvedBy: 'cli:alice',
      resolution: 'aligned_manually',
    };
    expect(resolved).toEqual(acknowledged);
    // The first acknowledgement stands; a second does not overwrite it, and the refusal leaves the open list.
    const again = await ledger.resolveAddressChangeRefusal({
      id,
      resolvedAt: '2026-03-04T12:00:00Z',
      resolvedBy: 'cli:bob',
      resolution: 'other',
    });
    expect(again).toEqual(acknowledged);
    expect(await ledger.listAddressChangeRefusals({ open: true, subjectKey: oldKey })).toEqual([]);
    expect(await ledger.listAddressChangeRefusals({ subjectKey: oldKey })).toEqual([acknowledged]);
    expect(
      await ledger.resolveAddressChangeRefusal({
        id: 'no-such-refusal',
        resolvedAt: '2026-03-04T12:00:00Z',
        resolvedBy: 'cli:bob',
        resolution: 'other',
      }),
    ).toBeUndefined();
  });

  it("moves a person's refusals with them when a rectification re-keys them", async () => {
    const [oldKey, vendorKey, rekeyedTo] = [randomSubjectKey(), randomSubjectKey(), randomSubjectKey()];
    await ledger.recordAddressChangeRefusal({
      id: randomUUID(),
      subjectKey: oldKey,
      newSubjectKey: vendorKey,
      source: 'mailchimp:upemail',
      reason: 'rectification_incomplete',
      requestId: randomUUID(),
      recordedAt: '2026-03-01T09:00:00.000Z',
    });
    await ledger.rekeySubject({
      from: oldKey,
      to: rekeyedTo,
      requestId: randomUUID(),
      at: '2026-03-05T00:00:00Z',
    });
    expect(await ledger.listAddressChangeRefusals({ subjectKey: oldKey })).toEqual([]);
    expect((await ledger.listAddressChangeRefusals({ subjectKey: rekeyedTo })).map((r) => r.reason)).toEqual([
      'rectification_incomplete',
    ]);
  });
});
