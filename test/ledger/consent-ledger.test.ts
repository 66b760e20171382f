import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SystemName } from '../../domain/systems.js';
import type { ConsentEvent, Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { randomSubjectKey } from '../support/random-subject-key.js';
import { type LedgerStore, ledgerBackends } from './backends.js';

const silent = pino({ level: 'silent' });
function event(subject: string, overrides: Partial<ConsentEvent> = {}): ConsentEvent {
  return {
    id: randomUUID(),
    subjectKey: subject,
    purpose: 'marketing_email',
    decision: 'withdrawn',
    occurredAt: '2026-03-01T10:00:00.000Z',
    recordedAt: '2026-03-01T10:00:01.000Z',
    source: 'test',
    evidence: { channel: 'test' },
    ...overrides,
  };
}

function tombstone(subject: string, systems: SystemName[]) {
  return {
    subjectKey: subject,
    erasedAt: '2026-03-01T11:00:00.000Z',
    systems,
    firstRequestId: 'erasure-1',
    lastRequestId: 'erasure-1',
  };
}

/** The consent half of the ledger: the tombstone rule on insert, system states, and races with an erasure. */
describe.each(ledgerBackends)('consent in the ledger on $name', (backend) => {
  let store: LedgerStore;
  let ledger: Ledger;
  const stores: LedgerStore[] = [];

  beforeEach(async () => {
    store = await backend.createStore();
    stores.push(store);
    ledger = await openLedger(store.options, silent);
  });
  afterEach(() => ledger.close());
  afterAll(async () => {
    for (const each of stores) await each.cleanup();
  });

  it('refuses a grant under any tombstone, keeps a withdrawal while the erasure is incomplete, and keeps nothing once every system was erased', async () => {
    const partial = randomSubjectKey();
    await ledger.recordTombstone(tombstone(partial, ['dynamics', 'google']));
    const grant = event(partial, { decision: 'granted', evidence: { formId: 'f' } });
    expect(await ledger.appendConsentEvent(grant)).toEqual({
      inserted: false,
      skipped: 'refused_after_erasure',
    });
    const withdrawal = event(partial);
    expect(await ledger.appendConsentEvent(withdrawal)).toEqual({ inserted: true });
    expect((await ledger.listConsentEvents(partial)).map((e) => e.id)).toEqual([withdrawal.id]);

    const complete = randomSubjectKey();
    await ledger.recordTombstone(tombstone(complete, ['dynamics', 'mailchimp', 'google']));
    expect(await ledger.appendConsentEvent(event(complete))).toEqual({
      inserted: false,
      skipped: 'not_kept_after_erasure',
    });
    await ledger.recordConsentOutcome({
      eventId: randomUUID(),
      subjectKey: complete,
      system: 'mailchimp',
      outcome: 'applied',
      recordedAt: new Date().toISOString(),
    });
    await ledger.recordSystemConsentState({
      subjectKey: complete,
      system: 'mailchimp',
      outcome: 'applied',
      fields: { 'membership:x': 'unsubscribed' },
      eventIds: { marketing_email: randomUUID() },
      purposes: { marketing_email: 'applied' },
      writtenAt: new Date().toISOString(),
    });
    expect(await ledger.listConsentEvents(complete)).toEqual([]);
    expect(await ledger.listConsentOutcomes(complete)).toEqual([]);
    expect(await ledger.listSystemConsentStates(complete)).toEqual([]);
  });

  it('keeps one state per system with the answers per purpose, replaced on each write, and lists failed ones', async () => {
    const subject = randomSubjectKey();
    const withdrawal = event(subject);
    await ledger.appendConsentEvent(withdrawal);
    const base = {
      subjectKey: subject,
      system: 'dynamics' as const,
      eventIds: { marketing_email: withdrawal.id },
    };
    await ledger.recordSystemConsentState({
      ...base,
      outcome: 'failed',
      reason: 'Dataverse unreachable',
      fields: {},
      purposes: { marketing_email: 'failed' },
      writtenAt: '2026-03-01T10:00:02.000Z',
    });
    expect(await ledger.listUnresolvedConsentSubjects('dynamics', 10)).toContain(subject);
    expect(await ledger.listUnresolvedConsentSubjects('mailchimp', 10)).not.toContain(subject);
    await ledger.recordSystemConsentState({
      ...base,
      outcome: 'applied',
      fields: { donotbulkemail: 'true' },
      purposes: { marketing_email: 'applied' },
      writtenAt: '2026-03-01T10:05:00.000Z',
    });
    expect(await ledger.listSystemConsentStates(subject)).toEqual([
      {
        ...base,
        outcome: 'applied',
        fields: { donotbulkemail: 'true' },
        purposes: { marketing_email: 'applied' },
        writtenAt: '2026-03-01T10:05:00.000Z',
      },
    ]);
    expect(await ledger.listConsentOutcomes(subject)).toMatchObject([
      { eventId: withdrawal.id, system: 'dynamics', outcome: 'applied' },
    ]);
    expect(await ledger.listUnresolvedConsentSubjects('dynamics', 10)).not.toContain(subject);
  });

  it('keeps what a withdrawal’s write recorded for it when a later write for another purpose answers differently, and marks a grant withheld', async () => {
    const subject = randomSubjectKey();
    const withdrawal = event(subject);
    const grant = event(subject, {
      purpose: 'event_invitations',
      decision: 'granted',
      occurredAt: '2026-03-01T10:01:00.000Z',
      evidence: { formId: 'f' },
    });
    const earlierGrant = event(subject, {
      purpose: 'product_information',
      decision: 'granted',
      occurredAt: '2026-03-01T09:00:00.000Z',
      evidence: { formId: 'f' },
    });
    for (const e of [earlierGrant, withdrawal, grant]) await ledger.appendConsentEvent(e);
    const state = (writtenAt: string, outcome: 'applied' | 'already' | 'failed', purposes: object) =>
      ledger.recordSystemConsentState({
        subjectKey: subject,
        system: 'dynamics',
        outcome,
        fields: outcome === 'failed' ? {} : { donotbulkemail: 'true' },
        eventIds: {
          marketing_email: withdrawal.id,
          event_invitations: grant.id,
          product_information: earlierGrant.id,
        },
        purposes,
        writtenAt,
      });
    await ledger.recordConsentOutcome({
      eventId: earlierGrant.id,
      subjectKey: subject,
      system: 'dynamics',
      outcome: 'applied',
      recordedAt: '2026-03-01T09:00:01.000Z',
    });
    // The withdrawal's write: it changed the shared field, so the earlier grant no longer shows there.
    await state('2026-03-01T10:00:02.000Z', 'applied', {
      marketing_email: 'applied',
      product_information: 'withheld',
    });
    // The grant's write finds the field as the withdrawal left it; then a later write fails outright.
    await state('2026-03-01T10:01:02.000Z', 'already', {
      marketing_email: 'already',
      event_invitations: 'withheld',
      product_information: 'withheld',
    });
    await state('2026-03-01T10:02:00.000Z', 'failed', {
      marketing_email: 'failed',
      event_invitations: 'failed',
      product_information: 'failed',
    });
    const outcomes = Object.fromEntries(
      (await ledger.listConsentOutcomes(subject)).map((o) => [o.eventId, o.outcome]),
    );
    expect(outcomes).toEqual({
      [withdrawal.id]: 'applied',
      [grant.id]: 'failed',
      [earlierGrant.id]: 'failed',
    });
  });

  it('writes concurrent copies of one event once (the primary key decides on insert)', async () => {
    const subject = randomSubjectKey();
    const copy = event(subject);
    const results = await Promise.all(Array.from({ length: 15 }, () => ledger.appendConsentEvent(copy)));
    expect(results.filter((r) => r.inserted)).toHaveLength(1);
    expect(await ledger.listConsentEvents(subject)).toHaveLength(1);
  });

  it('leaves no consent row behind when consent writes race an erasure’s tombstone and clean-up', async () => {
    // A second connection plays the consent worker, so on PostgreSQL the writes really interleave.
    const other = await openLedger(store.options, silent);
    try {
      for (let round = 0; round < 15; round++) {
        const subject = randomSubjectKey();
        const writes = Array.from({ length: 6 }, (_, i) =>
          other
            .appendConsentEvent(event(subject, { purpose: i % 2 ? 'phone' : 'marketing_email' }))
            .then(() =>
              other.recordSystemConsentState({
                subjectKey: subject,
                system: 'mailchimp',
                outcome: 'applied',
                fields: {},
                eventIds: { marketing_email: randomUUID() },
                purposes: { marketing_email: 'applied' },
                writtenAt: new Date().toISOString(),
              }),
            ),
        );
        const erasure = (async () => {
          await ledger.recordTombstone(tombstone(subject, ['dynamics', 'mailchimp', 'google']));
          await ledger.deleteConsentEvents(subject);
        })();
        await Promise.all([...writes, erasure]);
        expect(await ledger.listConsentEvents(subject)).toEqual([]);
        expect(await ledger.listConsentOutcomes(subject)).toEqual([]);
        expect(await ledger.listSystemConsentStates(subject)).toEqual([]);
      }
    } finally {
      await other.close();
    }
  });
});
