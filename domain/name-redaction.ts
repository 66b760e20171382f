import { commonWords } from './common-words.js';
import { matchingView, replaceInOriginal } from './text-view.js';

/** What replaces a person's name in redacted text. */
export const redactedName = '[name]';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A word as it is compared: decoded, folded (no diacritics, ASCII apostrophes), lower case. */
const comparable = (word: string) => matchingView(word.normalize('NFC')).text.toLowerCase();

/** Whether a name part is also a common English word, in any of its spellings. */
export function isCommonWord(word: string): boolean {
  return commonWords.has(word.normalize('NFC').toLowerCase()) || commonWords.has(comparable(word));
}

/**
 * A name part as a pattern over the matching view (text-view.ts: escapes decoded, diacritics and
 * apostrophes folded): its letters in any case, its apostrophe typed or left out (`O'Brien`, `OBrien`).
 */
const partPattern = (part: string) => comparable(part).split("'").map(escapeRegExp).join("'?");

/** A word starts after anything but a letter or digit, and ends where no letter or digit follows. */
const wordStart = String.raw`(?<![\p{L}\p{N}])`;
const wordEnd = String.raw`(?![\p{L}\p{N}])`;
/** What stands between two words of one name: spaces (a decoded `%20`, `&nbsp;`, `\u0020`), a line break, a form's `+`. */
const nameGap = String.raw`(?:[ \t]+|[ \t]*\r?\n[ \t]*|\+)`;
/** What follows the comma of a name written surname first (`May, Will`, `May%2C%20Will`). */
const commaGap = String.raw`(?:[ \t]*|\+)`;
/**
 * What may stand between two parts of a name written in any order (`May, Will`, `Fiona F.`). A full stop
 * only ends an initial: after a word it ends a sentence (`I will. May called`), and the next word is not
 * the same name.
 */
const adjacentGap = /^[ \t,\-+]{1,4}$/;

/**
 * A field that holds a name, written before its value: Dataverse's columns (`firstname`, `lastname`,
 * `fullname`, `middlename`, `nickname`, their `yomi` forms), Mailchimp's merge fields (`FNAME`, `LNAME`),
 * and the keys of JSON, forms and XML (`first_name`, `firstName`, `given_name`, `familyName`, `surname`),
 * then what separates a key from its value in OData (`eq`, `ne`, a function's `,` or `)`), JSON, a query
 * string, YAML or XML, with at least one `=`, `:`, `>`, `,`, quote or operator: `lastname may be empty`
 * is prose, `lastname: may` is a value. Read in the matching view, so encoded separators count too.
 */
