import { createHmac } from 'node:crypto';
import { canonicalMailbox, mailboxSpellings, normaliseEmail } from '../domain/email.js';
import type { Ledger } from '../ledger/ledger.js';

/**
 * The subject key: HMAC-SHA256 of the mailbox's canonical form (canonicalMailbox: normalised, domain in
 * Unicode, no root dot) under CONSENT_HUB_SUBJECT_KEY_SECRET, so `ada@bücher.example`,
 * `ada@xn--bcher-kva.example` and `ada@bücher.example.` are one person. It is the only person identifier
 * allowed in workflow ids, search attributes, log lines and metric labels. Without the secret it cannot be
 * turned back into an address, nor computed from a guessed one.
 *
 * Keys of older versions: before the canonical form, the key was the HMAC of the normalised address as given,
 * so each spelling had its own key. The ledger holds no addresses, so those rows cannot be re-keyed by a
 * migration; instead they are re-keyed the first time the address is seen again (adoptLegacySubjectKeys).
 */
export function subjectKeyFor(email: string, secret: string): string {
  return createHmac('sha256', secret).update(canonicalMailbox(email), 'utf8').digest('hex');
}

/**
 * The keys older versions gave the other spellings of this mailbox (the HMAC of each normalised spelling),
 * without the current key. Empty for a mailbox that has only one spelling.
 */
export function legacySubjectKeysFor(email: string, secret: string): string[] {
  const current = subjectKeyFor(email, secret);
  const keys = mailboxSpellings(email).map((spelling) =>
    createHmac('sha256', secret).update(normaliseEmail(spelling), 'utf8').digest('hex'),
  );
  return [...new Set(keys)].filter((key) => key !== current);
}

/** The request id a re-keying from a legacy key is recorded under in `subject_links`. */
export const canonicalKeyLink = 'canonical-subject-key';

/**
 * Moves what the ledger holds under the legacy keys of this mailbox (legacySubjectKeysFor) to its current
 * key, through the rectification's re-keying (ledger.rekeySubject: every table, one transaction, a
 * `subject_links` row from the old key to the new under `canonicalKeyLink`). Keys with nothing are left
 * alone, so an address seen again costs a lookup per spelling and no write. Called wherever the hub reads a
 * person's state by an address: an erasure's start, a consent change's tombstone check. Idempotent.
 * Answers the legacy keys that were moved.
 */
export async function adoptLegacySubjectKeys(
  ledger: Pick<Ledger, 'subjectKeyInUse' | 'rekeySubject'>,
  email: string,
  secret: string,
  at: string = new Date().toISOString(),
): Promise<string[]> {
  const to = subjectKeyFor(email, secret);
  const moved: string[] = [];
  for (const from of legacySubjectKeysFor(email, secret)) {
    if (!(await ledger.subjectKeyInUse(from))) continue;
    await ledger.rekeySubject({ from, to, requestId: canonicalKeyLink, at });
    moved.push(from);
  }
  return moved;
}

export const subjectKeyPattern = /^[0-9a-f]{64}$/;
