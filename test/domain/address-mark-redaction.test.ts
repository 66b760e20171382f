import { describe, expect, it } from 'vitest';
import { decodeAddressMarks, redactText, scrubAddresses } from '../../domain/text-redaction.js';

const email = 'sob.x@example.net';

/** Every way a breaker wrote the `@` or `.` of an address that was left in clear (issue 16). */
const writtenForms: [string, string][] = [
  ['hex reference @', 'sob.x&#x40;example.net'],
  ['hex reference @ with a capital X', 'sob.x&#X40;example.net'],
  ['hex reference @ with leading zeros', 'sob.x&#x0040;example.net'],
  ['decimal reference @ with a leading zero', 'sob.x&#0064;example.net'],
  ['decimal reference @', 'sob.x&#64;example.net'],
  ['@ percent-encoded twice', 'sob.x%2540example.net'],
  ['@ percent-encoded three times', 'sob.x%252540example.net'],
  ['decimal reference dots', 'sob&#46;x@example&#46;net'],
  ['hex reference dots', 'sob&#x2E;x@example&#x2e;net'],
  ['percent-encoded dots and @', 'sob%2ex%40example%2Enet'],
  ['full-width @', 'sob.x＠example.net'],
  ['small commercial at', 'sob.x﹫example.net'],
  ['full-width dot and @', 'sob．x＠example．net'],
  ['named reference @ in capitals', 'sob.x&COMMAT;example.net'],
  ['hex reference of full-width @', 'sob.x&#xFF20;example.net'],
  ['UTF-8 percent-encoded full-width @', 'sob.x%EF%BC%A0example.net'],
  ['UTF-8 percent-encoded full-width @ twice', 'sob.x%25EF%25BC%25A0example.net'],
  ['named reference of a dot', 'sob&period;x@example&period;net'],
  ['a JSON escape of @ inside HTML', 'sob.x&#92;u0040example.net'],
  ['Python byte escape of @', 'sob.x\\x40example.net'],
  ['quoted-printable full-width @', 'sob.x=EF=BC=A0example.net'],
  ['@ escaped as an ampersand reference twice', 'sob.x&amp;#64;example.net'],
];

describe('every written form of an address’s @ and . is redacted', () => {
  it.each(writtenForms)('removes the subject’s own address written with a %s', (_form, written) => {
    const redacted = redactText(`vendor said: ${written} is unknown`, { email });
    expect(redacted).toBe('vendor said: [email] is unknown');
  });

  it.each(writtenForms)('removes any address-shaped text written with a %s', (_form, written) => {
    expect(scrubAddresses(`vendor said: ${written} is unknown`)).toBe('vendor said: [email] is unknown');
    expect(redactText(`vendor said: ${written} is unknown`)).toBe('vendor said: [email] is unknown');
  });

  it('removes the subject’s address when the subject itself is given with an encoded @', () => {
    expect(redactText('member sob.x@example.net left', { email: 'sob.x&#x40;example.net' })).toBe(
      'member [email] left',
    );
  });
});

describe('decodeAddressMarks', () => {
  it('reads every form of @ and . as the plain character', () => {
    for (const [, written] of writtenForms) expect(decodeAddressMarks(written)).toBe(email);
  });

  it('leaves escapes of other characters as written', () => {
    const text = '&#60;b&#x3E; 100%25 off %2F path \\u0027q\\u0027 &amp; caf%C3%A9 Se&aacute;n';
    expect(decodeAddressMarks(text)).toBe(text);
  });

  it('leaves text without an address unchanged through scrubAddresses and redactText', () => {
    const text = 'version 1&#46;2 at 50%2540 load, ＡＢＣ full-width';
    expect(scrubAddresses(text)).toBe(text);
    expect(redactText(text, { email })).toBe(text);
  });
});

describe('the subject’s address is matched whole', () => {
  it('redacts another address that ends in the subject’s whole, not leaving its first letters', () => {
    expect(redactText('joann@example.net and ann@example.net', { email: 'ann@example.net' })).toBe(
      '[email] and [email]',
    );
  });

  it('keeps the text around an encoded address as written', () => {
    expect(redactText('q=%22sob.x%40example.net%22&amp;x=caf%C3%A9', { email })).toBe(
      'q=%22[email]%22&amp;x=caf%C3%A9',
    );
  });
});
