import * as linkify from 'linkifyjs';
import { nameWordsOf, redactNames } from './name-redaction.js';
import { matchingView, replaceInOriginal, rewriteView, type ViewSpan } from './text-view.js';

export { redactedName } from './name-redaction.js';

/** What replaces the subject's data and any other address in redacted text. */
export const redactedEmail = '[email]';
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

/**
 * Reads every written form of an address's `@` and `.` as the plain character, so that one matcher sees
 * `sob.x&#x40;example.net`, `sob.x%2540example.net`, `sob.x%EF%BC%A0example.net`, `sob&#46;x@example&#46;net`
 * and `sob.x＠example.net` as `sob.x@example.net`: wherever the text's matching view (text-view.ts, every
 * escape decoded, compatibility forms folded) has an `@` or a `.`, the text gets that character. Escapes of
 * other characters stay as written (`&#60;` is not turned into `<`); then Unicode compatibility forms are
 * folded (NFKC: full-width letters are ASCII).
 */
export function decodeAddressMarks(text: string): string {
  const view = matchingView(text);
  const marks: ViewSpan[] = [];
  for (const match of view.text.matchAll(/[@.]/g)) {
    const at = match.index ?? 0;
    if (text.slice(view.starts[at], view.ends[at]) !== match[0])
      marks.push({ start: at, end: at + 1, replacement: match[0] });
  }
  return replaceInOriginal(text, view, marks).normalize('NFKC');
}

/** Characters of an address's local part (RFC 5322's atext and the dot, letters of any script). */
const localPartChar = String.raw`[\p{L}\p{N}!#$%&'*+/=?^_\x60{|}~.-]`;

/**
 * The subject's address wherever the matching view (text-view.ts) holds it, in any case and in every
 * encoding of any of its characters, its local part quoted or not (`"mary.o'brien"@x.org`): a whole
 * address only, so that `joann@x.org` is not cut to `jo[email]` for a subject `ann@x.org` (it goes whole
 * with every other address).
 */
function subjectAddressSpans(seen: string, email: string): ViewSpan[] {
  const spans: ViewSpan[] = [];
  const forms = new Set(
    [email, decodeAddressMarks(email)].map((form) => matchingView(form).text.toLowerCase()),
  );
  for (const form of forms) {
    const at = form.lastIndexOf('@');
    if (at <= 0) continue;
    const local = escapeRegExp(form.slice(0, at));
    const domain = escapeRegExp(form.slice(at + 1));
    const pattern = new RegExp(
      String.raw`(?<!${localPartChar})(?:"${local}"|${local})@${domain}(?![\p{L}\p{N}-]|\.[\p{L}\p{N}])`,
      'giu',
    );
    for (const match of seen.matchAll(pattern)) {
      const start = match.index ?? 0;
      spans.push({ start, end: start + match[0].length, replacement: redactedEmail });
    }
  }
  return spans;
}

/**
 * How a GA client id's dots are written: plain, percent-encoded once or twice (a cookie header quoted in a
 * URL), JSON's `\u002e` and HTML's entities.
 */
const gaDot = String.raw`(?:\.|%2e|%252e|\\u002e|&#46;|&#x2e;)`;
/** A `_ga` cookie's prefix (`GA1.2.`, `GA1.2-3.` with a cookie path, `1.2.` in the oldest cookies). */
const gaCookiePrefix = String.raw`(?:GA)?\d{1,2}${gaDot}\d{1,2}(?:-\d{1,2})?${gaDot}`;
/** The client id itself when something says it is one: any digits, a dot (in any form), any digits. */
const gaIdInContext = String.raw`\d{1,20}${gaDot}\d{1,20}(?![\p{N}])`;
/**
 * Something that says the next number is a GA client id: a `_ga` cookie's own prefix (`GA1.2.`), or a
 * key that names one (`_ga`, `cid`, `client_id`, `clientId`, `client id`, a CRM column such as
 * `new_gaclientid`), followed by what separates a key from its value in a cookie, a query string, JSON
 * (quotes escaped or not) or prose: `=`, `:`, quotes, spaces, their percent-encodings.
 */
/**
 * What separates a key from its value: space, quotes, `=`, `:`, an XML tag's `>`, OData's `eq`, each also
 * percent-encoded once or twice (`%20eq%20%27`, `%2527`), JSON-escaped (`\u0027`, as Dataverse's .NET
 * serializer writes an apostrophe) or an HTML character reference (`&quot;`, `&#39;`).
 */
