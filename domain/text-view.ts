import { decodeHTML } from 'entities';

/**
 * A text as redaction matches it: every escape decoded and every character folded to the form names and
 * addresses are compared in, each character of it tied to the span of the original text it stands for. A
 * match found in the view is replaced in the original, so the rest of the text stays as it was written.
 */
export interface TextView {
  readonly text: string;
  /** For each UTF-16 unit of `text`: where the original text it stands for starts (inclusive). */
  readonly starts: readonly number[];
  /** For each UTF-16 unit of `text`: where the original text it stands for ends (exclusive). */
  readonly ends: readonly number[];
}

/** A piece of a decoded match: its text, and the part of the match it stands for (offsets in the match). */
type Piece = readonly [text: string, from: number, to: number];

function identityView(text: string): TextView {
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < text.length; i++) {
    starts.push(i);
    ends.push(i + 1);
  }
  return { text, starts, ends };
}

/**
 * Rewrites what `pattern` (global) matches in the view: `decode` answers the text a match stands for (or
 * pieces of it, each tied to its own part of the match), or undefined to keep the match as it is.
 */
export function rewriteView(
  view: TextView,
  pattern: RegExp,
  decode: (match: RegExpExecArray) => string | readonly Piece[] | undefined,
): TextView {
  let text = '';
  const starts: number[] = [];
  const ends: number[] = [];
  let last = 0;
  const keep = (from: number, to: number) => {
    text += view.text.slice(from, to);
    for (let i = from; i < to; i++) {
      starts.push(view.starts[i] as number);
      ends.push(view.ends[i] as number);
    }
  };
  let changed = false;
  for (const match of view.text.matchAll(pattern)) {
    const decoded = decode(match);
    if (decoded === undefined) continue;
    const at = match.index ?? 0;
    keep(last, at);
    const pieces: readonly Piece[] = typeof decoded === 'string' ? [[decoded, 0, match[0].length]] : decoded;
    for (const [piece, from, to] of pieces) {
      text += piece;
      const start = view.starts[at + from] as number;
      const end = view.ends[Math.max(at + from, at + to - 1)] as number;
      for (let i = 0; i < piece.length; i++) {
        starts.push(start);
        ends.push(end);
      }
    }
    last = at + match[0].length;
    changed = true;
  }
  if (!changed) return view;
  keep(last, view.text.length);
  return { text, starts, ends };
}

/** Windows-1252's characters for bytes 0x80–0x9F (the rest of 0x80–0xFF is Latin-1, code point = byte). */
const windows1252 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** A byte as the single-byte encodings vendors fall back to write it (Windows-1252, which .NET and browsers use for Latin-1). */
const singleByteChar = (byte: number) =>
  byte >= 0x80 && byte < 0xa0 ? (windows1252[byte - 0x80] as string) : String.fromCharCode(byte);

/** The byte a Windows-1252 (or Latin-1) character stands for, or undefined. */
function byteOfChar(char: string): number | undefined {
  const code = char.charCodeAt(0);
  if (code < 0x80 || (code >= 0xa0 && code <= 0xff)) return code;
  const at = windows1252.indexOf(char);
  return at >= 0 ? 0x80 + at : undefined;
}

