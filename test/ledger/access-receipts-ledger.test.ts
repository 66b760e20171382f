import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AccessReceipt } from '../../domain/access.js';
import type { Ledger } from '../../ledger/ledger.js';
import { randomSubjectKey } from '../support/random-subject-key.js';
import { ledgerBackends, withFreshLedger } from './backends.js';

describe.each(ledgerBackends)('access receipts in the ledger on $name', (backend) => {
  let ledger: Ledger;

  withFreshLedger(backend, (fresh) => {
    ledger = fresh;
  });

  it('keeps an access receipt by request id, rewrites it idempotently, and knows no other id', async () => {
    const receipt: AccessReceipt = {
      kind: 'access',
      requestId: randomUUID(),
      subjectKey: randomSubjectKey(),
      status: 'expired',
      requestedAt: '2026-03-01T10:00:00.000Z',
      requestedBy: 'cli:alice',
      systems: {
        dynamics: { status: 'collected', attempts: 1, counts: { contact: 1, email: 2 }, recordCount: 3 },
        mailchimp: { status: 'collected', attempts: 1, counts: {}, recordCount: 0 },
        google: { status: 'collected', attempts: 1, counts: {}, recordCount: 0 },
      },
      expiresAt: '2026-03-31T10:00:00.000Z',
      deletedAt: '2026-03-31T10:00:01.000Z',
      operatorActions: [],
      outcome: 'completed',
      completedAt: '2026-03-01T10:01:00.000Z',
    };
    await ledger.recordAccessReceipt(receipt);
    await ledger.recordAccessReceipt(receipt);
    expect(await ledger.getAccessReceipt(receipt.requestId)).toEqual(receipt);
    expect(await ledger.getAccessReceipt(randomUUID())).toBeUndefined();
  });
});