const gaSeparator = String.raw`(?:\s|\\?["']|%(?:25)?(?:2[027]|3[ad])|\\u00(?:2[027]|3[ad])|&(?:quot|apos|#3[49]|#x2[27]);|[=:>]|eq(?![\p{L}\p{N}]))`;
/**
 * A separator written as an escape, whose last characters are hex digits: a bare id may start right after
 * it (`%27123.1700000000%27`, `\u0027123.1700000000\u0027`), though it starts after a digit.
 */
const escapedSeparatorBefore = String.raw`(?<=%(?:25)?(?:2[027]|3[ad])|\\u00(?:2[027]|3[ad])|&#(?:3[49]|x2[27]);)`;
const gaContext = new RegExp(
  String.raw`((?:(?<![\p{L}\p{N}])(?:_ga|cid|[\p{L}_]*client[ _-]?id)${gaSeparator}{1,8}(?:${gaCookiePrefix})?|GA\d{1,2}${gaDot}\d{1,2}(?:-\d{1,2})?${gaDot}))${gaIdInContext}`,
  'giu',
);
/**
 * A client id with nothing around it saying so: up to 10 digits (a uint32 has at most 10, and no leading
 * zero; a random part of 0 has a chance of one in four billion, while a fraction `0.17…` is common), a dot
 * (in any form), and a 10-digit Unix time in seconds. Not part of a longer number or of a dotted version
 * (`1.12345.1700000000`, `12345.1700000000.2`).
 */
const bareGaClientId = new RegExp(
  String.raw`(?:${escapedSeparatorBefore}|(?<![\p{N}.+\-]))[1-9]\d{0,9}${gaDot}(\d{10})(?![\p{N}]|${gaDot}\p{N})`,
  'giu',
);
/** Google Analytics launched on 14 November 2005: no client id was made before (Unix seconds). */
const gaLaunch = 1_131_926_400;
/** Browsers' clocks run ahead: a client id's first-visit time is at most a year after now. */
const clockSkewSeconds = 366 * 24 * 3600;
/**
 * Words that name the number after them as something that is not a client id: a ticket, case or order
 * number, a version or build, a phone number (a `+` or `#` before the number says the same).
 */
