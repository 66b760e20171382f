import { domainToASCII, domainToUnicode } from 'node:url';
import { parse as parseSmtpAddress } from 'smtp-address-parser';
import { z } from 'zod';

/**
 * The one normalisation every identifier derives from: trimmed, Unicode NFC, lower-cased. The subject key,
 * Mailchimp's subscriber hash and Google's user-provided data all start from this form, so a person typed
 * as " Ada@Example.COM" and "ada@example.com" is one person everywhere.
 */
export function normaliseEmail(raw: string): string {
  return raw.trim().normalize('NFC').toLowerCase();
}

/**
 * The one form of a mailbox that the subject key is made from: the normalised address (normaliseEmail) with
 * its domain as Unicode (IDNA/UTS #46 through the WHATWG URL rules: `xn--bcher-kva.example` becomes
 * `bücher.example`) and without the DNS root's dot (`example.com.` becomes `example.com`). Spellings of one
 * mailbox give one form, so they give one person. The local part is kept as it is (a mail server decides what
 * it means). An address literal (`[192.0.2.1]`), or a domain the IDNA rules cannot read, keeps its domain.
 * Only for keys: vendors are always addressed with the form they hold.
 */
export function canonicalMailbox(email: string): string {
  const normal = normaliseEmail(email);
  const at = normal.lastIndexOf('@');
  if (at < 0) return normal;
  let domain = normal.slice(at + 1);
  if (domain.startsWith('[')) return normal;
  if (domain.endsWith('.') && !domain.endsWith('..')) domain = domain.slice(0, -1);
  const unicode = domainToUnicode(domain);
  return `${normal.slice(0, at + 1)}${unicode ? unicode.normalize('NFC') : domain}`;
}

/**
 * The spellings of a mailbox that the hub, before canonicalMailbox, read as different people: domain as
 * Unicode or as IDNA ASCII (`xn--`), with or without the root's dot, each normalised (normaliseEmail). The
 * canonical form is among them. Used to find what the ledger holds under the keys older versions gave.
 */
export function mailboxSpellings(email: string): string[] {
  const canonical = canonicalMailbox(email);
  const at = canonical.lastIndexOf('@');
  const domain = canonical.slice(at + 1);
  if (at < 0 || domain.startsWith('[')) return [canonical];
  const local = canonical.slice(0, at + 1);
  const ascii = domainToASCII(domain) || domain;
  const forms = [domain, ascii].flatMap((d) => [`${local}${d}`, `${local}${d}.`]);
  return [...new Set([canonical, ...forms.map(normaliseEmail)])];
}

/** Longest address the hub takes, in characters: RFC 5321's forward-path limit less its angle brackets. */
export const maxEmailLength = 254;

export type EmailParse = { ok: true; email: string } | { ok: false; reason: string };

/**
 * The one address parser of the hub, used at every boundary (CLI, API, webhook, reconciliation, data
 * harvested from vendors). It accepts what a mail server would: RFC 5321 mailbox syntax with RFC 6531's
 * UTF-8 local parts and domains (`lemmy&phil@example.com`, `"john doe"@example.com`, `用户@例子.广告`,
 * `user@[192.0.2.1]`, and an absolute domain `user@example.com.`), through smtp-address-parser, a grammar of
 * RFC 5321 rather than a hand regex, and stray dots in a local part that vendors hold (`a..b@example.jp`).
 * Refused is only what cannot be delivered to at all: no `@`, an empty part, a local part of dots only, bad
 * dots in the domain, a domain with one label. A one-character last label (`x@y.z`) is RFC 5321 syntax, and kept.
 *
 * Answers the normalised address (normaliseEmail), or a reason that never repeats the input, so it may go
 * into errors, logs and reports.
 */
