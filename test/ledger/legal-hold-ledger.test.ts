import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RestrictionReceipt } from '../../domain/hold.js';
import type { Ledger } from '../../ledger/ledger.js';
import { randomSubjectKey } from '../support/random-subject-key.js';
import { ledgerBackends, withFreshLedger } from './backends.js';

describe.each(ledgerBackends)('legal holds in the ledger on $name', (backend) => {
  let ledger: Ledger;

  withFreshLedger(backend, (fresh) => {
    ledger = fresh;
  });

  it('keeps the first hold in force, releases it once, and lets a new hold replace a released one', async () => {
    const key = randomSubjectKey();
    expect(await ledger.getHold(key)).toBeUndefined();
    const first = await ledger.placeHold({
      subjectKey: key,
      reason: 'legal_claims',
      placedBy: 'cli:alice',
      placedAt: '2026-01-01T10:00:00+01:00',
    });
    expect(first).toEqual({
      placed: true,
      hold: {
        subjectKey: key,
        reason: 'legal_claims',
        placedBy: 'cli:alice',
        placedAt: '2026-01-01T09:00:00.000Z',
      },
    });
    const again = await ledger.placeHold({
      subjectKey: key,
      reason: 'legal_obligation',
      placedBy: 'cli:bob',
      placedAt: '2026-01-02T09:00:00.000Z',
    });
    expect(again.placed).toBe(false);
    expect(again.hold.reason).toBe('legal_claims');

    const released = await ledger.releaseHold({
      subjectKey: key,
      releasedAt: '2026-02-01T09:00:00.000Z',
      releasedBy: 'cli:bob',
      releaseReason: 'resolved',
    });
    expect(released).toMatchObject({
      reason: 'legal_claims',
      releasedAt: '2026-02-01T09:00:00.000Z',
      releasedBy: 'cli:bob',
      releaseReason: 'resolved',
    });
    expect(
      await ledger.releaseHold({
        subjectKey: key,
        releasedAt: '2026-02-02T09:00:00.000Z',
        releasedBy: 'cli:bob',
        releaseReason: 'resolved',
      }),
    ).toBeUndefined();

    const renewed = await ledger.placeHold({
      subjectKey: key,
      reason: 'authority_order',
      placedBy: 'cli:carol',
      placedAt: '2026-03-01T09:00:00.000Z',
    });
    expect(renewed.placed).toBe(true);
    expect(renewed.hold).toEqual({
      subjectKey: key,
      reason: 'authority_order',
      placedBy: 'cli:carol',
      placedAt: '2026-03-01T09:00:00.000Z',
    });
  });

  it('keeps every hold with its release: a new hold after a release adds to the history instead of overwriting it', async () => {
    const key = randomSubjectKey();
    expect(await ledger.listHolds(key)).toEqual([]);
    const hold = (reason: 'legal_claims' | 'authority_order', placedAt: string) =>
      ledger.placeHold({ subjectKey: key, reason, placedBy: 'cli:alice', placedAt });
    const release = (releasedAt: string) =>
      ledger.releaseHold({ subjectKey: key, releasedAt, releasedBy: 'cli:bob', releaseReason: 'resolved' });
    // Hold, release, hold again within a second, and a repeated hold while in force (kept as it was).
    await hold('legal_claims', '2026-01-01T09:00:00.000Z');
    await release('2026-01-01T09:00:00.400Z');
    await hold('authority_order', '2026-01-01T09:00:00.800Z');
    await hold('legal_claims', '2026-01-01T09:00:00.900Z');

    expect(await ledger.listHolds(key)).toEqual([
      {
        subjectKey: key,
        reason: 'legal_claims',
        placedBy: 'cli:alice',
        placedAt: '2026-01-01T09:00:00.000Z',
        releasedAt: '2026-01-01T09:00:00.400Z',
        releasedBy: 'cli:bob',
        releaseReason: 'resolved',
      },
      {
        subjectKey: key,
        reason: 'authority_order',
        placedBy: 'cli:alice',
        placedAt: '2026-01-01T09:00:00.800Z',
      },
    ]);

    await release('2026-01-02T09:00:00.000Z');
    const after = await ledger.listHolds(key);
    expect(after.map((h) => h.releasedAt)).toEqual(['2026-01-01T09:00:00.400Z', '2026-01-02T09:00:00.000Z']);
    expect(await ledger.getHold(key)).toEqual(after[1]);
  });

  it('answers no release for a person never held', async () => {
    expect(
      await ledger.releaseHold({
        subjectKey: randomSubjectKey(),
        releasedAt: '2026-02-01T09:00:00.000Z',
        releasedBy: 'cli:bob',
        releaseReason: 'resolved',
      }),
    ).toBeUndefined();
  });

  it('stores a restriction receipt and rewrites it when the hold is released', async () => {
    const key = randomSubjectKey();
    const receipt: RestrictionReceipt = {
      requestId: randomUUID(),
      subjectKey: key,
      hold: { reason: 'legal_claims', placedAt: '2026-01-01T09:00:00.000Z' },
      restrictedAt: '2026-01-03T09:00:00.000Z',
      outcome: 'restricted',
      systems: {
        dynamics: { status: 'restricted', attempts: 1, records: [] },
        mailchimp: { status: 'not_found', attempts: 1, records: [] },
        google: { status: 'not_applicable', attempts: 0, records: [], note: 'nothing to restrict' },
      },
    };
    await ledger.recordRestriction(receipt);
    expect(await ledger.getRestriction(receipt.requestId)).toEqual(receipt);
    const released = {
      ...receipt,
      released: { at: '2026-02-01T09:00:00.000Z', by: 'cli:bob', reason: 'resolved' as const },
    };
    await ledger.recordRestriction(released);
    expect(await ledger.getRestriction(receipt.requestId)).toEqual(released);
    expect(await ledger.getRestriction(randomUUID())).toBeUndefined();
    expect(await ledger.hasRestriction(key)).toBe(true);
    expect(await ledger.hasRestriction(randomSubjectKey())).toBe(false);
  });

  it('re-keys a person: every row moves to the new key in one go, a row the new key has wins, links follow', async () => {
    const from = randomSubjectKey();
    const to = randomSubjectKey();
    const eventId = randomUUID();
    await ledger.appendConsentEvent({
      id: eventId,
      subjectKey: from,
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: '2026-01-01T09:00:00.000Z',
      recordedAt: '2026-01-01T09:00:01.000Z',
      source: 'cli',
      evidence: { policyVersion: 'p-1', channel: 'web' },
    });
    await ledger.recordTombstone({
      subjectKey: from,
      erasedAt: '2026-01-02T09:00:00.000Z',
      systems: ['google'],
      firstRequestId: 'r-1',
      lastRequestId: 'r-1',
    });
    await ledger.placeHold({
      subjectKey: from,
      reason: 'legal_claims',
      placedBy: 'cli:a',
      placedAt: '2026-01-03T09:00:00.000Z',
    });
    // The new key already has its own hold: it is kept, the old one dropped.
    await ledger.placeHold({
      subjectKey: to,
      reason: 'authority_order',
      placedBy: 'cli:b',
      placedAt: '2026-01-04T09:00:00.000Z',
    });

    const moved = await ledger.rekeySubject({
      from,
      to,
      requestId: 'rect-1',
      at: '2026-02-01T09:00:00.000Z',
    });
    expect(moved).toMatchObject({ consent_events: 1, tombstones: 1, tombstone_systems: 1, legal_holds: 0 });
    expect(await ledger.listConsentEvents(from)).toEqual([]);
    expect((await ledger.listConsentEvents(to)).map((e) => e.id)).toEqual([eventId]);
    expect(await ledger.getTombstone(from)).toBeUndefined();
    expect(await ledger.getTombstone(to)).toMatchObject({ systems: ['google'], firstRequestId: 'r-1' });
    expect(await ledger.getHold(from)).toBeUndefined();
    expect((await ledger.getHold(to))?.reason).toBe('authority_order');
    // The history is the person's: both holds go with them, the dropped one included.
    expect(moved).toMatchObject({ legal_hold_history: 1 });
    expect(await ledger.listHolds(from)).toEqual([]);
    expect((await ledger.listHolds(to)).map((h) => h.reason)).toEqual(['legal_claims', 'authority_order']);
    expect(await ledger.getSubjectLink(from)).toEqual({
      to,
      requestId: 'rect-1',
      linkedAt: '2026-02-01T09:00:00.000Z',
    });
    // Twice is harmless; a later change of address carries the earlier link along.
    expect(
      Object.values(
        await ledger.rekeySubject({ from, to, requestId: 'rect-1', at: '2026-02-01T09:00:00.000Z' }),
      ).every((n) => n === 0),
    ).toBe(true);
    const third = randomSubjectKey();
    await ledger.rekeySubject({ from: to, to: third, requestId: 'rect-2', at: '2026-03-01T09:00:00.000Z' });
    expect((await ledger.getSubjectLink(from))?.to).toBe(third);
    expect((await ledger.listConsentEvents(third)).map((e) => e.id)).toEqual([eventId]);
  });
});
