import { commonWords } from './common-words.js';

/** What replaces a person's name in redacted text. */
export const redactedName = '[name]';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

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

const withoutDiacritics = (name: string) =>
  name
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[øØłŁđĐßæÆœŒ]/g, (letter) => plainLetters[letter] ?? letter);

/** The apostrophes a name's `'` is typed as: ASCII, and the typographic one word processors and phones put. */
const apostrophes = ["'", '\u2019', '\u02bc'];

/**
 * A name as it may be typed or stored: composed (NFC), decomposed (NFD, as macOS file names and some
 * keyboards give it), without its diacritics (`Zoë Müller` typed `Zoe Muller`, `Søren` typed `Soren`),
 * with a typographic apostrophe (`O’Brien`) or none (`OBrien`), each in its own case, in lower case and in
 * capitals: an escape of a letter names one case only (`\u00eb` is `ë`, `\u00cb` is `Ë`), so matching
 * without regard to case does not find the other.
 */
function spellingsOf(name: string): string[] {
  const written = [name.normalize('NFC'), name.normalize('NFD'), withoutDiacritics(name)].flatMap(
    (spelling) =>
      spelling.includes("'")
        ? [...apostrophes.map((mark) => spelling.replaceAll("'", mark)), spelling.replaceAll("'", '')]
        : [spelling],
  );
  return [
    ...new Set(written.flatMap((spelling) => [spelling, spelling.toLowerCase(), spelling.toUpperCase()])),
  ];
}

/** Every character outside ASCII as JSON writes it when told to keep to ASCII (.NET's default encoder, Python's). */
const jsonAscii = (text: string) =>
  text.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
/** Every character outside ASCII, and the apostrophe, as an HTML numeric character reference (decimal, hex). */
const htmlDecimal = (text: string) =>
  text.replace(/[^\x20-\x26\x28-\x7e]/g, (char) => `&#${char.charCodeAt(0)};`);
const htmlHex = (text: string) =>
  text.replace(/[^\x20-\x26\x28-\x7e]/g, (char) => `&#x${char.charCodeAt(0).toString(16)};`);

/**
 * The forms a name takes in text: as written, decomposed or without diacritics (spellingsOf),
 * percent-encoded once or twice (a URL quoted in another URL), its apostrophe and letters outside ASCII
 * JSON-escaped (`Se\u00e1n O\u0027Brien`, as Dataverse's .NET serializer writes them) or HTML character
 * references (`Zo&#235;`).
 */