/** The code point of a well-formed UTF-8 sequence of two to four bytes at `at`, and its length, or undefined. */
function utf8At(bytes: readonly number[], at: number): { code: number; length: number } | undefined {
  const lead = bytes[at] as number;
  const length =
    lead >= 0xc2 && lead <= 0xdf
      ? 2
      : lead >= 0xe0 && lead <= 0xef
        ? 3
        : lead >= 0xf0 && lead <= 0xf4
          ? 4
          : 0;
  if (length === 0 || at + length > bytes.length) return undefined;
  let code = lead & (0xff >> (length + 1));
  for (let i = 1; i < length; i++) {
    const next = bytes[at + i] as number;
    if ((next & 0xc0) !== 0x80) return undefined;
    code = (code << 6) | (next & 0x3f);
  }
  const least = [0, 0, 0x80, 0x800, 0x10000][length] as number;
  if (code < least || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined;
  return { code, length };
}

/**
 * Decodes a run of escaped bytes (`%C3%A1`, `\xc3\xa1`, `\303\241`, `=C3=A1`): each well-formed UTF-8
 * sequence as its character, any other byte as Windows-1252/Latin-1 (`Se%E1n`, `Se\xe1n`, as a .NET or
 * Python program that does not encode UTF-8 writes it). `widths` are the escapes' lengths in the text.
 * With `utf8Only`, a byte outside a multi-byte sequence stays as written (quoted-printable's `=41` is too
 * much like an assignment to read alone).
 */
function decodeBytes(
  written: string,
  bytes: readonly number[],
  widths: readonly number[],
  utf8Only = false,
): Piece[] {
  const pieces: Piece[] = [];
  let offset = 0;
  for (let i = 0; i < bytes.length; ) {
    const sequence = utf8At(bytes, i);
    const length = sequence ? sequence.length : 1;
    const width = widths.slice(i, i + length).reduce((sum, one) => sum + one, 0);
    const text = sequence
      ? String.fromCodePoint(sequence.code)
      : utf8Only
        ? written.slice(offset, offset + width)
        : singleByteChar(bytes[i] as number);
    pieces.push([text, offset, offset + width]);
    offset += width;
    i += length;
  }
  return pieces;
}

/** HTML and XML character references, named (`&aacute;`, `&apos;`, `&rsquo;`, legacy `&amp` without `;`) or numeric. */
const characterReference = /&(?:#[xX][0-9a-fA-F]{1,6}|#\d{1,7}|[A-Za-z][A-Za-z0-9]{1,31});?/g;
/** Escapes of JSON, JavaScript, Python, C and protobuf's text format that stand for one character. */
const characterEscape = /\\(?:u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([nrt"'/\\]))/g;
/** Runs of escaped bytes: `\xHH` and octal `\ooo` (Python, C, protobuf text format). */
const byteEscapes = /(?:\\x[0-9a-fA-F]{2}|\\[0-3][0-7]{2})+/g;
/** Runs of percent-encoded bytes (URLs, form bodies). */
const percentEscapes = /(?:%[0-9a-fA-F]{2})+/g;
/** Runs of quoted-printable bytes (mail bodies): read only where they spell UTF-8. */
const quotedPrintable = /(?:=[0-9A-F]{2}){2,}/g;
/** OData writes an apostrophe inside a string literal twice (`'O''Brien'`). */
const odataApostrophe = /(?<=\p{L})''(?=\p{L})/gu;
/**
 * UTF-8 read as Windows-1252 or Latin-1 (`SeÃ¡n`, `Oâ€™Brien`): a lead byte's character and its
 * continuation bytes' characters, read back as the one character they encode.
 */
const mojibake =
  /[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{1,3}/g;

const escapes: [RegExp, (match: RegExpExecArray) => string | readonly Piece[] | undefined][] = [
  [
    characterReference,
    (match) => {
      const decoded = decodeHTML(match[0]);
      if (decoded !== match[0]) return decoded;
      // Names are case-sensitive in HTML, but hand-made escapers write them in capitals too (`&COMMAT;`).
      const lower = decodeHTML(match[0].toLowerCase());
      return lower !== match[0].toLowerCase() && match[0].endsWith(';') ? lower : undefined;
    },
  ],
  [
    characterEscape,
    ([written, braced, unit, long, simple]) => {
      if (simple) return { n: '\n', r: '\r', t: '\t' }[simple] ?? simple;
      const code = Number.parseInt(braced ?? unit ?? long ?? '', 16);
      if (unit) return String.fromCharCode(code);
      return code <= 0x10ffff ? String.fromCodePoint(code) : written;
    },
  ],
  [
    byteEscapes,
    ([written]) => {
      const escapesOf = written.match(/\\x[0-9a-fA-F]{2}|\\[0-7]{3}/g) ?? [];
      const bytes = escapesOf.map((one) =>
        one[1] === 'x' ? Number.parseInt(one.slice(2), 16) : Number.parseInt(one.slice(1), 8),
      );
      return decodeBytes(
        written,
        bytes,
        escapesOf.map((one) => one.length),
      );
    },
  ],
  [
    percentEscapes,
    ([written]) => {
      const bytes = (written.match(/[0-9a-fA-F]{2}/g) ?? []).map((hex) => Number.parseInt(hex, 16));
      return decodeBytes(
        written,
        bytes,
        bytes.map(() => 3),
      );
    },
  ],
  [
    quotedPrintable,
    ([written]) => {
      const bytes = (written.match(/[0-9A-F]{2}/g) ?? []).map((hex) => Number.parseInt(hex, 16));
      const pieces = decodeBytes(
        written,
        bytes,
        bytes.map(() => 3),
        true,
      );
      return pieces.every(([text, from, to]) => text === written.slice(from, to)) ? undefined : pieces;
    },
  ],
  [odataApostrophe, () => "'"],
];

/** The most rounds of decoding: a URL quoted in a URL in a JSON string in an HTML page, and one more. */
const maxRounds = 4;

/** The marks a name's apostrophe is typed as (typographic, modifier letter, prime, acute accent). */
const apostropheLike = /[\u2018\u2019\u02bc\u02b9\u2032\u00b4\uff07]/g;

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
 * One character (with its combining marks) as names and addresses are compared: compatibility forms folded
 * (NFKC: full-width `＠` is `@`, `ﬁ` is `fi`, a no-break space is a space), diacritics removed (`é` is `e`,
 * `ø` is `o`), every apostrophe-like mark an ASCII `'`. Case is kept: the name rule reads it.
 */
export function foldCharacters(text: string): string {
  return text
    .replace(apostropheLike, "'")
    .normalize('NFKC')
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[øØłŁđĐßæÆœŒ]/g, (letter) => plainLetters[letter] ?? letter);
}

/**
 * The text as redaction matches it (TextView), with every written form a vendor or a URL gives a name or an
 * address read back: HTML/XML character references, named (through the `entities` library: `&aacute;`,
 * `&apos;`, `&rsquo;`, `&amp;`, `&commat;`) or numeric; JSON, JavaScript and Python escapes (`\u00e1`,
 * `\u{e1}`, `\U000000e1`, `\'`); escaped bytes as UTF-8, or Windows-1252/Latin-1 where they are not UTF-8
 * (`%C3%A1` and `%E1`, `\xc3\xa1` and `\xe1`, octal `\303\241`, quoted-printable `=C3=A1`); OData's doubled
 * apostrophe; all of it nested up to four rounds deep (`%2540`, `&amp;#64;`); then UTF-8 misread as
 * Windows-1252 (`SeÃ¡n`), and each character folded (foldCharacters). Pure and deterministic.
 */
export function matchingView(text: string): TextView {
  let view = identityView(text);
  for (let round = 0; round < maxRounds; round++) {
    const before = view.text;
    for (const [pattern, decode] of escapes) view = rewriteView(view, pattern, decode);
    if (view.text === before) break;
  }
  view = rewriteView(view, mojibake, ([written]) => {
    const bytes = [...written].map(byteOfChar);
    if (bytes.some((byte) => byte === undefined)) return undefined;
    const sequence = utf8At(bytes as number[], 0);
    return sequence && sequence.length === bytes.length ? String.fromCodePoint(sequence.code) : undefined;
  });
  // Only characters folding changes are rewritten: a base character with its combining marks, as one.
  return rewriteView(view, /\P{ASCII}\p{M}*|\p{ASCII}\p{M}+/gu, ([cluster]) => {
    const folded = foldCharacters(cluster);
    return folded === cluster ? undefined : folded;
  });
}

/** A match in a view's text to be replaced in the original: view offsets, and what goes in its place. */
export interface ViewSpan {
  start: number;
  end: number;
  replacement: string;
}

/**
 * Replaces, in the original text of `view`, what each span of the view's text stands for: overlapping spans
 * become one (the first's replacement), everything between them stays as written. Answers the original
 * text itself when there is no span.
 */
export function replaceInOriginal(original: string, view: TextView, spans: Iterable<ViewSpan>): string {
  const mapped = [...spans]
    .filter((span) => span.end > span.start)
    .map((span) => ({
      start: view.starts[span.start] as number,
      end: view.ends[span.end - 1] as number,
      replacement: span.replacement,
    }))
    .sort((a, b) => a.start - b.start || b.end - a.end);
  if (mapped.length === 0) return original;
  let result = '';
  let last = 0;
  for (const span of mapped) {
    if (span.start < last) {
      // Overlapping an earlier span: that one's replacement stands for both.
      last = Math.max(last, span.end);
      continue;
    }
    result += original.slice(last, span.start) + span.replacement;
    last = span.end;
  }
  return result + original.slice(last);
}
