import { describe, expect, it } from 'vitest';
import { type PersonRecords, personRequestRows } from '../../console/person-requests.js';
import type { RequestListing } from '../../domain/request-deadline.js';

const subjectKey = 'a'.repeat(64);
const id = (n: number) => `00000000-0000-4000-8000-00000000000${n}`;
const deadline = (
  n: number,
  kind: RequestListing['kind'],
  receivedAt: string,
  state = 'completed',
): RequestListing => ({
  requestId: id(n),
  kind,
  subjectKey,
  receivedAt,
  dueAt: receivedAt.replace('2026-01', '2026-02'),
  extendedMonths: 0,
  ...(state === 'completed' ? { completedAt: receivedAt } : {}),
  state,
  overdue: false,
});
const none: PersonRecords = {
  deadlines: [],
  erasures: [],
  consentEvents: [],
  erasureReceipts: [],
  restrictions: [],
  access: {},
  rectifications: [],
};
const systems = {} as never;

describe('the person page lists every kind of request about the person, newest first, with its links', () => {
  it('lists erasures with receipt and restriction, access with downloads while fetchable, rectifications with receipt, consent changes and the hold', () => {
    const rows = personRequestRows({
      ...none,
      deadlines: [
        deadline(1, 'erasure', '2026-01-01T10:00:00.000Z'),
        deadline(2, 'access', '2026-01-02T10:00:00.000Z', 'running'),
        deadline(3, 'access', '2026-01-03T10:00:00.000Z'),
        deadline(4, 'rectification', '2026-01-04T10:00:00.000Z'),
        deadline(5, 'consent', '2026-01-05T10:00:00.000Z'),
      ],
      erasureReceipts: [{ requestId: id(1), outcome: 'completed' } as never],
      restrictions: [
        {
          requestId: id(1),
          subjectKey,
          hold: { reason: 'legal_claims', placedAt: '2025-12-01T00:00:00.000Z' },
          restrictedAt: '2026-01-01T10:01:00.000Z',
          outcome: 'restricted',
          systems,
          released: { at: '2026-01-06T00:00:00.000Z', by: 'console:abc', reason: 'resolved' },
        },
      ],
      access: {
        [id(2)]: {
          requestId: id(2),
          subjectKey,
          status: 'ready',
          requestedAt: '',
          requestedBy: '',
          systems,
          expiresAt: '2026-02-01T00:00:00.000Z',
        },
        [id(3)]: {
          requestId: id(3),
          subjectKey,
          kind: 'access',
          outcome: 'completed',
          completedAt: '2026-01-20T00:00:00.000Z',
          status: 'expired',
          requestedAt: '',
          requestedBy: '',
          systems,
          deletedAt: '2026-01-20T00:00:00.000Z',
        },
      },
      rectifications: [{ requestId: id(4), outcome: 'completed', fields: ['lastname'] } as never],
      consentEvents: [
        {
          id: id(5),
          subjectKey,
          purpose: 'marketing_email',
          decision: 'withdrawn',
          occurredAt: '2026-01-05T09:00:00.000Z',
          recordedAt: '2026-01-05T10:00:00.000Z',
          source: 'console:abc',
          evidence: {},
        },
        {
          // From a webhook: no deadline of its own, listed all the same.
          id: id(6),
          subjectKey,
          purpose: 'phone',
          decision: 'withdrawn',
          occurredAt: '2026-01-07T09:00:00.000Z',
          recordedAt: '2026-01-07T09:00:00.000Z',
          source: 'mailchimp',
          evidence: {},
        },
      ],
      hold: {
        subjectKey,
        reason: 'legal_claims',
        placedBy: 'console:abc',
        placedAt: '2025-12-01T00:00:00.000Z',
        releasedAt: '2026-01-06T00:00:00.000Z',
        releasedBy: 'console:def',
        releaseReason: 'resolved',
      },
    });
    const summary = rows.map((row) => [row.kind, row.state, row.links.map((link) => link.text).join('|')]);
    expect(summary).toEqual([
      ['consent change', 'recorded', 'Request page'],
      ['hold released', 'released', 'Legal hold'],
      ['consent change', 'completed', 'Request page'],
      ['rectification', 'completed', 'Request page|Receipt'],
      ['access', 'completed', 'Request page'],
      ['access', 'ready', 'Request page|Download JSON|Download HTML'],
      ['erasure', 'completed', 'Request page|Receipt'],
      ['legal hold', 'released', 'Legal hold'],
    ]);
    const erasure = rows.find((row) => row.kind === 'erasure');
    expect(erasure?.detail).toMatch(/^restricted during a hold \(legal claims\), deleted after its release/);
    expect(rows.find((row) => row.requestId === id(2))?.links[1]).toEqual({
      href: `/console/requests/${id(2)}/export?format=json`,
      text: 'Download JSON',
      download: true,
    });
    expect(rows.find((row) => row.requestId === id(3))?.detail).toBe(
      'export deleted 2026-01-20T00:00:00.000Z',
    );
    expect(rows.find((row) => row.requestId === id(4))?.detail).toBe('changed lastname');
    expect(rows.find((row) => row.requestId === id(5))?.detail).toBe('marketing email withdrawn');
  });

  it('lists an erasure Temporal knows but the ledger has no deadline for once, and a request known to both once', () => {
    const erasure = { subjectKey, attention: [], startedAt: '2025-06-01T00:00:00.000Z' };
    const rows = personRequestRows({
      ...none,
      deadlines: [deadline(1, 'erasure', '2026-01-01T10:00:00.000Z', 'on_hold')],
      erasures: [
        { ...erasure, requestId: id(1), status: 'on_hold' },
        { ...erasure, requestId: id(9), status: 'completed', outcome: 'completed_with_failures' },
      ],
    });
    expect(rows.map((row) => [row.requestId, row.state])).toEqual([
      [id(1), 'on_hold'],
      [id(9), 'completed_with_failures'],
    ]);
  });
});

describe('the person page lists every hold the person had', () => {
  it('shows a released hold and the hold placed after it, neither of which met an erasure', () => {
    const first = {
      subjectKey,
      reason: 'legal_claims' as const,
      placedBy: 'cli:alice',
      placedAt: '2026-02-01T09:00:00.000Z',
      releasedAt: '2026-02-01T09:00:01.000Z',
      releasedBy: 'cli:bob',
      releaseReason: 'placed_in_error' as const,
    };
    const second = {
      subjectKey,
      reason: 'authority_order' as const,
      placedBy: 'cli:carol',
      placedAt: '2026-02-01T09:00:02.000Z',
    };
    const rows = personRequestRows({ ...none, hold: second, holds: [first, second] });
    expect(rows.map((row) => [row.kind, row.state, row.at, row.detail])).toEqual([
      ['legal hold', 'on_hold', second.placedAt, 'placed by cli:carol (authority order)'],
      ['hold released', 'released', first.releasedAt, 'by cli:bob (placed in error)'],
      ['legal hold', 'released', first.placedAt, 'placed by cli:alice (legal claims)'],
    ]);
  });
});
