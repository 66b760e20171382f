import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createReconciliationActivities,
  type WorkStarter,
} from '../../activities/reconciliation-activities.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { silentLogger } from '../support/temporal.js';

/**
 * Reconciliation's repair of failed withdrawals, against a real (SQLite) ledger: subjects it cannot repair
 * must never keep it from reaching the ones after them.
 */
describe('repairing failed withdrawals', () => {
  let ledger: Ledger;

  beforeAll(async () => {
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'repair-ledger-')) }, silentLogger);
  });
  afterAll(() => ledger?.close());

  /** A subject whose withdrawal failed in Mailchimp; `withdrawn: false` leaves no withdrawal in force. */
  async function unresolved(subjectKey: string, withdrawn = true) {
    const id = randomUUID();
    await ledger.appendConsentEvent({
      id,
      subjectKey,
      purpose: 'marketing_email',
      decision: withdrawn ? 'withdrawn' : 'granted',
      occurredAt: '2026-03-01T10:00:00.000Z',
      recordedAt: '2026-03-01T10:00:01.000Z',
      source: 'test',
      evidence: withdrawn ? {} : { formId: 'f' },
    });
    await ledger.recordSystemConsentState({
      subjectKey,
      system: 'mailchimp',
      outcome: 'failed',
      reason: 'test: failed',
      fields: {},
      eventIds: { marketing_email: id },
      purposes: { marketing_email: 'failed' },
      // The oldest first: these are what an unpaged read ordered by write time would see every run.
      writtenAt: new Date(
        Date.parse('2026-03-01T10:00:02.000Z') + Number(subjectKey.slice(-2)),
      ).toISOString(),
    });
  }

  it('pages through every unresolved subject in each run, past a first page it cannot repair', async () => {
    const prefix = randomBytes(31).toString('hex');
    const keys = Array.from({ length: 7 }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
    // The first four cannot be repaired (two have no withdrawal in force, two have no running workflow).
    for (const [i, key] of keys.entries()) await unresolved(key, i >= 2);
    const asked: string[] = [];
    const starter: WorkStarter = {
      erase: async () => ({ requestId: randomUUID() }),
      changeConsent: async () => ({ eventId: randomUUID() }),
      reapplyConsent: async ({ subjectKey }) => {
        asked.push(subjectKey);
        return { delivered: keys.indexOf(subjectKey) >= 4 };
      },
    };
    const activities = createReconciliationActivities({
      ledger,
      logger: silentLogger,
      subjectKeySecret: 'secret',
      starter,
    });

    // As the reconciliation workflow walks them: a page, then the next from its last key, until none.
    const kinds: string[] = [];
    let after: string | undefined;
    let calls = 0;
    do {
      const page = await activities.repairFailedWithdrawals({
        runId: 'run-1',
        system: 'mailchimp',
        pageSize: 2,
        ...(after ? { after } : {}),
      });
      kinds.push(...page.drift.map((d) => `${d.subjectKey}:${d.kind}`));
      after = page.next;
      calls++;
    } while (after && calls < 20);

    expect(asked).toEqual(keys.slice(2));
    expect(kinds).toEqual([
      `${keys[2]}:failed_withdrawal_unreachable`,
      `${keys[3]}:failed_withdrawal_unreachable`,
      `${keys[4]}:failed_withdrawal_reapplied`,
      `${keys[5]}:failed_withdrawal_reapplied`,
      `${keys[6]}:failed_withdrawal_reapplied`,
    ]);
    expect(calls).toBe(4);
  });
});
