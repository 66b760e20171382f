/**
 * The most names an erasure carries for redaction. Every activity the erasure schedules after the harvest
 * carries the subject's names in its input, so an unbounded list makes the history grow with rows × pages:
 * a role address (`info@…`) on 25,000 leads holds 25,000 distinct names, and the history passed Temporal's
 * message limit (issue 15). A person's own records hold a handful of names (first and last name on a
 * contact and a lead), so 20 keeps every name of the normal case; an address that holds more is a shared
 * one, whose rows are not one person, and the names most of its rows share are the ones a vendor's error
 * is most likely to quote.
 */
export const maxRedactionNames = 20;

/**
 * The `limit` names that occur most often in `occurrences` (one entry per time a name was seen: each row's
 * first and last name), trimmed, blanks dropped, distinct. Ties go by code-point order, so the same rows
 * give the same list in any order (a retried harvest, a replay). Shape: string[] of at most `limit`.
 */
export function mostFrequentNames(occurrences: Iterable<string>, limit = maxRedactionNames): string[] {
  const counts = new Map<string, number>();
  for (const raw of occurrences) {
    const name = raw.trim();
    if (name !== '') counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts]
    .sort(([a, countA], [b, countB]) => countB - countA || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, limit)
    .map(([name]) => name);
}

/**
 * What is stored in place of an operator's or requester's free text (an extension reason, a close note, a
 * consent note) when the names the CRM holds for its subject could not be read (Dynamics down or slow; a
 * worker with no Dynamics configured has no CRM names and redacts with the address alone): the words may name the person, and unchecked they are not kept (README: "Operators' words and
 * notes"). The action itself goes ahead; the text can be given again once the CRM answers.
 */
export const withheldTextMarker = "[withheld: the CRM's names for the person could not be checked]";

/**
 * What a call for many people at once (the bulk path's vendor calls) keeps, in its failure and its log lines,
 * instead of the vendor's words: they may quote any of its people, whose names are not read for a call of
 * hundreds and whose data keys cannot seal one text.
 */
export const withheldBatchWords = '[withheld: a call for many people may name any of them]';

/** The failure type a workflow answers `redactOperatorTextWithCrmNames` with when it could not read the names. */
export const crmNamesUnavailableType = 'CrmNamesUnavailable';
