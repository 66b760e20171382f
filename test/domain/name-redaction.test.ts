import { describe, expect, it } from 'vitest';
import { isCommonWord, redactNames } from '../../domain/name-redaction.js';
import { redactText } from '../../domain/text-redaction.js';
import { itKeepsEach, itRedactsEach } from '../support/redaction-cases.js';

describe('redactNames: whole names and distinctive parts anywhere, common words only where written as a name', () => {
  it('keeps the ordinary words "will" and "may" of a note for a person named Will May (the repro)', () => {
    for (const names of [['Will May'], ['Will', 'May']]) {
      expect(redactNames('you may will this, and it will rain in may', names)).toBe(
        'you may will this, and it will rain in may',
      );
    }
  });

  itRedactsEach('redacts the name of a person named Will May %s', (text) => redactNames(text, ['Will May']), [
    ['in order, lower case', 'will may called', '[name] called'],
    ['in order, capitalised', 'Will May called', '[name] called'],
    ['in capitals', 'Contact WILL MAY refused', 'Contact [name] refused'],
    ['percent-encoded', "fullname eq 'will%20may'", "fullname eq '[name]'"],
    ['across a line break', 'Will\nMay', '[name]'],
    ['surname first after a comma', 'May, Will asked', '[name] asked'],
    ['surname first after a comma, lower case', 'may,will asked', '[name] asked'],
    ['first name alone, capitalised', 'Will called back', '[name] called back'],
    ['last name alone, in capitals among lower case', 'row of MAY locked', 'row of [name] locked'],
    ['with an initial', 'Will M. and W. May', '[name] [name]. and [name]. [name]'],
  ]);

  itKeepsEach('keeps a common word in %s', (text) => redactNames(text, ['Will', 'May']), [
    ['shouted text where every word is in capitals', 'RECORD MAY BE LOCKED'],
    ['a lower-case initial after a lower-case word', 'you will m. see'],
    ['a capital letter that is no initial of the name', 'Plan A may work'],
    ['before a full stop that ends a sentence', 'I will. It rained'],
  ]);

  it('redacts "Fiona F." whole for Fiona Fitzgerald, and Fiona in any case, and keeps other initials', () => {
    const names = ['Fiona', 'Fitzgerald'];
    expect(redactNames('Fiona F. called', names)).toBe('[name] [name]. called');
    expect(redactNames('F. Fitzgerald, fiona, FIONA; Fiona A. too', names)).toBe(
      '[name]. [name], [name], [name]; [name] A. too',
    );
    // The operator note: the name and the address go, nothing of either is left.
    const note = redactText('Fiona F. (fiona@example.net)', { email: 'fiona@example.net', names });
    expect(note).toBe('[name] [name]. ([email])');
  });

  it('keeps a lower-case common word that a full stop parts from the name that follows', () => {
    expect(redactNames('I will. May called', ['Will', 'May'])).toBe('I will. [name] called');
  });

  it('redacts a common-word part next to a part that goes, along the whole run', () => {
    expect(redactNames('spoke to ottoline rose baker today', ['Ottoline', 'Rose', 'Baker'])).toBe(
      'spoke to [name] [name] [name] today',
    );
    expect(redactNames('the rose by the baker', ['Ottoline', 'Rose', 'Baker'])).toBe('the rose by the baker');
  });

  it('redacts a name that is no common word in any case, even lower case in a vendor query', () => {
    expect(redactNames("tolower(firstname) eq 'ottoline' and VANDERSTEEN", ['Ottoline', 'Vandersteen'])).toBe(
      "tolower(firstname) eq '[name]' and [name]",
    );
  });

  it('redacts each half of a double-barrelled name, with or without its diacritics', () => {
    expect(
      redactNames('Müller alone, ludenscheidt too, MULLER-LUDENSCHEIDT whole', ['Zoë Müller-Lüdenscheidt']),
    ).toBe('[name] alone, [name] too, [name] whole');
  });

  it.each([
    [
      'letters outside ASCII JSON-escaped, as .NET writes them',
      '{"name":"Se\\u00e1n O\\u0027Brien"}',
      ['Seán', "O'Brien"],
      '{"name":"[name] [name]"}',
    ],
    [
      'a capital escaped in its own case',
      '"firstname":"ZO\\u00CB"',
      ['Zoë', 'Quist'],
      '"firstname":"[name]"',
    ],
    [
      'a capital percent-encoded in its own case',
      'firstname%3DZO%C3%8B',
      ['Zoë', 'Quist'],
      'firstname%3D[name]',
    ],
    ['HTML character references of letters', 'Zo&#235; and Zo&#xeb;', ['Zoë', 'Quist'], '[name] and [name]'],
    ['a typographic apostrophe', 'O\u2019Brien and O\u02bcBrien', ['Mary', "O'Brien"], '[name] and [name]'],
    ['the apostrophe left out', 'OBrien called', ['Mary', "O'Brien"], '[name] called'],
    [
      'a backslash-escaped apostrophe',
      "tolower(x) eq 'd\\'angelo'",
      ["D'Angelo", 'Russo'],
      "tolower(x) eq '[name]'",
    ],
    [
      'a URL percent-encoded twice',
      'next=Mary%2520O%2527Brien',
      ['Mary', "O'Brien"],
      'next=[name]%2520[name]',
    ],
    [
      'a hyphenated first name percent-encoded',
      'Jean%2DLuc%20Picard',
      ['Jean-Luc', 'Picard'],
      '[name]%20[name]',
    ],
  ])('redacts a name in %s', (_case, text, names, expected) => {
    expect(redactText(text, { email: 'subject@example.com', names })).toBe(expected);
  });

  it("applies the same rule to name-like words of the person's address", () => {
    expect(redactText('mark the row, Mark said; bill them', { email: 'mark.bill@example.com' })).toBe(
      'mark the row, [name] said; bill them',
    );
    expect(redactText("mary o'brien and Mary", { email: "mary.o'brien@example.com" })).toBe(
      '[name] [name] and [name]',
    );
  });

  it('tells common words from names by a dictionary without proper nouns', () => {
    for (const word of ['will', 'May', 'rose', 'BAKER', 'mark']) expect(isCommonWord(word)).toBe(true);
    for (const word of ['Fiona', 'ottoline', "O'Brien", 'Zoë', 'Fitzgerald', 'Mary'])
      expect(isCommonWord(word)).toBe(false);
  });
});

