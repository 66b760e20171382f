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

  it("lists an address's receipts for the person re-keyed away from it up to the re-key, and for the address's new owner after it", async () => {
    const [given, moved] = [randomSubjectKey(), randomSubjectKey()];
    const receiptAt = (subjectKey: string, completedAt: string): AccessReceipt => ({
      kind: 'access',
      requestId: randomUUID(),
      subjectKey,
      status: 'expired',
      requestedAt: completedAt,
      requestedBy: 'cli:alice',
      systems: {
        dynamics: { status: 'collected', attempts: 1, counts: {}, recordCount: 0 },
        mailchimp: { status: 'collected', attempts: 1, counts: {}, recordCount: 0 },
        google: { status: 'collected', attempts: 1, counts: {}, recordCount: 0 },
      },
      operatorActions: [],
      outcome: 'completed',
      completedAt,
    });
    const before = receiptAt(given, '2026-03-01T10:00:00.000Z');
    await ledger.recordAccessReceipt(before);
    await ledger.rekeySubject({
      from: given,
      to: moved,
      requestId: 'rect-1',
      at: '2026-03-02T10:00:00.000Z',
    });
    const movedOwn = receiptAt(moved, '2026-03-03T10:00:00.000Z');
    const newOwner = receiptAt(given, '2026-03-04T10:00:00.000Z');
    await ledger.recordAccessReceipt(movedOwn);
    await ledger.recordAccessReceipt(newOwner);
    expect((await ledger.listAccessReceipts(moved)).map((r) => r.requestId)).toEqual([
      before.requestId,
      movedOwn.requestId,
    ]);
    expect((await ledger.listAccessReceipts(given)).map((r) => r.requestId)).toEqual([newOwner.requestId]);
  });
});
