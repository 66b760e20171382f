import { afterEach, describe, expect, it, vi } from 'vitest';
import { printMovedRecords, printRestriction, systemLine } from '../../cli/erasure-output.js';
import { rectificationSystemLine } from '../../cli/rectification-output.js';
import type { ErasureRestriction } from '../../domain/erasure.js';

const printed = () => {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
};

afterEach(() => {
  vi.restoreAllMocks();
});

/** A hold that reached an erasure after it had deleted the contact and while the lead's delete was retried. */
const heldDuringRun: ErasureRestriction = {
  hold: { reason: 'legal_claims', placedAt: '2026-11-30T06:21:34.290Z' },
  systems: {
    dynamics: {
      status: 'restricted',
      records: [{ kind: 'lead', id: 'lead-2', result: 'restricted', actions: ['donotemail', 'statecode'] }],
      attempts: 1,
      recordCount: 1,
    },
    mailchimp: { status: 'erased_before_hold', records: [], attempts: 0, note: 'ended before the hold' },
    google: { status: 'erased_before_hold', records: [], attempts: 0, note: 'ended before the hold' },
  },
  arrivedDuringErasure: {
    noticedAt: '2026-11-30T06:21:34.816Z',
    deletedBefore: {
      dynamics: {
        recordCount: 1,
        records: [{ kind: 'contact', id: 'contact-1', result: 'deleted', auditHistoryRemoved: true }],
        recordsTruncated: false,
      },
    },
  },
  restrictedAt: '2026-11-30T06:22:06.946Z',
  outcome: 'restricted',
};

describe('the text receipt of an erasure a hold stopped while it ran', () => {
  it('lists what each system had deleted before the hold reached it, beside what was restricted', () => {
    const lines = printed();
    printRestriction(heldDuringRun);
    const text = lines.join('');
    expect(text).toContain(
      'hold reached the running erasure at 2026-11-30T06:21:34.816Z; deleted before it:',
    );
    expect(text).toMatch(/dynamics\s+1\s+contact contact-1 \(deleted\)/);
    expect(text).toMatch(/dynamics\s+restricted\s+lead lead-2: restricted/);
  });

  it('says how many were deleted when the receipt lists only the first of them', () => {
    const lines = printed();
    printRestriction({
      ...heldDuringRun,
      arrivedDuringErasure: {
        noticedAt: '2026-11-30T06:21:34.816Z',
        deletedBefore: {
          mailchimp: {
            recordCount: 3,
            records: [{ kind: 'member', id: 'm-1', container: 'list1', result: 'deleted' }],
            recordsTruncated: true,
          },
        },
      },
    });
    expect(lines.join('')).toMatch(/mailchimp\s+3\s+member m-1 in list1 \(deleted\) \(first 1 of 3\)/);
  });

  it('prints no such section for a person already on hold when the erasure began', () => {
    const lines = printed();
    const { arrivedDuringErasure: _, ...heldFromStart } = heldDuringRun;
    printRestriction(heldFromStart);
    expect(lines.join('')).not.toContain('deleted before it');
  });
});

/**
 * Mailchimp's member id is the MD5 of the address, the same in every audience: a person in two audiences has
 * two records with one id, and only the audience tells the lines apart.
 */
describe('the text of a request that touched one person in two Mailchimp audiences', () => {
  const twoAudiences = [
    { kind: 'member', id: 'm-1', container: 'list-a' },
    { kind: 'member', id: 'm-1', container: 'list-b' },
  ];

  it('names the audience of each restricted member', () => {
    const lines = printed();
    printRestriction({
      ...heldDuringRun,
      systems: {
        ...heldDuringRun.systems,
        mailchimp: {
          status: 'restricted',
          records: twoAudiences.map((r) => ({
            ...r,
            result: 'restricted' as const,
            actions: ['status:unsubscribed'],
          })),
          attempts: 1,
        },
      },
    });
    expect(lines.join('')).toContain(
      'member m-1 in list-a: restricted (status:unsubscribed); member m-1 in list-b: restricted (status:unsubscribed)',
    );
  });

  it('names the audience of each rectified member', () => {
    const line = rectificationSystemLine('mailchimp', {
      status: 'rectified',
      attempts: 1,
      records: twoAudiences.map((r) => ({
        ...r,
        result: 'rectified' as const,
        changed: [{ field: 'email_address', beforeHash: 'hmac:00' }],
      })),
    });
    expect(line).toContain(
      'member m-1 in list-a: rectified (email_address); member m-1 in list-b: rectified (email_address)',
    );
  });

  it('names the audience of each erased member', () => {
    const line = systemLine('mailchimp', {
      status: 'erased',
      attempts: 1,
      records: twoAudiences.map((r) => ({ ...r, result: 'deleted' as const })),
    } as Parameters<typeof systemLine>[1]);
    expect(line).toContain('member m-1 in list-a, member m-1 in list-b');
  });
});

describe('the text line of records a half-done rectification moved', () => {
  const moved = {
    subjectKey: 'b'.repeat(64),
    rectificationRequestId: 'rect-1',
    systems: ['dynamics' as const],
    erasureRequestId: 'erasure-2',
  };

  it('names the other erasure as its own request with how it stands now, not as done', () => {
    const lines = printed();
    printMovedRecords(moved, 'needs_attention');
    const text = lines.join('');
    expect(text).toContain('erased by its own erasure erasure-2 (now: needs_attention)');
    expect(text).toContain('consent-hub receipt erasure-2');
  });

  it('says why nothing was erased there when no erasure was started', () => {
    const lines = printed();
    const { erasureRequestId: _none, ...notStarted } = moved;
    printMovedRecords({ ...notStarted, note: 'the person is on legal hold' });
    expect(lines.join('')).toMatch(/records moved by rectification rect-1 .*: the person is on legal hold/);
  });
});
