import * as linkify from 'linkifyjs';

/** What replaces the subject's data and any other address in redacted text. */
export const redactedEmail = '[email]';
export const redactedName = '[name]';
export const redactedIdentifier = '[identifier]';

/** What is known about the person a text may be about. Every field is optional. */
export interface RedactionSubject {
  /** The person's address (any case or form; it is matched in every encoding below). */
  email?: string;
  /** Names the person is known by (a CRM's first and last name, say). */
  names?: readonly string[];
  /** Other identifiers: GA client and user ids, vendor ids derived from the address. */
  identifiers?: readonly string[];
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The percent-encodings of a text as URL builders write them (`'` stays, or becomes %27). */
function percentForms(text: string): string[] {
  const component = encodeURIComponent(text);
  return [component, component.replace(/'/g, '%27'), text.replace(/@/g, '%40')];
}

/** The ways an address is quoted in JSON, HTML, URLs and RFC 5322 headers. */
function addressForms(email: string): string[] {
  const at = email.lastIndexOf('@');
  const local = at > 0 ? email.slice(0, at) : email;
  const domain = at > 0 ? email.slice(at + 1) : '';
  return [
    email,
    ...percentForms(email),
    `"${local}"@${domain}`,
    `${local}\\u0040${domain}`,
    `${local}&#64;${domain}`,
    `${local}&commat;${domain}`,
    email.replace(/'/g, '&#39;'),
    email.replace(/'/g, '&#x27;'),
    email.replace(/'/g, '\\u0027'),
    email.replace(/'/g, "\\'"),
  ];
}

/** Letters NFD does not split into a base letter and a mark, as people type them without the diacritic. */
const plainLetters: Record<string, string> = {
  ø: 'o',
  Ø: 'O',
  ł: 'l',
  Ł: 'L',
  đ: 'd',
  Đ: 'D',
  ß: 'ss',
  æ: 'ae',
  Æ: 'Ae',
  œ: 'oe',
  Œ: 'Oe',
};

/**
 * A name as it may be typed or stored: composed (NFC), decomposed (NFD, as macOS file names and some
 * keyboards give it) and without its diacritics (`Zoë Müller` typed `Zoe Muller`, `Søren` typed `Soren`).
 */
function spellingsOf(name: string): string[] {
  const bare = name
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[øØłŁđĐßæÆœŒ]/g, (letter) => plainLetters[letter] ?? letter);
  return [...new Set([name.normalize('NFC'), name.normalize('NFD'), bare])];
}

/**
 * The forms a name takes in text: as written, decomposed or without diacritics (spellingsOf),
 * percent-encoded (a URL), HTML-escaped apostrophes.
 */
function nameForms(written: string): string[] {
  return spellingsOf(written).flatMap((name) => [
    name,
    encodeURIComponent(name),
    encodeURIComponent(name).replace(/'/g, '%27'),
    name.replace(/'/g, '&#39;'),
    name.replace(/'/g, '&#x27;'),
    name.replace(/'/g, '\\u0027'),
  ]);
}

/**
 * Name-like words from the address's local part (`mary.o'brien` gives `mary`, `o'brien`), so that a vendor
 * that echoes "Mary O'Brien" is redacted even when no CRM name is known. Words under three letters are kept:
 * they say nothing about a person and would eat ordinary words.
 */
function nameWordsOf(email: string): string[] {
  const at = email.lastIndexOf('@');
  const local = at > 0 ? email.slice(0, at) : '';
  return local.split(/[._+\-\d]+/).filter((word) => word.replace(/'/g, '').length >= 3);
}

/**
 * A Google Analytics client id, alone or inside a `_ga` cookie: a random number of up to 10 digits, a dot,
 * and the first visit in Unix seconds (10 digits), as analytics.js and gtag.js write it
 * (developers.google.com/analytics/devguides/collection/analyticsjs/cookie-usage). Longer digit runs and
 * dotted version numbers do not match.
 */
const gaClientIdShape = /(?<!\p{N})\d{5,10}\.\d{10}(?![\p{N}]|\.\p{N})/gu;

/**
 * Redacts one subject's data from free text (a vendor's error body, a log line, an operator's note), then
 * every other address-shaped text. Pure and deterministic (no hashing, no I/O), so workflow code may call
 * it too: an operator's note is redacted by the workflow that knows the CRM's names for the person.
 *
 * The subject's address is matched case-insensitively in its plain, percent-encoded, quoted and escaped
 * forms; their names (whole and word by word) as whole words, plain, percent-encoded and escaped; their
 * identifiers verbatim. What remains is scanned for addresses by linkify's email scanner (scrubAddresses).
 */
export function redactText(text: string, subject: RedactionSubject = {}): string {
  let result = text;
  const replaceAll = (needles: Iterable<string>, replacement: string, wholeWord = false) => {
    const unique = [...new Set([...needles].filter((needle) => needle.length > 0))].sort(
      (a, b) => b.length - a.length,
    );
    if (unique.length === 0) return;
    const body = unique.map(escapeRegExp).join('|');
    // A word ends where a letter or digit does not follow; it starts after anything else, and also right
    // after a percent or \u escape (`%27Katherine%20Johnson%27`), whose hex digits are not the name's.
    const start = `(?:(?<=%[0-9a-f]{2})|(?<=\\\\u[0-9a-f]{4})|(?<![\\p{L}\\p{N}]))`;
    const pattern = wholeWord ? `${start}(?:${body})(?![\\p{L}\\p{N}])` : `(?:${body})`;
    result = result.replace(new RegExp(pattern, 'giu'), replacement);
  };
  if (subject.email) replaceAll(addressForms(subject.email), redactedEmail);
  // Every other address goes whole before names are looked for: `alonzo.church@x.org` is an address, not
  // two names (which would leave `[name].[name]@x.org`).
  result = scrubAddresses(result);
  replaceAll(subject.identifiers ?? [], redactedIdentifier);
  // A GA client id has a shape of its own, so one the caller no longer holds goes too: ids harvested from
  // the CRM are sealed in the ledger, out of the steps that meet a vendor's error quoting a `_ga` cookie.
  result = result.replace(gaClientIdShape, redactedIdentifier);
  const names = (subject.names ?? []).flatMap((name) => [name, ...name.split(/\s+/)]);
  const nameWords = subject.email ? nameWordsOf(subject.email) : [];
  replaceAll(
    [...names, ...nameWords].filter((word) => word.trim().length >= 2).flatMap(nameForms),
    redactedName,
    true,
  );
  return result;
}

/**
 * The shape of an address whatever its top-level domain (`corp.local`, `acme.lan`, a new gTLD linkify's list
 * lacks) or an address literal (`a@[127.0.0.1]`): RFC 5322's dot-atom local part (letters of any script
 * too), `@`, then dot-separated labels ending in one of two or more characters, or a bracketed literal.
 */
const addressShape =
  /[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*@(?:(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+[\p{L}\p{N}-]{2,}|\[[^\]\s]{1,64}\])/gu;

/**
 * Replaces every address in free text with `[email]`, found by linkify's scanner (which knows address
 * syntax: quotes, apostrophes, plus signs, sub-domains) rather than a hand regex, then by an address's
 * shape for the top-level domains linkify does not know (`addressShape`). `%40` and `\u0040` are
 * read as `@` first, so percent-encoded addresses go too.
 */
export function scrubAddresses(text: string): string {
  // RFC 5322 allows a quoted local part (`"mary o'brien"@x.org`); the scanner reads unquoted ones only.
  const decoded = text
    .replace(/%40|\\u0040|&#64;|&commat;/gi, '@')
    .replace(/"[^"\r\n]{1,64}"@/g, 'quoted@')
    // An address a mail client wrapped after its `@` (`mary@\nexample.com`) is still an address.
    .replace(/@[ \t]*\r?\n[ \t]*(?=[\p{L}\p{N}])/gu, '@');
  if (!decoded.includes('@')) return text;
  const found = linkify.find(decoded, 'email');
  let result = '';
  let last = 0;
  for (const match of found) {
    result += decoded.slice(last, match.start) + redactedEmail;
    last = match.end;
  }
  result += decoded.slice(last);
  // linkify knows the registered top-level domains only: what it left that still has an address's shape
  // (an internal `corp.local`, an address literal) is an address too.
  const shaped = result.replace(addressShape, redactedEmail);
  return shaped === decoded && found.length === 0 ? text : shaped;
}