function nameForms(written: string): string[] {
  return spellingsOf(written).flatMap((name) => {
    const percent = encodeURIComponent(name).replace(/'/g, '%27');
    return [
      name,
      encodeURIComponent(name),
      percent,
      percent.replace(/%/g, '%25'),
      name.replace(/'/g, '&#39;'),
      name.replace(/'/g, '&#x27;'),
      name.replace(/'/g, '\\u0027'),
      name.replace(/'/g, "\\'"),
      jsonAscii(name),
      jsonAscii(name).replace(/'/g, '\\u0027'),
      htmlDecimal(name),
      htmlHex(name),
    ];
  });
}

/** A matched form read back as the word it spells: percent-escapes, JSON escapes and character references decoded. */
function decodedForm(form: string): string {
  const unescaped = form
    .replace(/\\'/g, "'")
    .replace(/\\u([0-9a-f]{4})/gi, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    .replace(/&#x([0-9a-f]+);/gi, (_reference, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_reference, decimal: string) => String.fromCodePoint(Number(decimal)));
  try {
    const once = decodeURIComponent(unescaped);
    return /%[0-9a-f]{2}/i.test(once) ? decodeURIComponent(once) : once;
  } catch {
    return unescaped;
  }
}

const comparable = (word: string) => withoutDiacritics(word.normalize('NFC')).toLowerCase();

/** Whether a name part is also a common English word, in any of its spellings. */
export function isCommonWord(word: string): boolean {
  return commonWords.has(word.normalize('NFC').toLowerCase()) || commonWords.has(comparable(word));
}

/**
 * A word starts after anything but a letter or digit, and also right after a percent (once or twice
 * encoded) or \u escape (`%27Katherine%20Johnson%27`, `%2527O%2527Brien`), whose hex digits are not the name's; it ends where no letter or digit
 * follows.
 */
const wordStart = String.raw`(?:(?<=%[0-9a-f]{2})|(?<=%25[0-9a-f]{2})|(?<=\\u[0-9a-f]{4})|(?<![\p{L}\p{N}]))`;
const wordEnd = String.raw`(?![\p{L}\p{N}])`;
/** What stands between two words of one name: spaces, a line break, their URL and JSON escapes. */
const nameGap = String.raw`(?:[ \t]+|[ \t]*\r?\n[ \t]*|%20|%2520|\+|&nbsp;|\\u0020)`;
/** What follows the comma of a name written surname first (`May, Will`, `May%2C%20Will`). */
const commaGap = String.raw`(?:[ \t]*|%20|\+)`;
/**
 * What may stand between two parts of a name written in any order (`May, Will`, `Fiona F.`). A full stop
 * only ends an initial: after a word it ends a sentence (`I will. May called`), and the next word is not
 * the same name.
 */
const adjacentGap = /^(?:[ \t,\-+]|%20|%2520|%2C|&nbsp;|\\u0020){1,4}$/i;

const alternation = (needles: Iterable<string>) =>
  [...new Set([...needles].filter((needle) => needle.length > 0))]
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
    .join('|');

interface Token {
  start: number;
  end: number;
  kind: 'part' | 'placeholder' | 'initial';
  redact: boolean;
}

/**
 * Redacts a person's names from free text. `names` are the names the person is known by (a CRM's first
 * and last name, a full name); `nameWords` are name-like words from elsewhere (the address's local part).
 *
 * Matching is whole-word, case-, encoding- (percent, JSON, HTML apostrophes) and diacritics-insensitive;
 * what is matched is decided by the rule below, because name parts are often ordinary words: a CRM name
 * "Will May" must not eat every "will" and "may" of an operator's note.
 * - A whole name of several words, in its order or surname first after a comma, in any case (`Will May`,
 *   `will may`, `WILL%20MAY`, `may, will`), goes as one `[name]`. Parts given one by one (a CRM's first
 *   and last name) are not known to be one name in an order, so the rules below decide them.
 * - A name part that is not a common English word (isCommonWord: `Fiona`, `Ottoline`, `O'Brien`) goes
 *   wherever it stands, in any case.
 * - A part that is a common word goes when it is written as a name: capitalised (`May`) or in capitals
 *   (`MAY`) among words that are not (`MAY` in "RECORD MAY BE LOCKED", where everything is shouted, is
 *   not), or when it stands next to another part that goes (`fitzgerald may`). Lower case and alone
 *   (`you may will this`), it stays. The trade-off: a sentence that starts with such a word (`May I…`)
 *   loses it, as privacy errs towards redacting; a lower-case name alone that is also a common word is
 *   kept, as a reader could not tell it from the word either.
 * - A capital initial of a part next to a part that goes goes too (`Fiona F.` → `[name] [name].`,
 *   `W. May`).
 */
export function redactNames(
  text: string,
  names: readonly string[],
  nameWords: readonly string[] = [],
): string {
  const wholeNames = names.map((name) => name.trim().split(/\s+/)).filter((words) => words.length > 1);
  let result = text;
  if (wholeNames.length > 0) {
    const pattern = (words: string[]) =>
      words.map((word) => `(?:${alternation(nameForms(word))})`).join(nameGap);
    // A list or a CRM export writes it surname first, after a comma (`May, Will`).
    const surnameFirst = (words: string[]) =>
      `${pattern(words.slice(-1))}(?:,|%2C)${commaGap}${pattern(words.slice(0, -1))}`;
    const sequences = wholeNames
      .flatMap((words) => [pattern(words), surnameFirst(words)])
      .sort((a, b) => b.length - a.length);
    result = result.replace(
      new RegExp(`${wordStart}(?:${sequences.join('|')})${wordEnd}`, 'giu'),
      redactedName,
    );
  }
  const parts = [...new Set([...names, ...nameWords].flatMap(partsOf))].filter(
    (part) => part.replace(/'/g, '').length >= 2,
  );
  if (parts.length === 0) return result;
  const partKeys = new Set(parts.map(comparable));
  const initials = new Set(parts.map((part) => comparable(part).charAt(0).toUpperCase()));
  const tokens: Token[] = [];
  const partPattern = new RegExp(`${wordStart}(?:${alternation(parts.flatMap(nameForms))})${wordEnd}`, 'giu');
  for (const match of result.matchAll(partPattern)) {
    const start = match.index ?? 0;
    const end = start + match[0].length;
    const written = decodedForm(match[0]);
    const asName = /^\p{Lu}/u.test(written) && !shouted(result, start, end, written, partKeys);
    tokens.push({ start, end, kind: 'part', redact: !isCommonWord(written) || asName });
  }
  for (const match of result.matchAll(/\[name\]/g)) {
    const start = match.index ?? 0;
    tokens.push({ start, end: start + match[0].length, kind: 'placeholder', redact: true });
  }
  for (const match of result.matchAll(/(?<![\p{L}\p{N}])\p{Lu}(?![\p{L}\p{N}])/gu)) {
    const start = match.index ?? 0;
    if (!initials.has(comparable(match[0]).toUpperCase())) continue;
    if (tokens.some((token) => token.start <= start && start < token.end)) continue;
    tokens.push({ start, end: start + 1, kind: 'initial', redact: false });
  }
  tokens.sort((a, b) => a.start - b.start);
  const adjacent = (a: Token | undefined, b: Token | undefined) =>
    a !== undefined &&
    b !== undefined &&
    adjacentGap.test(result.slice(a.end, b.start).replace(a.kind === 'initial' ? /^\./ : /^$/, ''));
  // A common word next to a part that goes is that person's name part too ("Fitzgerald may"), and so on
  // along a run of parts.
  for (let changed = true; changed; ) {
    changed = false;
    tokens.forEach((token, i) => {
      if (token.redact || token.kind !== 'part') return;
      const before = tokens[i - 1];
      const after = tokens[i + 1];
      const anchored = (other: Token | undefined) => other?.kind !== 'initial' && other?.redact === true;
      if ((anchored(before) && adjacent(before, token)) || (anchored(after) && adjacent(token, after))) {
        token.redact = true;
        changed = true;
      }
    });
  }
  tokens.forEach((token, i) => {
    if (token.kind !== 'initial') return;
    const before = tokens[i - 1];
    const after = tokens[i + 1];
    const named = (other: Token | undefined) => other?.kind !== 'initial' && other?.redact === true;
    token.redact = (named(before) && adjacent(before, token)) || (named(after) && adjacent(token, after));
  });
  let redacted = '';
  let last = 0;
  for (const token of tokens) {
    if (!token.redact || token.kind === 'placeholder') continue;
    redacted += result.slice(last, token.start) + redactedName;
    last = token.end;
  }
  return redacted + result.slice(last);
}

/** The parts of a name: each word, and each half of a double-barrelled one (`Müller-Lüdenscheidt`). */
function partsOf(name: string): string[] {
  return name
    .trim()
    .split(/\s+/)
    .flatMap((word) => (word.includes('-') ? [word, ...word.split('-')] : [word]))
    .filter((word) => word.length > 0);
}

/**
 * Whether a word in capitals is shouted rather than written as a name: a word next to it is in capitals
 * too and is no name part (`RECORD MAY BE LOCKED`).
 */
function shouted(text: string, start: number, end: number, written: string, partKeys: Set<string>): boolean {
  if (written.length < 2 || written !== written.toUpperCase()) return false;
  const before = /(\p{L}{2,})[^\p{L}]*$/u.exec(text.slice(Math.max(0, start - 40), start))?.[1];
  const after = /^[^\p{L}]*(\p{L}{2,})/u.exec(text.slice(end, end + 40))?.[1];
  return [before, after].some(
    (word) => word !== undefined && word === word.toUpperCase() && !partKeys.has(comparable(word)),
  );
}

/**
 * Name-like words from an address's local part (`mary.o'brien` gives `mary`, `o'brien`), so that a
 * vendor that echoes "Mary O'Brien" is redacted even when no CRM name is known. Words under three letters
 * are kept: they say nothing about a person and would eat ordinary words.
 */
export function nameWordsOf(email: string): string[] {
  const at = email.lastIndexOf('@');
  const local = at > 0 ? email.slice(0, at) : '';
  return local.split(/[._+\-\d]+/).filter((word) => word.replace(/'/g, '').length >= 3);
}
