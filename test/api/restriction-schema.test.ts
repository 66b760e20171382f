import { describe, expect, it } from 'vitest';
import { erasureReceiptSchema } from '../../api/api-response-schemas.js';

const system = (status: string) => ({ status, records: [], attempts: 1 });
const restriction = (reason: string, placedAt: string, releasedAt: string) => ({
  hold: { reason, placedAt },
  restrictedAt: '2026-11-30T08:00:02.000Z',
  outcome: 'restricted',
  systems: {
    dynamics: system('restricted'),
    mailchimp: system('released_before_restriction'),
    google: system('not_applicable'),
  },
  released: { at: releasedAt, by: 'cli:legal', reason: 'resolved' },
});

describe('the API’s erasure receipt schema', () => {
  it('accepts a receipt whose restriction keeps an earlier hold’s restriction and a system released before restriction', () => {
    const receipt = {
      requestId: '3f0c4e38-2b9a-4c39-9a53-0f4b1c9e7d11',
      subjectKey: 'a'.repeat(64),
      reason: 'subject_request',
      requestedBy: 'cli:ops',
      requestedAt: '2026-11-30T08:00:00.000Z',
      completedAt: '2026-11-30T08:00:09.000Z',
      outcome: 'completed',
      systems: { dynamics: system('erased'), mailchimp: system('erased'), google: system('not_found') },
      restriction: {
        ...restriction('authority_order', '2026-11-30T08:00:05.000Z', '2026-11-30T08:00:07.000Z'),
        earlierRestrictions: [
          restriction('legal_claims', '2026-11-30T07:59:00.000Z', '2026-11-30T08:00:01.000Z'),
        ],
      },
    };
    const parsed = erasureReceiptSchema.parse(receipt);
    expect(parsed.restriction?.earlierRestrictions?.[0]?.hold.reason).toBe('legal_claims');
    expect(parsed.restriction?.systems.mailchimp.status).toBe('released_before_restriction');
    // Nested restrictions hold no further nesting: each earlier one is kept flat.
    const nested = structuredClone(receipt) as { restriction: { earlierRestrictions: object[] } };
    nested.restriction.earlierRestrictions = [
      { ...restriction('legal_claims', 'x', 'y'), earlierRestrictions: [] },
    ];
    expect(() => erasureReceiptSchema.parse(nested)).toThrow();
  });
});