export function parseEmail(raw: string): EmailParse {
  const email = normaliseEmail(raw);
  if (email === '') return { ok: false, reason: 'is empty' };
  if (email.length > maxEmailLength) {
    return { ok: false, reason: `is longer than ${maxEmailLength} characters` };
  }
  const at = email.lastIndexOf('@');
  if (at < 0) return { ok: false, reason: 'has no @' };
  if (at === 0) return { ok: false, reason: 'has nothing before the @' };
  if (at === email.length - 1) return { ok: false, reason: 'has nothing after the @' };
  const local = email.slice(0, at);
  // Stray dots in an unquoted local part (`a.@docomo.ne.jp`, `a..b@example.jp`, `.a@example.jp`) break
  // RFC 5321's dot-string, but Japanese carriers issued such addresses for years and CRMs and Mailchimp hold
  // them: the hub must be able to erase and opt them out. The grammar checks the rest with the dots tidied;
  // the address is kept as held. Dots alone are no local part.
  const tidied = local.startsWith('"') ? local : local.replace(/\.{2,}/g, '.').replace(/^\.|\.$/g, '');
  if (tidied === '') return { ok: false, reason: 'has only dots before the @' };
  try {
    // A domain written as an absolute name (`example.com.`, the DNS root's dot) is the same mailbox; CRMs hold
    // such addresses as typed. The grammar has no root dot, so the name is checked without it and kept as held.
    const domain = email.slice(at);
    parseSmtpAddress(tidied + (/[^.\]]\.$/.test(domain) ? domain.slice(0, -1) : domain));
    return { ok: true, email };
  } catch (error) {
    // The parser's own messages quote the input; only their kind is passed on.
    const message = error instanceof Error ? error.message : '';
    // The grammar has passed when the parser complains only of a one-character last label (`x@y.z`,
    // `a@192.0.2.1` unbracketed): RFC 5321's sub-domain is any Let-dig [Ldh-str], so that is the parser's
    // policy, not the RFC's, and a CRM that holds such an address must be able to have it erased.
    if (/top level domain label too short/.test(message)) return { ok: true, email };
    if (/fully qualified/.test(message)) {
      return { ok: false, reason: 'has a domain that is not fully qualified (it needs a dot)' };
    }
    if (/too long|length/i.test(message)) return { ok: false, reason: 'has a part that is too long' };
    return { ok: false, reason: 'is not an address under RFC 5321/6531' };
  }
}

/**
 * The address as written, for the value the hub writes to vendors (a rectification's new address): trimmed
 * and Unicode NFC, the local part's case kept, since RFC 5321 §2.4 leaves the local part's case to the
 * receiving host (`Zoë@example.com` may be another mailbox than `zoë@example.com`), and the domain
 * lower-cased (domains are case-insensitive). Matching and keys are unchanged: normaliseEmail and
 * canonicalMailbox of it give exactly what they give for `raw` (the domain keeps its case in the rare
 * spelling where lower-casing it first would change that).
 */
export function mailboxAsGiven(raw: string): string {
  const given = raw.trim().normalize('NFC');
  const at = given.lastIndexOf('@');
  if (at < 0) return given;
  const lowerDomain = `${given.slice(0, at + 1)}${given.slice(at + 1).toLowerCase()}`;
  return normaliseEmail(lowerDomain) === normaliseEmail(given) ? lowerDomain : given;
}

/** parseEmail, answering the address as written (mailboxAsGiven) instead of the normalised one. */
export function parseEmailAsGiven(raw: string): EmailParse {
  const parsed = parseEmail(raw);
  return parsed.ok ? { ok: true, email: mailboxAsGiven(raw) } : parsed;
}

/**
 * Like emailSchema, but yields the address as written (mailboxAsGiven): for a value written to vendors, never
 * for matching or keys (normalise it, or derive the subject key, which normalises). Parsing its output again
 * gives the same.
 */
export const emailAsGivenSchema = z.string({ error: 'email is required' }).transform((raw, context) => {
  const parsed = parseEmailAsGiven(raw);
  if (parsed.ok) return parsed.email;
  context.addIssue({ code: 'custom', message: `not a valid email address: ${parsed.reason}` });
  return z.NEVER;
});

/** True when the parser accepts the address. */
export function isEmailAddress(raw: string): boolean {
  return parseEmail(raw).ok;
}

/**
 * Accepts any case and surrounding whitespace; yields the normalised address. Never echoes the input: the
 * message says what is wrong, such as `not a valid email address: has no @`.
 */
export const emailSchema = z.string({ error: 'email is required' }).transform((raw, context) => {
  const parsed = parseEmail(raw);
  if (parsed.ok) return parsed.email;
  context.addIssue({ code: 'custom', message: `not a valid email address: ${parsed.reason}` });
  return z.NEVER;
});
export type Email = z.output<typeof emailSchema>;