const notAClientId =
  /(?:(?<![\p{L}\p{N}])(?:ticket|case|order|invoice|incident|issue|request|req|ref|reference|job|version|ver|v|build|release|phone|tel|telephone|mobile|fax)\.?\s*(?:(?:no|nr|num|number)\b\.?)?[\s:#-]*|[#+]\s*)$/iu;

/**
 * Redacts Google Analytics client ids by their shape, the subject's or anyone's: ids harvested from the
 * CRM are sealed in the ledger, out of the steps that meet a vendor's error quoting a `_ga` cookie, so the
 * caller cannot always name them.
 *
 * What a client id is: analytics.js and gtag.js keep it in the first-party `_ga` cookie, "a unique,
 * randomly generated string" (cloud.google.com/analytics/devguides/collection/analyticsjs/domains,
 * "Cookies and user identification"; cookie usage: cloud.google.com/analytics/resources/concepts/
 * gaConceptsCookies). The cookie's value is `GA1.<domain depth>.<random>.<first visit, Unix seconds>`
 * and the client id is its last two parts (shared/vendor-apis.md); the random part is a uint32, so 1 to 10
 * digits, and the Measurement Protocol's `cid` (cloud.google.com/analytics/devguides/collection/protocol/
 * v1/parameters) "pseudonymously identifies a particular user, device, or browser instance".
 *
 * The rule, in two tiers, because `digits.digits` is also a ticket number, a decimal or a version:
 * - With a GA context, any `digits.digits` goes, whatever its length or time: after a `_ga` cookie's
 *   `GA1.n.` prefix, or after a key that names a client id (`_ga=`, `cid=`, `"client_id":"`,
 *   `clientId:`, `new_gaclientid`), with the dot or the separators percent-encoded or JSON-escaped.
 * - Bare, only the form analytics.js writes: a random part of 1 to 10 digits and a 10-digit time between
 *   GA's launch (2005-11-14) and a year from now. That keeps US and UK phone numbers written with a dot
 *   (`1.2125551234`: their ten digits read as a time after 2033), long digit runs and versions. A word
 *   that names the number as something else before it (`ticket 12345.1700000000`, `case #…`,
 *   `version …`, `tel +…`) keeps it: the label decides, as a reader would.
 * The trade-off: privacy errs towards redacting, so a decimal printed with exactly ten fraction digits
 * that read as a plausible time (`3.1415926535`) is redacted too, and an unlabelled ticket number of that
 * shape is. A label is what lets an operator's ticket number survive.
 */
export function redactGaClientIds(text: string): string {
  const result = text.replace(gaContext, (_id, context: string) => context + redactedIdentifier);
  const latest = Math.floor(Date.now() / 1000) + clockSkewSeconds;
  return result.replace(bareGaClientId, (id, time: string, offset: number, whole: string) => {
    const seconds = Number(time);
    // A time GA cannot have written, or a label naming the number as something else: not a client id.
    if (seconds < gaLaunch || seconds > latest) return id;
    return notAClientId.test(whole.slice(Math.max(0, offset - 40), offset)) ? id : redactedIdentifier;
  });
}

/** The subject's identifiers wherever the matching view holds them, their dots or digits encoded or not. */
function identifierSpans(seen: string, identifiers: readonly string[]): ViewSpan[] {
  const needles = [...new Set(identifiers.map((id) => matchingView(id).text).filter((id) => id.length > 0))];
  if (needles.length === 0) return [];
  const pattern = new RegExp(
    needles
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|'),
    'giu',
  );
  return [...seen.matchAll(pattern)].map((match) => ({
    start: match.index ?? 0,
    end: (match.index ?? 0) + match[0].length,
    replacement: redactedIdentifier,
  }));
}

/**
 * Redacts one subject's data from free text (a vendor's error body, a log line, an operator's note), then
 * every other address-shaped text. Pure and deterministic (no hashing, no I/O), so workflow code may call
 * it too: an operator's note is redacted by the workflow that knows the CRM's names for the person.
 *
 * The subject's address is matched case-insensitively in its plain, percent-encoded, quoted and escaped
 * forms; their identifiers as given and with their dots encoded, and GA client ids by their shape in a GA
 * context (redactGaClientIds); their names by domain/name-redaction.ts `redactNames` (whole names in any
 * case, parts that are common words only where written as a name). Every other address is found by
 * linkify's email scanner (scrubAddresses) before names are looked for.
 */
export function redactText(text: string, subject: RedactionSubject = {}): string {
  let result = text;
  if (subject.email) {
    const view = matchingView(result);
    result = replaceInOriginal(result, view, subjectAddressSpans(view.text, subject.email));
  }
  // Every other address goes whole before names are looked for: `alonzo.church@x.org` is an address, not
  // two names (which would leave `[name].[name]@x.org`).
  result = scrubAddresses(result);
  if (subject.identifiers && subject.identifiers.length > 0) {
    const view = matchingView(result);
    result = replaceInOriginal(result, view, identifierSpans(view.text, subject.identifiers));
  }
  result = redactGaClientIds(result);
  return redactNames(result, subject.names ?? [], subject.email ? nameWordsOf(subject.email) : []);
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
 * shape for the top-level domains linkify does not know (`addressShape`). Every written form of `@` and `.`
 * (decodeAddressMarks: `%40`, `%2540`, `\u0040`, `&#x40;`, `&#0064;`, `&#46;`, `＠`) is read first, so
 * encoded addresses go too.
 */
export function scrubAddresses(text: string): string {
  let view = matchingView(text);
  if (!view.text.includes('@')) return text;
  // An address a mail client wrapped after its `@` (`mary@\nexample.com`) is still an address.
  view = rewriteView(view, /@[ \t]*\r?\n[ \t]*(?=[\p{L}\p{N}])/gu, () => '@');
  // RFC 5322 allows a quoted local part (`"mary o'brien"@x.org`); the scanner reads unquoted ones only.
  view = rewriteView(view, /"[^"\r\n]{1,64}"(?=@)/g, () => 'quoted');
  const spans: ViewSpan[] = linkify.find(view.text, 'email').map((match) => ({
    start: match.start,
    end: match.end,
    replacement: redactedEmail,
  }));
  // linkify knows the registered top-level domains only: what it left that still has an address's shape
  // (an internal `corp.local`, an address literal) is an address too.
  for (const match of view.text.matchAll(addressShape)) {
    const start = match.index ?? 0;
    spans.push({ start, end: start + match[0].length, replacement: redactedEmail });
  }
  return replaceInOriginal(text, view, spans);
}