const fieldLabelBefore =
  /(?<![\p{L}\p{N}])(?:(?:yomi)?(?:first|last|full|middle|nick)[ _-]?name|[FLM]NAME|(?:given|family|display|sur|fore|maiden)[ _-]?name|surname|forename)(?=[^\p{L}\p{N}]|eq|ne|like)[\s"'\\\])]*(?:(?:[=:>,]|(?<![\p{L}])(?:eq|ne|like)(?![\p{L}]))[\s"'([]*|["'][\s"'([]*)$/iu;

const alternation = (patterns: Iterable<string>) =>
  [...new Set([...patterns].filter((pattern) => pattern.length > 0))]
    .sort((a, b) => b.length - a.length)
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
 * Matching runs over the text's matching view (text-view.ts `matchingView`): every escape a vendor or a
 * URL writes a name in is read back first (percent-encoding in UTF-8 or Latin-1, JSON and Python escapes,
 * HTML character references named or numeric, OData's doubled apostrophe, nested), and diacritics,
 * apostrophes and compatibility forms are folded; what is matched is replaced in the text as written, so
 * the rest of it stays readable. Whole-word and case-insensitive; what is matched is decided by the rule
 * below, because name parts are often ordinary words: a CRM name "Will May" must not eat every "will" and
 * "may" of an operator's note.
 * - A whole name of several words, in its order or surname first after a comma, in any case (`Will May`,
 *   `will may`, `WILL%20MAY`, `may, will`), goes as one `[name]`. Parts given one by one (a CRM's first
 *   and last name) are not known to be one name in an order, so the rules below decide them.
 * - A name part that is not a common English word (isCommonWord: `Fiona`, `Ottoline`, `O'Brien`) goes
 *   wherever it stands, in any case.
 * - A part that is a common word goes when it is written as a name: capitalised (`May`) or in capitals
 *   (`MAY`) among words that are not (`MAY` in "RECORD MAY BE LOCKED", where everything is shouted, is
 *   not); when it is the value of a field that holds a name, in any case (`firstname eq 'will'`,
 *   `FNAME=will`, `"firstName":"will"`, `lastname: may`); or when it stands next to another part that
 *   goes (`fitzgerald may`). Lower case and alone (`you may will this`), it stays. The trade-off: a
 *   sentence that starts with such a word (`May I…`) loses it, as privacy errs towards redacting; a
 *   lower-case name alone that is also a common word is kept, as a reader could not tell it from the word
 *   either.
 * - A capital initial of a part next to a part that goes goes too (`Fiona F.` → `[name] [name].`,
 *   `W. May`).
 */
export function redactNames(
  text: string,
  names: readonly string[],
  nameWords: readonly string[] = [],
): string {
  const wholeNames = names.map((name) => name.trim().split(/\s+/)).filter((words) => words.length > 1);
  const parts = [...new Set([...names, ...nameWords].flatMap(partsOf))].filter(
    (part) => part.replace(/'/g, '').length >= 2,
  );
  if (wholeNames.length === 0 && parts.length === 0) return text;
  const view = matchingView(text);
  const seen = view.text;
  const tokens: Token[] = [];
  if (wholeNames.length > 0) {
    const pattern = (words: string[]) => words.map((word) => `(?:${partPattern(word)})`).join(nameGap);
    // A list or a CRM export writes it surname first, after a comma (`May, Will`).
    const surnameFirst = (words: string[]) =>
      `${pattern(words.slice(-1))},${commaGap}${pattern(words.slice(0, -1))}`;
    const sequences = alternation(wholeNames.flatMap((words) => [pattern(words), surnameFirst(words)]));
    for (const match of seen.matchAll(new RegExp(`${wordStart}(?:${sequences})${wordEnd}`, 'giu'))) {
      const start = match.index ?? 0;
      tokens.push({ start, end: start + match[0].length, kind: 'placeholder', redact: true });
    }
  }
  const covered = (start: number) => tokens.some((token) => token.start <= start && start < token.end);
  if (parts.length > 0) {
    const partKeys = new Set(parts.map(comparable));
    const pattern = new RegExp(`${wordStart}(?:${alternation(parts.map(partPattern))})${wordEnd}`, 'giu');
    for (const match of seen.matchAll(pattern)) {
      const start = match.index ?? 0;
      if (covered(start)) continue;
      const end = start + match[0].length;
      const written = match[0];
      const asName =
        (/^\p{Lu}/u.test(written) && !shouted(seen, start, end, written, partKeys)) ||
        fieldLabelBefore.test(seen.slice(Math.max(0, start - 60), start));
      tokens.push({ start, end, kind: 'part', redact: !isCommonWord(written) || asName });
    }
  }
  for (const match of seen.matchAll(/\[name\]/g)) {
    const start = match.index ?? 0;
    tokens.push({ start, end: start + match[0].length, kind: 'placeholder', redact: false });
  }
  const initials = new Set(parts.map((part) => comparable(part).charAt(0).toUpperCase()));
  for (const match of seen.matchAll(/(?<![\p{L}\p{N}])\p{Lu}(?![\p{L}\p{N}])/gu)) {
    const start = match.index ?? 0;
    if (!initials.has(comparable(match[0]).toUpperCase())) continue;
    if (covered(start)) continue;
    tokens.push({ start, end: start + 1, kind: 'initial', redact: false });
  }
  tokens.sort((a, b) => a.start - b.start);
  const adjacent = (a: Token | undefined, b: Token | undefined) =>
    a !== undefined &&
    b !== undefined &&
    adjacentGap.test(seen.slice(a.end, b.start).replace(a.kind === 'initial' ? /^\./ : /^$/, ''));
  const named = (other: Token | undefined) =>
    other !== undefined && other.kind !== 'initial' && (other.redact || other.kind === 'placeholder');
  // A common word next to a part that goes is that person's name part too ("Fitzgerald may"), and so on
  // along a run of parts.
  for (let changed = true; changed; ) {
    changed = false;
    tokens.forEach((token, i) => {
      if (token.redact || token.kind !== 'part') return;
      const before = tokens[i - 1];
      const after = tokens[i + 1];
      if ((named(before) && adjacent(before, token)) || (named(after) && adjacent(token, after))) {
        token.redact = true;
        changed = true;
      }
    });
  }
  tokens.forEach((token, i) => {
    if (token.kind !== 'initial') return;
    const before = tokens[i - 1];
    const after = tokens[i + 1];
    token.redact = (named(before) && adjacent(before, token)) || (named(after) && adjacent(token, after));
  });
  return replaceInOriginal(
    text,
    view,
    tokens
      .filter((token) => token.redact)
      .map((token) => ({ start: token.start, end: token.end, replacement: redactedName })),
  );
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
