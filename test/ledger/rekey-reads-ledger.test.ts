import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { followSubjectLinks, rekeysInto, requestedUnderOf } from '../../hub-client/subject-links.js';
import type { Ledger } from '../../ledger/ledger.js';
import { canonicalKeyLink } from '../../privacy/subject-key.js';
import { randomSubjectKey } from '../support/random-subject-key.js';
import { ledgerBackends, withFreshLedger } from './backends.js';

/**
 * Issue 18: the reads an erasure, a hold or `history` makes to follow a person's re-keys (links old -> new ->
 * newer, the links into a key) and to find the other address of a half-done rectification (its moves).
 */
describe.each(ledgerBackends)('re-key reads of the ledger on $name', (backend) => {
  let ledger: Ledger;
  withFreshLedger(backend, (fresh) => {
    ledger = fresh;
  });

  it('follows old -> new -> newer hop by hop, though the second re-key points the first link at the newest key', async () => {
    const [old, mid, newest] = [randomSubjectKey(), randomSubjectKey(), randomSubjectKey()];
    // As the workflow does: each rectification keeps its receipt (under its new key) before the next re-keys.
    const receiptOf = (requestId: string, from: string, to: string, at: string) =>
      ledger.recordRectification({
        requestId,
        subjectKey: from,
        requestedBy: 'test',
        requestedAt: at,
        completedAt: at,
        fields: ['email'],
        outcome: 'completed',
        systems: {
          dynamics: { status: 'rectified', records: [], attempts: 1 },
          mailchimp: { status: 'rectified', records: [], attempts: 1 },
          google: { status: 'not_applicable', records: [], attempts: 1 },
        },
        rekeyed: { from, to, at, moved: {} },
      });
    await ledger.rekeySubject({ from: old, to: mid, requestId: 'rect-a', at: '2026-02-01T09:00:00.000Z' });
    await receiptOf('rect-a', old, mid, '2026-02-01T09:00:00.000Z');
    await ledger.rekeySubject({ from: mid, to: newest, requestId: 'rect-b', at: '2026-03-01T09:00:00.000Z' });
    expect((await ledger.getSubjectLink(old))?.to).toBe(newest);
    // Without rect-b's receipt, its hop is the link's own; rect-a's receipt names the hop old -> mid.
    expect((await followSubjectLinks(ledger, old)).hops.map((h) => `${h.from}>${h.to}`)).toEqual([
      `${old}>${mid}`,
      `${mid}>${newest}`,
    ]);
    await receiptOf('rect-b', mid, newest, '2026-03-01T09:00:00.000Z');
    const followed = await followSubjectLinks(ledger, old);
    expect(followed).toMatchObject({ requestedKey: old, subjectKey: newest });
    expect(followed.hops.map((h) => [h.from, h.to, h.requestId])).toEqual([
      [old, mid, 'rect-a'],
      [mid, newest, 'rect-b'],
    ]);
    expect((await followSubjectLinks(ledger, newest)).hops).toEqual([]);
    expect(await rekeysInto(ledger, newest)).toEqual([
      { from: old, to: mid, rectificationRequestId: 'rect-a', at: '2026-02-01T09:00:00.000Z' },
      { from: mid, to: newest, rectificationRequestId: 'rect-b', at: '2026-03-01T09:00:00.000Z' },
    ]);
  });

  it('stops following a link once its old key has records of its own since the re-key (an address taken again), and says which link', async () => {
    const [given, now] = [randomSubjectKey(), randomSubjectKey()];
    const linkedAt = '2026-02-01T09:00:00.000Z';
    await ledger.rekeySubject({ from: given, to: now, requestId: 'rect-r', at: linkedAt });
    // A replayed API answer saved under the old key is a cache, not a new owner: still followed.
    await ledger.saveIdempotentResponse({
      key: 'api:replay-1',
      requestHash: 'h',
      subjectKey: given,
      status: 202,
      body: {},
      createdAt: '2026-02-02T09:00:00.000Z',
    });
    expect(await ledger.subjectKeyRecordedSince(given, linkedAt)).toBe(false);
    expect(await followSubjectLinks(ledger, given)).toMatchObject({ subjectKey: now, hops: [{ to: now }] });
    await ledger.appendConsentEvent({
      id: randomUUID(),
      subjectKey: given,
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: '2026-02-03T09:00:00.000Z',
      recordedAt: '2026-02-03T09:00:01.000Z',
      source: 'mailchimp:subscribe',
      evidence: { channel: 'web' },
    });
    expect(await ledger.subjectKeyRecordedSince(given, linkedAt)).toBe(true);
    const followed = await followSubjectLinks(ledger, given);
    expect(followed).toEqual({
      requestedKey: given,
      subjectKey: given,
      hops: [],
      notFollowed: { from: given, to: now, requestId: 'rect-r', linkedAt },
    });
    expect(requestedUnderOf(followed)).toEqual({
      subjectKey: given,
      rekeys: [],
      notFollowed: { from: given, to: now, rectificationRequestId: 'rect-r', at: linkedAt },
    });
    // The person who moved away is still found by their address now, with no re-key to tell.
    expect(await followSubjectLinks(ledger, now)).toEqual({ requestedKey: now, subjectKey: now, hops: [] });
  });

  it('stops at a person who took their old address back, and does not follow a legacy spelling’s link', async () => {
    const [a, b] = [randomSubjectKey(), randomSubjectKey()];
    await ledger.rekeySubject({ from: a, to: b, requestId: 'rect-c', at: '2026-02-01T09:00:00.000Z' });
    await ledger.rekeySubject({ from: b, to: a, requestId: 'rect-d', at: '2026-03-01T09:00:00.000Z' });
    expect((await followSubjectLinks(ledger, a)).subjectKey).toBe(a);
    expect((await followSubjectLinks(ledger, b)).subjectKey).toBe(a);
    const [legacy, canonical] = [randomSubjectKey(), randomSubjectKey()];
    await ledger.rekeySubject({
      from: legacy,
      to: canonical,
      requestId: canonicalKeyLink,
      at: '2026-02-01T09:00:00.000Z',
    });
    expect((await followSubjectLinks(ledger, legacy)).hops).toEqual([]);
    expect(await rekeysInto(ledger, canonical)).toEqual([]);
  });

  it('lists the rectifications that moved records from or to a key, with their systems, once each', async () => {
    const [from, to, other] = [randomSubjectKey(), randomSubjectKey(), randomSubjectKey()];
    const at = '2026-02-01T09:00:00.000Z';
    await ledger.recordRectificationMoves({
      subjectKey: from,
      newSubjectKey: to,
      system: 'dynamics',
      recordKeys: ['k1', 'k2'],
      requestId: 'rect-e',
      at,
    });
    await ledger.recordRectificationMoves({
      subjectKey: from,
      newSubjectKey: to,
      system: 'mailchimp',
      recordKeys: ['k3'],
      requestId: 'rect-e',
      at,
    });
    await ledger.recordRectificationMoves({
      subjectKey: other,
      newSubjectKey: randomSubjectKey(),
      system: 'dynamics',
      recordKeys: ['k4'],
      requestId: 'rect-f',
      at,
    });
    const expected = [
      { subjectKey: from, newSubjectKey: to, requestId: 'rect-e', systems: ['dynamics', 'mailchimp'] },
    ];
    expect(await ledger.listRectificationMovePairs(from)).toEqual(expected);
    expect(await ledger.listRectificationMovePairs(to)).toEqual(expected);
    expect(await ledger.listRectificationMovePairs(randomSubjectKey())).toEqual([]);
  });
});