describe('redactNames reads a name in every encoding a vendor or a URL writes it (issue 16)', () => {
  const names = ['Seán', "O'Brien"];
  itRedactsEach('%s', (text) => redactText(text, { email: 'subject@example.com', names }), [
    ['named HTML references', 'Se&aacute;n O&apos;Brien wrote', '[name] [name] wrote'],
    ['a typographic apostrophe as a named reference, in capitals', 'O&rsquo;BRIEN refused', '[name] refused'],
    ['a legacy reference without its semicolon', 'Se&aacuten called', '[name] called'],
    ['an ampersand escaped before the reference (HTML escaped twice)', 'Se&amp;aacute;n left', '[name] left'],
    ['numeric references of Windows-1252 (&#146; is ’)', 'O&#146;Brien left', '[name] left'],
    ['Latin-1 percent-encoding', 'q=Se%E1n%20O%27Brien', 'q=[name]%20[name]'],
    ['UTF-8 percent-encoding in lower case hex', 'q=Se%c3%a1n', 'q=[name]'],
    ['Windows-1252 percent-encoding of ’', 'O%92Brien', '[name]'],
    ['a Python or JavaScript \\x escape of Latin-1', "'Se\\xe1n'", "'[name]'"],
    ['Python bytes escaped as UTF-8', "b'Se\\xc3\\xa1n'", "b'[name]'"],
    ['octal bytes of protobuf text format', 'name: "Se\\303\\241n"', 'name: "[name]"'],
    ['a braced JavaScript escape', 'Se\\u{e1}n', '[name]'],
    ['quoted-printable UTF-8', 'Dear Se=C3=A1n,', 'Dear [name],'],
    ['UTF-8 misread as Windows-1252 (mojibake)', 'SeÃ¡n Oâ€™Brien', '[name] [name]'],
    ["OData's doubled apostrophe", "lastname eq 'O''Brien'", "lastname eq '[name]'"],
    ['a JSON escape inside a percent-encoded URL', 'q%3DSe%5Cu00e1n', 'q%3D[name]'],
    ['full-width letters', 'ＳＥＡＮ called', '[name] called'],
    ['decomposed diacritics', 'Sea\u0301n called', '[name] called'],
  ]);

  it('keeps the rest of the text as written: only the name is replaced', () => {
    expect(redactNames('&lt;b&gt;Se&aacute;n&lt;/b&gt; &amp; 100%25 caf%C3%A9', names)).toBe(
      '&lt;b&gt;[name]&lt;/b&gt; &amp; 100%25 caf%C3%A9',
    );
  });
});

describe('a common-word name is redacted in any case as the value of a field that holds a name (issue 16)', () => {
  const names = ['Will', 'May'];
  itRedactsEach('in %s', (text) => redactNames(text, names), [
    ['an OData filter', "firstname eq 'will'", "firstname eq '[name]'"],
    [
      'an OData function',
      "tolower(lastname) eq 'may' or contains(fullname,'will')",
      "tolower(lastname) eq '[name]' or contains(fullname,'[name]')",
    ],
    ['a Mailchimp merge field', 'FNAME=will&LNAME=may', 'FNAME=[name]&LNAME=[name]'],
    ['a JSON key in camel case', '{"firstName":"will"}', '{"firstName":"[name]"}'],
    [
      'a JSON key in snake case, JSON-escaped',
      '{\\"first_name\\": \\"will\\"}',
      '{\\"first_name\\": \\"[name]\\"}',
    ],
    ['YAML', 'lastname: may', 'lastname: [name]'],
    ['XML', '<middlename>may</middlename>', '<middlename>[name]</middlename>'],
    ['a percent-encoded query', 'filter=firstname%20eq%20%27will%27', 'filter=firstname%20eq%20%27[name]%27'],
    ['two parts after a label', "fullname eq 'will may'", "fullname eq '[name] [name]'"],
  ]);

  itKeepsEach('keeps a common word in %s', (text) => redactNames(text, names), [
    ['prose after a label with no separator', 'lastname may be empty'],
    ['a label followed by another value', "firstname eq 'ann' and you may"],
    ['a field that holds no name', "jobtitle eq 'will'"],
  ]);
});
