import { describe, expect, it } from 'vitest';
import { consentChangeRequestSchema, consentEvidenceSchema } from '../../domain/consent.js';
import { erasureRequestSchema } from '../../domain/erasure.js';
import { erasureReasonCodes, structuredReason } from '../../domain/free-text.js';

const now = new Date().toISOString();

describe('free text is structured', () => {
  it('keeps a documented reason code and its note, and maps the old default text to subject_request', () => {
    expect(structuredReason('objection', 'by phone')).toEqual({
      reason: 'objection',
      reasonNote: 'by phone',
    });
    expect(structuredReason('LEGAL_OBLIGATION', undefined)).toEqual({ reason: 'legal_obligation' });
    expect(structuredReason('data subject erasure request', undefined)).toEqual({
      reason: 'subject_request',
    });
    expect(structuredReason(undefined, undefined)).toEqual({ reason: 'subject_request' });
    expect(erasureReasonCodes).toContain('reappeared_after_erasure');
  });

  it('keeps other free text as code other, with the text as the note (scrubbed later by the hub client)', () => {
    expect(structuredReason('asked at the counter', 'ticket 12')).toEqual({
      reason: 'other',
      reasonNote: 'asked at the counter — ticket 12',
    });
  });

  it.each(['Fiona F. (fiona@example.net)', 'fiona@example.net', 'Fiona Fox'])(
    'refuses %j as requestedBy: an operator or system id holds no name or address',
    (requestedBy) => {
      const result = erasureRequestSchema.safeParse({
        email: 'a@example.com',
        requestedBy,
        requestedAt: now,
      });
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual(['requestedBy']);
      expect(result.error?.issues[0]?.message).toContain('operator or system id');
    },
  );

  it('accepts operator and system ids as requestedBy', () => {
    for (const requestedBy of ['cli:alice', 'api:3f2a9c1b', 'privacy-inbox#1234', 'reconciliation:run-1']) {
      expect(
        erasureRequestSchema.parse({ email: 'a@example.com', requestedBy, requestedAt: now }).requestedBy,
      ).toBe(requestedBy);
    }
  });

  it('refuses an unknown key inside evidence instead of dropping it, and free text in a reference field', () => {
    const unknown = consentEvidenceSchema.safeParse({ formId: 'contact', person: 'Fiona Fox' });
    expect(unknown.success).toBe(false);
    expect(unknown.error?.issues[0]?.code).toBe('unrecognized_keys');
    const prose = consentEvidenceSchema.safeParse({ formId: 'the form Fiona filled in' });
    expect(prose.success).toBe(false);
    expect(prose.error?.issues[0]?.path).toEqual(['formId']);
  });

  it("keeps the older `text` as the evidence's note", () => {
    expect(consentEvidenceSchema.parse({ policyVersion: '2024-05', text: 'I agree to news' })).toEqual({
      policyVersion: '2024-05',
      note: 'I agree to news',
    });
  });

  it('refuses a consent source that is prose or an address', () => {
    const change = {
      email: 'a@example.com',
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: now,
    };
    expect(consentChangeRequestSchema.safeParse({ ...change, source: 'form:contact' }).success).toBe(true);
    expect(
      consentChangeRequestSchema.safeParse({ ...change, source: 'Fiona (fiona@example.net)' }).success,
    ).toBe(false);
  });
});
