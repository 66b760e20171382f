import { describe, expect, it } from 'vitest';
import { consentEventBodySchema, erasureBodySchema, subjectStatusBodySchema } from '../../api/api-schemas.js';
import { mailchimpWebhookSchema } from '../../api/mailchimp-webhook-event.js';
import { consentChangeRequestSchema } from '../../domain/consent.js';
import { canonicalMailbox, emailSchema, mailboxSpellings, parseEmail } from '../../domain/email.js';
import { erasureRequestSchema } from '../../domain/erasure.js';

/** Addresses RFC 5321 (and RFC 6531 for UTF-8) allow, which vendors hold and zod's email rule refused. */
const vendorHeld = [
  'lemmy&phil@example.com',
  "mary.o'brien@example.ie",
  'user+tag@sub.example.co.uk',
  '"john doe"@example.com',
  'Pelé@example.com',
  '用户@例子.广告',
  'тест@пример.рф',
  'info@bücher.de',
  'x{y}|z~!#$%*=?^`@example.org',
  'user@[192.0.2.1]',
  // An absolute domain name (the root's trailing dot): CRMs hold addresses as typed, and it is the same mailbox.
  'Trailing.Dot@Example.COM.',
  // Stray dots in the local part: Japanese carriers issued such addresses; CRMs and Mailchimp hold them.
  'a.@docomo.ne.jp',
  'a..b@example.jp',
  '.a@example.jp',
  'taro..yamada.@ezweb.ne.jp',
  'a..b@example.com',
  // A one-character or numeric last label: RFC 5321's sub-domain allows it, whatever DNS delegates today.
  'x@y.z',
  'a@x.y.z',
  'ops@192.0.2.1',
];

/** What cannot be an address at all. */
const notAddresses: [string, RegExp][] = [
  ['', /empty/],
  ['   ', /empty/],
  ['not-an-address', /has no @/],
  ['@example.com', /nothing before/],
  ['person@', /nothing after/],
  ['.@example.jp', /only dots before the @/],
  ['...@docomo.ne.jp', /only dots before the @/],
  ['person@example.com..', /RFC 5321/],
  ['person@.', /RFC 5321/],
  ['person@[192.0.2.1].', /RFC 5321/],
  ['person@example', /fully qualified/],
  ['two@@example.com', /RFC 5321/],
  ['spaces in@example.com', /RFC 5321/],
  [`${'a'.repeat(250)}@example.com`, /longer than 254/],
];

describe('the one address parser', () => {
  it.each(vendorHeld)('accepts %s and answers it normalised', (address) => {
    const parsed = parseEmail(`  ${address} `);
    expect(parsed).toEqual({ ok: true, email: address.normalize('NFC').toLowerCase() });
  });

  it.each(notAddresses)('refuses %j with a reason that does not repeat it', (address, reason) => {
    const parsed = parseEmail(address);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.reason).toMatch(reason);
    if (address.trim()) expect(parsed.reason).not.toContain(address.trim().slice(0, 5));
  });

  it('normalises case and Unicode composition so one person has one form', () => {
    const decomposed = 'Pele\u0301@Example.COM';
    expect(emailSchema.parse(decomposed)).toBe('pel\u00e9@example.com');
  });

  it('names what is wrong in the schema message, never the input', () => {
    const result = emailSchema.safeParse('secret.person@nowhere');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(
      'not a valid email address: has a domain that is not fully qualified (it needs a dot)',
    );
    expect(JSON.stringify(result.error?.issues)).not.toContain('secret.person');
  });
});

describe('every boundary takes the addresses vendors hold', () => {
  const now = new Date().toISOString();
  const boundaries: [string, (email: string) => unknown][] = [
    [
      'CLI erase (erasureRequestSchema)',
      (email) => erasureRequestSchema.parse({ email, requestedBy: 'cli:t', requestedAt: now }).email,
    ],
    ['API POST /v1/erasures', (email) => erasureBodySchema.parse({ email }).email],
    ['API POST /v1/subjects/status', (email) => subjectStatusBodySchema.parse({ email }).email],
    [
      'API POST /v1/consent-events and CLI consent',
      (email) =>
        consentEventBodySchema.parse({
          email,
          purpose: 'marketing_email',
          decision: 'withdrawn',
          occurredAt: now,
          source: 'form:contact',
          evidence: { channel: 'web' },
        }).email,
    ],
    [
      'consent change request',
      (email) =>
        consentChangeRequestSchema.parse({
          email,
          purpose: 'marketing_email',
          decision: 'withdrawn',
          occurredAt: now,
          source: 'reconciliation:dynamics',
          evidence: {},
        }).email,
    ],
    [
      'Mailchimp webhook',
      (email) =>
        mailchimpWebhookSchema.parse({
          type: 'unsubscribe',
          fired_at: '2026-11-26 10:00:00',
          'data[email]': email,
        })['data[email]'],
    ],
  ];
  for (const [where, accept] of boundaries) {
    it(`${where} accepts lemmy&phil@example.com and an internationalised address`, () => {
      expect(accept('lemmy&phil@example.com')).toBe('lemmy&phil@example.com');
      expect(accept('用户@例子.广告')).toBe('用户@例子.广告');
      expect(accept('Taro..Yamada.@docomo.ne.jp')).toBe('taro..yamada.@docomo.ne.jp');
      expect(() => accept('..@docomo.ne.jp')).toThrow(
        /not a valid email address: has only dots before the @/,
      );
      expect(() => accept('not-an-address')).toThrow(/not a valid email address: has no @/);
    });
  }
});

describe('one canonical form per mailbox, for the subject key', () => {
  it.each([
    ['ada@bücher.example', 'ada@bücher.example'],
    ['ada@xn--bcher-kva.example', 'ada@bücher.example'],
    ['Ada@XN--BCHER-KVA.Example.', 'ada@bücher.example'],
    ['ada@example.com.', 'ada@example.com'],
    ['ada@example.com', 'ada@example.com'],
    ['用户@xn--fsqu00a.xn--4rr70v', '用户@例子.广告'],
    ['a..b@example.jp.', 'a..b@example.jp'],
    ['user@[192.0.2.1]', 'user@[192.0.2.1]'],
  ])('reads %s as %s', (address, canonical) => {
    expect(canonicalMailbox(address)).toBe(canonical);
  });

  it('lists the spellings older versions keyed apart: Unicode or ASCII domain, with or without the root dot', () => {
    expect(mailboxSpellings('ada@xn--bcher-kva.example').sort()).toEqual(
      [
        'ada@bücher.example',
        'ada@bücher.example.',
        'ada@xn--bcher-kva.example',
        'ada@xn--bcher-kva.example.',
      ].sort(),
    );
    expect(mailboxSpellings('ada@example.com.').sort()).toEqual(['ada@example.com', 'ada@example.com.']);
    expect(mailboxSpellings('user@[192.0.2.1]')).toEqual(['user@[192.0.2.1]']);
  });

  it('leaves the address a vendor holds as it is: the parser never rewrites it to the canonical form', () => {
    expect(parseEmail('ada@xn--bcher-kva.example.')).toEqual({
      ok: true,
      email: 'ada@xn--bcher-kva.example.',
    });
  });
});
