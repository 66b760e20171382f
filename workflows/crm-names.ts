import { isCancellation, log, patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { SubjectIdentifiers } from '../connectors/connector.js';
import type { ErasureTimings } from '../domain/erasure.js';
import { maxRedactionNames } from '../domain/redaction-names.js';
import { nonRetryableErrorTypes, systemActivityOptions } from './erasure-activity-options.js';

/**
 * Patch id (Temporal's `patched`): the names are read with `findCrmNames`, which answers only them (at most
 * `maxRedactionNames`). Before it: `findInSystem`, whose result also held every record and GA id of the rows.
 */
export const crmNamesBoundedPatch = 'crm-names-bounded';

/**
 * Patch id (Temporal's `patched`): a name lookup that failed is asked again the next time a text is to be
 * redacted (before it, the failure was kept for the rest of the run: every later text of the run went out
 * without the CRM's names), and the reader answers whether the names were read, so that a text whose names
 * could not be checked is withheld rather than kept as typed (README: "Operators' words and notes").
 */
export const crmNamesRetryPatch = 'crm-names-retry-after-failure';

/**
 * A reader of the CRM's names for a request's subject, for redacting operator texts (an extension reason, a
 * close note) asked through `redactOperatorTextWithCrmNamesUpdate`: one Dynamics find per run once it has
 * answered, shared by every caller at once, capped at 30 seconds so a CRM that does not answer (or is not
 * configured) never holds the request back; the names found go to `into`, at most `maxRedactionNames` in
 * all. Answers true once the names were read, false when the lookup failed (then, with `crmNamesRetryPatch`,
 * the next call asks again). Never throws but for a cancellation.
 */
export function crmNamesReader(options: {
  subjectKey: string;
  subject: () => SubjectIdentifiers;
  timings: ErasureTimings;
  into: string[];
}): () => Promise<boolean> {
  const lookup = proxyActivities<Activities>({
    ...systemActivityOptions('dynamics', options.timings),
    scheduleToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes },
  });
  let read: Promise<boolean> | undefined;
  return () => {
    read ??= (async () => {
      try {
        const input = {
          system: 'dynamics' as const,
          subjectKey: options.subjectKey,
          subject: options.subject(),
        };
        // Issue 15: only the names come back, not every record and GA id of an address on thousands of rows.
        const found = patched(crmNamesBoundedPatch)
          ? await lookup.findCrmNames(input)
          : await lookup.findInSystem(input);
        for (const name of found.names ?? []) if (!options.into.includes(name)) options.into.push(name);
        options.into.splice(maxRedactionNames);
        return true;
      } catch (error) {
        if (isCancellation(error)) throw error;
        log.warn('the CRM could not be asked for the names to redact from an operator text', {
          subjectKey: options.subjectKey,
        });
        // Issue 16: forgotten, so the next text asks again instead of reusing this failure.
        if (patched(crmNamesRetryPatch)) read = undefined;
        return false;
      }
    })();
    return read;
  };
}
