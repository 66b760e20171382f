import type { ConsentStateRequest, ConsentStateResult, SubjectIdentifiers } from '../connectors/connector.js';
import type { Purpose } from '../domain/purposes.js';
import { maxRedactionNames } from '../domain/redaction-names.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import { keyedVendorId } from '../privacy/keyed-id.js';
import { currentAttempt } from './attempt.js';
import { recordConsentStateWritten } from './consent-state-record.js';
import type { ConnectorActivityInput, ConnectorCall } from './create-activities.js';

/** GA ids per Google round of the consent lane: what one connector call submits at most. */
export const googleConsentPageSize = 500;

/** The consent lane's Google step: its input (the person's address; GA ids, if any, as given). */
export interface GoogleConsentFromCrmInput extends ConnectorActivityInput {
  request: ConsentStateRequest;
  eventIds: Partial<Record<Purpose, string>>;
}

/**
 * What the step answers: the lane's result as `applyConsentStateInSystem` answers it, plus counts and a keyed
 * digest of the ids submitted, and the CRM's names for the person (at most `maxRedactionNames`, for
 * redacting operator texts). Shape and size do not depend on how many rows the CRM holds for the address.
 */
export interface GoogleConsentFromCrmResult extends Omit<ConsentStateResult, 'records'> {
  writtenAt: string;
  /** Names the payload after its subject, so the codec seals it (names) with the person's data key. */
  subjectKey: string;
  names: string[];
  /** How many GA ids Google was sent, in how many rounds, and a keyed digest of the set (`hmac:` + hex). */
  submitted: { gaClientIds: number; gaUserIds: number; pages: number; digest: string };
  attempt?: number;
}

/**
 * The consent workflow's Google lane in one activity (issue 15): reads the CRM for the GA ids it holds for
 * the person, submits Google's user deletion for them page by page (`googleConsentPageSize` ids a round),
 * and records the written state in the ledger as `applyConsentStateInSystem` does (one row per system: the
 * outcome, `userDeletion` = Google's latest deletion time, each purpose's answer). No GA id and at most
 * `maxRedactionNames` names leave the activity, so a role address on 25,000 leads gives the same small
 * history as a person with one. A retry reads the CRM again and submits every page again: Google's user
 * deletion is idempotent, as the earlier two-step lane's retry of Google's step was.
 */
export function createGoogleConsentActivities({
  ledger,
  logger,
  subjectKeySecret,
  call,
}: {
  ledger: Ledger;
  logger: Logger;
  subjectKeySecret: string;
  call: ConnectorCall;
}) {
  return {
    /**
     * The CRM's names for the person (Dynamics' first and last names), at most `maxRedactionNames`, for
     * redacting notes and operator texts: only the names, never the records or GA ids the find also gives,
     * so the answer is the same size for an address on one row or 25,000. Shape: { subjectKey, names }.
     */
    async findCrmNames(input: ConnectorActivityInput): Promise<{ subjectKey: string; names: string[] }> {
      const found = await call({ ...input, system: 'dynamics' }, 'find', (c) => c.find(input.subject));
      return { subjectKey: input.subjectKey, names: (found.names ?? []).slice(0, maxRedactionNames) };
    },

    async applyGoogleConsentFromCrm(input: GoogleConsentFromCrmInput): Promise<GoogleConsentFromCrmResult> {
      const found = await call({ ...input, system: 'dynamics' }, 'find', (c) => c.find(input.subject));
      const names = (found.names ?? []).slice(0, maxRedactionNames);
      const distinct = (ids: string[]) => [...new Set(ids.map((id) => id.trim()).filter(Boolean))].sort();
      const gaClientIds = distinct([...input.subject.gaClientIds, ...found.gaClientIds]);
      const gaUserIds = distinct([...input.subject.gaUserIds, ...found.gaUserIds]);
      const ids = [
        ...gaClientIds.map((id) => ({ kind: 'client' as const, id })),
        ...gaUserIds.map((id) => ({ kind: 'user' as const, id })),
      ];
      // One round even with no id: Google's connector answers `not_found` or `not_applicable` for it.
      const pages: SubjectIdentifiers[] = [];
      for (let start = 0; start === 0 || start < ids.length; start += googleConsentPageSize) {
        const page = ids.slice(start, start + googleConsentPageSize);
        pages.push({
          email: input.subject.email,
          gaClientIds: page.filter((i) => i.kind === 'client').map((i) => i.id),
          gaUserIds: page.filter((i) => i.kind === 'user').map((i) => i.id),
          names,
        });
      }
      const results: Omit<ConsentStateResult, 'records'>[] = [];
      let submittedRecords = 0;
      for (const subject of pages) {
        const { records, ...result } = await call({ ...input, subject }, 'applyConsentState', (c) => {
          if (!c.applyConsentState) throw new Error(`${input.system} cannot write consent state`);
          return c.applyConsentState(subject, input.request);
        });
        submittedRecords += records.length;
        results.push(result);
        // The state does not call for a deletion (or there is no id): every round would answer the same.
        if (result.outcome !== 'applied') break;
      }
      const result = mergeRounds(results);
      const writtenAt = new Date().toISOString();
      await recordConsentStateWritten(ledger, {
        subjectKey: input.subjectKey,
        system: 'google',
        eventIds: input.eventIds,
        result,
        writtenAt,
      });
      const digest = keyedVendorId(
        subjectKeySecret,
        'google-consent-ids',
        ids.map((i) => `${i.kind}:${i.id}`).join('\n'),
      );
      logger.debug(
        { subjectKey: input.subjectKey, system: 'google', ids: ids.length, records: submittedRecords },
        'consent state written',
      );
      return {
        ...result,
        writtenAt,
        subjectKey: input.subjectKey,
        names,
        submitted: {
          gaClientIds: result.outcome === 'applied' ? gaClientIds.length : 0,
          gaUserIds: result.outcome === 'applied' ? gaUserIds.length : 0,
          pages: results.length,
          digest,
        },
        attempt: currentAttempt(),
      };
    },
  };
}

/**
 * One answer for the rounds of a submission, as one call for every id would have given it: the first
 * round's outcome and purposes (all rounds of an applied state are applied), and Google's latest deletion
 * time over all rounds as `userDeletion` and `vendorTime`.
 */
function mergeRounds(results: Omit<ConsentStateResult, 'records'>[]): Omit<ConsentStateResult, 'records'> {
  const [first, ...rest] = results;
  if (!first) throw new Error('no Google round was made');
  if (rest.length === 0 || first.outcome !== 'applied') return first;
  const latest =
    results
      .map((r) => r.vendorTime ?? '')
      .sort()
      .at(-1) || undefined;
  return {
    ...first,
    fields: { ...first.fields, userDeletion: latest ?? first.fields.userDeletion ?? 'submitted' },
    ...(latest ? { vendorTime: latest } : {}),
  };
}
