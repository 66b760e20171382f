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

/**
 * A page read before the hub's own write to that system ended shows the tool as it was before the write: a
 * batch writing the opt-outs this very run recorded, or a grant just written. Such an observation is no drift;
 * read after the write, the same observation is.
 */
describe('comparing a page read before the hub’s last write there', () => {
  let ledger: Ledger;
  const audience = 'stale-news';
  const field = `membership:${audience}`;

  beforeAll(async () => {
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'stale-ledger-')) }, silentLogger);
  });
  afterAll(() => ledger?.close());

  /** The hub recorded `decision` for marketing_email and wrote `value` to Mailchimp at `writtenAt`. */
  async function written(
    subjectKey: string,
    decision: 'withdrawn' | 'granted',
    value: string,
    writtenAt: string,
  ) {
    const id = randomUUID();
    await ledger.appendConsentEvent({
      id,
      subjectKey,
      purpose: 'marketing_email',
      decision,
      occurredAt: '2026-03-01T10:00:00.000Z',
      recordedAt: '2026-03-01T10:00:01.000Z',
      source: 'test',
      evidence: decision === 'granted' ? { formId: 'f' } : {},
    });
    await ledger.recordConsentOutcome({
      eventId: id,
      subjectKey,
      system: 'mailchimp',
      outcome: 'applied',
      recordedAt: writtenAt,
    });
    await ledger.recordSystemConsentState({
      subjectKey,
      system: 'mailchimp',
      outcome: 'applied',
      fields: { [field]: value },
      eventIds: { marketing_email: id },
      purposes: { marketing_email: 'applied' },
      writtenAt,
    });
  }

  function activitiesWith(asked: string[]) {
    const starter: WorkStarter = {
      erase: async () => ({ requestId: randomUUID() }),
      changeConsent: async (input) => {
        asked.push(`change:${input.decision}`);
        return { eventId: randomUUID() };
      },
      reapplyConsent: async () => {
        asked.push('reapply');
        return { delivered: true };
      },
    };
    return createReconciliationActivities({
      ledger,
      logger: silentLogger,
      subjectKeySecret: 'secret',
      starter,
    });
  }

  const observed = (email: string, value: string, state: 'granted' | 'withdrawn') => ({
    email,
    fields: [{ field, purposes: ['marketing_email' as const], value, state }],
  });

  it.each([
    ['before', 'no drift', -60_000, []],
    ['after', 'reverted', 60_000, ['reapply']],
  ] as const)(
    'an opt-in seen %s the hub’s withdrawal there was written is %s',
    async (_when, _verdict, offsetMs, expected) => {
      const email = `stale.${randomUUID()}@example.com`;
      const { subjectKeyFor } = await import('../../privacy/subject-key.js');
      const writtenAt = '2026-03-01T10:05:00.000Z';
      await written(subjectKeyFor(email, 'secret'), 'withdrawn', 'unsubscribed', writtenAt);
      const asked: string[] = [];
      const result = await activitiesWith(asked).reconcilePeople({
        runId: 'stale-1',
        system: 'mailchimp',
        people: [observed(email, 'subscribed', 'granted')],
        observedAt: new Date(Date.parse(writtenAt) + offsetMs).toISOString(),
      });
      expect(asked).toEqual(expected);
      expect(result.drift.map((d) => d.kind)).toEqual(expected.length ? ['opt_in_reverted'] : []);
    },
  );

  it.each([
    ['before', 'not', -60_000, []],
    ['after', 'as a withdrawal', 60_000, ['change:withdrawn']],
  ] as const)(
    'an unsubscribe seen %s the hub’s grant there was written is recorded %s',
    async (_when, _verdict, offsetMs, expected) => {
      const email = `stale.${randomUUID()}@example.com`;
      const { subjectKeyFor } = await import('../../privacy/subject-key.js');
      const writtenAt = '2026-03-01T10:05:00.000Z';
      await written(subjectKeyFor(email, 'secret'), 'granted', 'subscribed', writtenAt);
      const asked: string[] = [];
      const result = await activitiesWith(asked).reconcilePeople({
        runId: 'stale-2',
        system: 'mailchimp',
        people: [observed(email, 'unsubscribed', 'withdrawn')],
        observedAt: new Date(Date.parse(writtenAt) + offsetMs).toISOString(),
      });
      expect(asked).toEqual(expected);
      expect(result.drift.map((d) => d.kind)).toEqual(expected.length ? ['opt_out_not_propagated'] : []);
    },
  );
});
