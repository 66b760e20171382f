import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { redactText } from '../../domain/text-redaction.js';
import { plainDigestsOf, redactSubject, scrubAddresses } from '../../privacy/redaction.js';

const email = "mary.o'brien@example.com";
const md5 = createHash('md5').update(email).digest('hex');
const sha256 = createHash('sha256').update(email).digest('hex');

describe('redactSubject: the subject in every encoding, then any address', () => {
  it("removes Mailchimp's Forgotten Email Not Subscribed repro whole, leaving no part of the local part", () => {
    const text = `Mailchimp answered 400 Forgotten Email Not Subscribed: ${email} was permanently deleted and cannot be re-imported.`;
    const redacted = redactSubject(text, { email });
    expect(redacted).toBe(
      'Mailchimp answered 400 Forgotten Email Not Subscribed: [email] was permanently deleted and cannot be re-imported.',
    );
    expect(redacted).not.toContain("o'");
  });

  it.each([
    ['upper case', "MARY.O'BRIEN@EXAMPLE.COM"],
    ['percent-encoded', "mary.o'brien%40example.com"],
    ['fully percent-encoded', encodeURIComponent(email)],
    ['percent-encoded apostrophe', 'mary.o%27brien%40example.com'],
    ['quoted local part', `"mary.o'brien"@example.com`],
    ['JSON-escaped @', "mary.o'brien\\u0040example.com"],
    ['HTML entity @', 'mary.o&#39;brien@example.com'],
    ['backslash-escaped apostrophe', "mary.o\\'brien@example.com"],
  ])('removes the address written %s', (_form, written) => {
    const redacted = redactSubject(`member ${written} is in compliance state`, { email });
    expect(redacted).toBe('member [email] is in compliance state');
  });

  it('removes the MD5 and SHA-256 of the address, given identifiers and the name as whole words', () => {
    const text = `hash ${md5} digest ${sha256.toUpperCase()} ga 1234.5678 dear Mary O'Brien, Maryland stays`;
    const redacted = redactSubject(text, { email, identifiers: ['1234.5678'], names: ["Mary O'Brien"] });
    expect(redacted).toBe(
      'hash [identifier] digest [identifier] ga [identifier] dear [name], Maryland stays',
    );
    expect(plainDigestsOf(` ${email.toUpperCase()} `)).toEqual([md5, sha256]);
  });

  it('removes other addresses too, found by a parser that follows address syntax', () => {
    const text =
      'cc bob.smith+news@sub.example.co.uk, "odd one"@example.org; <o\'hara@example.ie> and carol%40example.net';
    expect(scrubAddresses(text)).toBe('cc [email], [email]; <[email]> and [email]');
  });

  it('removes a name that follows a percent or \\u escape, as URLs and JSON in vendor errors write it', () => {
    const subject = { names: ['Katherine Johnson', 'Alan Turing'] };
    expect(redactText('/contacts?$filter=fullname%20eq%20%27Katherine%20Johnson%27', subject)).toBe(
      '/contacts?$filter=fullname%20eq%20%27[name]%27',
    );
    // Surname first after an encoded comma is the whole name too.
    expect(redactText('name=Alan%20Turing; Turing%2C%20Alan', subject)).toBe('name=[name]; [name]');
    expect(redactText('{"who":"\\u0027Alan\\u0027"}', subject)).toBe('{"who":"\\u0027[name]\\u0027"}');
    // Still whole words: a longer word, or a name glued to a plain digit, is not the name.
    expect(redactText('Alanis met Katherines at 7Alan', subject)).toBe('Alanis met Katherines at 7Alan');
  });

  it('removes a name however its diacritics were typed: composed, decomposed or left out', () => {
    const subject = { names: ['Zoë', 'Müller-Lüdenscheidt', 'Søren'] };
    expect(redactText('Zoë MÜLLER-LÜDENSCHEIDT wrote', subject)).toBe('[name] [name] wrote');
    expect(redactText('Zoe\u0308 Mu\u0308ller-Lu\u0308denscheidt (decomposed)', subject)).toBe(
      '[name] [name] (decomposed)',
    );
    expect(redactText('zoe muller-ludenscheidt and SOREN, not Zoey', subject)).toBe(
      '[name] [name] and [name], not Zoey',
    );
  });

  it("removes an address a mail client wrapped after its @, the subject's and anyone else's", () => {
    const subject = { email: 'fiona.fairweather@example.net' };
    expect(redactText('from fiona.fairweather@\nexample.net, cc john.smith@\r\n  example.org', subject)).toBe(
      'from [email], cc [email]',
    );
  });

  it('removes a GA client id it was not given, alone or in a _ga cookie, and leaves other numbers', () => {
    const text =
      'Contact locked (cookie GA1.1.8642086420.1122334455, client 123456.1600000000, _ga=GA1.2.987654321.1700000000)';
    expect(redactText(text)).toBe(
      'Contact locked (cookie GA1.1.[identifier], client [identifier], _ga=GA1.2.[identifier])',
    );
    expect(redactSubject(text, {})).not.toMatch(/\d{5,}\.\d{10}/);
    for (const kept of [
      'version 1.29.1',
      'took 1234.5 ms',
      'row 12345678901234',
      '1.2.3.4',
      'ticket 12345.1700000000',
    ]) {
      expect(redactText(kept)).toBe(kept);
    }
  });

  it('leaves text without addresses exactly as it was', () => {
    for (const text of ['HTTP 404 Resource Not Found', 'retry after 5% of 40 s', '@mention and a@b', '']) {
      expect(scrubAddresses(text)).toBe(text);
      expect(redactSubject(text, {})).toBe(text);
    }
  });
});
