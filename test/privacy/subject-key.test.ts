import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { legacySubjectKeysFor, subjectKeyFor } from '../../privacy/subject-key.js';

const secret = 'a'.repeat(64);
/** What versions before the canonical form computed: the HMAC of the address as normalised then. */
const olderKey = (normalised: string) =>
  createHmac('sha256', secret).update(normalised, 'utf8').digest('hex');

describe('the subject key of a mailbox', () => {
  it('is one key for the IDN and the punycode form of a domain', () => {
    expect(subjectKeyFor('ada@xn--bcher-kva.example', secret)).toBe(
      subjectKeyFor('ada@bücher.example', secret),
    );
    expect(subjectKeyFor('用户@xn--fsqu00a.xn--4rr70v', secret)).toBe(
      subjectKeyFor('用户@例子.广告', secret),
    );
  });

  it('is one key with and without the root dot', () => {
    expect(subjectKeyFor('ada@example.com.', secret)).toBe(subjectKeyFor('ada@example.com', secret));
    expect(subjectKeyFor('Ada@XN--BCHER-KVA.example.', secret)).toBe(
      subjectKeyFor('ada@bücher.example', secret),
    );
  });

  it('keeps the key older versions gave the common spelling, so existing rows of most people need nothing', () => {
    expect(subjectKeyFor('Ada@Example.COM', secret)).toBe(olderKey('ada@example.com'));
    expect(subjectKeyFor('ada@bücher.example', secret)).toBe(olderKey('ada@bücher.example'));
  });

  it('lists the older keys of the other spellings, from any spelling, without the current key', () => {
    const expected = [
      olderKey('ada@xn--bcher-kva.example'),
      olderKey('ada@xn--bcher-kva.example.'),
      olderKey('ada@bücher.example.'),
    ].sort();
    expect(legacySubjectKeysFor('ada@bücher.example', secret).sort()).toEqual(expected);
    expect(legacySubjectKeysFor('ADA@xn--bcher-kva.example.', secret).sort()).toEqual(expected);
    expect(legacySubjectKeysFor('ada@example.com', secret)).toEqual([olderKey('ada@example.com.')]);
    expect(legacySubjectKeysFor('user@[192.0.2.1]', secret)).toEqual([]);
  });
});
