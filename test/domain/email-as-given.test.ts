import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalMailbox,
  emailAsGivenSchema,
  mailboxAsGiven,
  normaliseEmail,
  parseEmailAsGiven,
} from '../../domain/email.js';
import { rectificationRequestSchema } from '../../domain/rectification.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';

const secret = randomBytes(32).toString('hex');
const spellings = [
  'Zoë@example.com',
  ' Zoë.Müller@Example.COM ',
  'Ze\u0301ro@Example.com',
  'John.DOE+Tag@Sub.Example.CO.uk',
  '"John Doe"@Example.com',
  'İstanbul@Example.com',
  'ÅSA@BÜCHER.example',
  'Ada@xn--bcher-kva.example',
  'Trailing.Dot@Example.COM.',
  'USER@[192.0.2.1]',
  'a..B@example.jp',
];

describe('an address as written (a rectification’s new address, written to vendors)', () => {
  it('keeps the local part’s case (RFC 5321 §2.4) and lower-cases the domain, trimmed and NFC', () => {
    expect(mailboxAsGiven(' Zoë@Example.COM ')).toBe('Zoë@example.com');
    expect(mailboxAsGiven('Ze\u0301ro@example.com')).toBe('Zéro@example.com');
    expect(emailAsGivenSchema.parse('John.DOE+Tag@Sub.Example.CO.uk')).toBe('John.DOE+Tag@sub.example.co.uk');
  });

  it('matches and keys exactly as the lower-cased address: the subject keys of existing people do not change', () => {
    for (const raw of spellings) {
      const given = mailboxAsGiven(raw);
      expect(normaliseEmail(given), raw).toBe(normaliseEmail(raw));
      expect(canonicalMailbox(given), raw).toBe(canonicalMailbox(raw));
      expect(subjectKeyFor(given, secret), raw).toBe(subjectKeyFor(raw, secret));
      expect(subjectKeyFor(given, secret), raw).toBe(subjectKeyFor(raw.toLowerCase(), secret));
    }
  });

  it('is accepted and refused exactly as the normalising parser does, and parsing its output again changes nothing', () => {
    for (const raw of [...spellings, 'no-at-sign', 'a@b', '@example.com', '..@example.com']) {
      const given = parseEmailAsGiven(raw);
      const parsed = emailAsGivenSchema.safeParse(raw);
      expect(parsed.success, raw).toBe(given.ok);
      if (parsed.success) expect(emailAsGivenSchema.parse(parsed.data), raw).toBe(parsed.data);
      else expect(parsed.error.issues[0]?.message).not.toContain(raw);
    }
  });

  it('a rectification keeps the new address as written and the current one normalised', () => {
    const request = rectificationRequestSchema.parse({
      email: 'Old.Address@Example.com',
      set: { email: 'Zoë.New@Example.com' },
      requestedBy: 'cli:alice',
      requestedAt: '2026-06-01T10:00:00Z',
    });
    expect(request.email).toBe('old.address@example.com');
    expect(request.set.email).toBe('Zoë.New@example.com');
    // The API parses its body, then the hub client parses that again: the second parse keeps it.
    expect(rectificationRequestSchema.parse(request).set.email).toBe('Zoë.New@example.com');
  });
});
