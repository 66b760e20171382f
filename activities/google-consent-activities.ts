import { ApplicationFailure } from '@temporalio/common';
import type { ConsentStateRequest, ConsentStateResult, SubjectIdentifiers } from '../connectors/connector.js';
import { VendorError } from '../connectors/connector-errors.js';
import type { UnusableIdentifier } from '../domain/erasure.js';
import type { Purpose } from '../domain/purposes.js';
import { maxRedactionNames } from '../domain/redaction-names.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import { keyedVendorId, protectRecordIds } from '../privacy/keyed-id.js';
import { currentAttempt } from './attempt.js';
import { recordConsentStateWritten } from './consent-state-record.js';
import type { ConnectorActivityInput, ConnectorCall } from './create-activities.js';
import { usableGaClientIds } from './erasure-activities.js';
import { failureTypes } from './vendor-failure.js';

/**
 * GA ids per Google round of the consent lane: what one connector call submits at most. Well below Google's
 * daily quota of 500 user deletions per property (vendor-apis.md): a round sends its ids in parallel, so a
 * quota that runs out mid-round wastes at most one round of refused calls, and every id Google accepted
 * before is recorded (the ledger's google_submissions) and never sent again.
 */
export const googleConsentPageSize = 50;

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
  /** GA client ids the request or the CRM held that the intake parser refused: counts by reason, no value. */
  unusableIdentifiers?: UnusableIdentifier[];
  attempt?: number;
}

/**
 * The consent workflow's Google lane in one activity (issue 15): reads the CRM for the GA ids it holds for
 * the person, submits Google's user deletion for them page by page (`googleConsentPageSize` ids a round),
 * and records the written state in the ledger as `applyConsentStateInSystem` does (one row per system: the
 * outcome, `userDeletion` = Google's latest deletion time, each purpose's answer). No GA id and at most
 * `maxRedactionNames` names leave the activity, so a role address on 25,000 leads gives the same small
 * history as a person with one. GA client ids go through the intake parser (`usableGaClientIds`): a `_ga`
 * cookie is sent as its client id, an id both given and harvested once, and what cannot be one is reported
 * (`unusableIdentifiers`, and the `unusableGaClientIds` field in the ledger), never sent or called applied.
 * Each deletion Google accepts is recorded in the ledger under the statistics withdrawal (keyed ids), even
 * when a later one in the same round was refused: a retry, an operator's retry or the run after the daily
 * quota's reset sends only the rest, so a person with more GA ids than the quota is done in
 * ceil(ids / quota) days. A failure carries how many deletions the attempt got accepted (`progress`), so the
 * workflow waits for the next reset instead of calling an operator while the lane moves on.
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
     * A worker with no CRM configured holds no CRM names: the answer is no names (texts are then redacted of
     * the address and its name-like words), as the bulk path's does, not a failure that would withhold every
     * operator text for good. A CRM that is configured but does not answer still fails (the text is withheld).
     */
    async findCrmNames(input: ConnectorActivityInput): Promise<{ subjectKey: string; names: string[] }> {
      try {
        const found = await call({ ...input, system: 'dynamics' }, 'find', (c) => c.find(input.subject));
        return { subjectKey: input.subjectKey, names: (found.names ?? []).slice(0, maxRedactionNames) };
      } catch (error) {
        if (error instanceof ApplicationFailure && error.type === failureTypes.notConfigured)
          return { subjectKey: input.subjectKey, names: [] };
        throw error;
      }
    },

    async applyGoogleConsentFromCrm(input: GoogleConsentFromCrmInput): Promise<GoogleConsentFromCrmResult> {
      const found = await call({ ...input, system: 'dynamics' }, 'find', (c) => c.find(input.subject));
      const names = (found.names ?? []).slice(0, maxRedactionNames);
      // The same parser as intake and erasure: a `_ga` cookie becomes its client id, garbage is counted
      // (by reason, never the value) instead of being sent; an id given and harvested is sent once.
      const fromRequest = usableGaClientIds(input.subject.gaClientIds, 'request');
      const fromCrm = usableGaClientIds(found.gaClientIds, 'dynamics');
      const gaClientIds = [...new Set([...fromRequest.usable, ...fromCrm.usable])].sort();
      const unusable = [...fromRequest.unusable, ...fromCrm.unusable];
      const gaUserIds = [
        ...new Set([...input.subject.gaUserIds, ...found.gaUserIds].map((id) => id.trim()).filter(Boolean)),
      ].sort();
      const ids = [
        ...gaClientIds.map((id) => ({ kind: 'client' as const, id })),
        ...gaUserIds.map((id) => ({ kind: 'user' as const, id })),
      ];
      const subjectOf = (page: typeof ids, email: string): SubjectIdentifiers => ({
        email,
        gaClientIds: page.filter((i) => i.kind === 'client').map((i) => i.id),
        gaUserIds: page.filter((i) => i.kind === 'user').map((i) => i.id),
        names,
      });
      // Progress is kept per statistics withdrawal: a retry, an operator's retry or the next day after the
      // daily quota sends only what Google has not accepted yet for it (a new withdrawal starts afresh).
      const scope = `consent/${input.subjectKey}/${input.eventIds.statistics ?? 'none'}`;
      const accepted = new Map(
        (await ledger.listGoogleSubmissions(scope)).map((entry) => [entry.recordKey, entry.vendorTime]),
      );
      const keyOf = (record: { kind: string; id: string; container?: string }) => {
        const [keyed] = protectRecordIds(subjectKeySecret, 'google', [record]);
        return `${record.kind}|${record.container ?? ''}|${keyed?.id ?? ''}`;
      };
      let acceptedNow = 0;
      const remember = async (
        records: { kind: string; id: string; container?: string; vendorTime?: string }[],
      ) => {
        const entries = records.map((record) => ({
          recordKey: keyOf(record),
          ...(record.vendorTime ? { vendorTime: record.vendorTime } : {}),
        }));
        await ledger.recordGoogleSubmissions(scope, entries, new Date().toISOString());
        for (const entry of entries) {
          if (!accepted.has(entry.recordKey)) acceptedNow++;
          accepted.set(entry.recordKey, entry.vendorTime);
        }
      };

      const statisticsCalledFor =
        input.request.decisions.statistics?.decision === 'withdrawn' &&
        input.request.changed.includes('statistics');
      const results: Omit<ConsentStateResult, 'records'>[] = [];
      let submittedRecords = 0;
      await call(input, 'applyConsentState', async (connector) => {
        if (!connector.applyConsentState) throw new Error(`${input.system} cannot write consent state`);
        const apply = connector.applyConsentState.bind(connector);
        // A connector that cannot name its deletions beforehand is sent everything, as before.
        const pending = (subject: SubjectIdentifiers) =>
          !connector.plannedDeletions ||
          connector.plannedDeletions(subject).some((record) => !accepted.has(keyOf(record)));
        // The address (Admin API user-provided data, when configured) goes with the first page only.
        const emailPending = pending(subjectOf([], input.subject.email));
        const todo = ids.filter((i) => pending(subjectOf([i], '')));
        const pages: SubjectIdentifiers[] = [];
        for (let start = 0; start < todo.length; start += googleConsentPageSize) {
          pages.push(
            subjectOf(
              todo.slice(start, start + googleConsentPageSize),
              pages.length === 0 && emailPending ? input.subject.email : '',
            ),
          );
        }
        if (pages.length === 0 && emailPending) pages.push(subjectOf([], input.subject.email));
        // Nothing left to send (every deletion accepted before) still asks the connector what the state calls
        // for, with no identifier and no call to Google, when nothing was ever accepted.
        if (pages.length === 0 && (accepted.size === 0 || !statisticsCalledFor))
          pages.push(subjectOf([], ''));
        for (const subject of pages) {
          try {
            // An id pending in one property of several goes only to the properties that lack it.
            const { records, ...result } = await apply(subject, input.request, {
              skip: (record) => accepted.has(keyOf(record)),
            });
            if (result.outcome === 'applied') await remember(records as { kind: string; id: string }[]);
            submittedRecords += records.length;
            results.push(result);
            // The state does not call for a deletion (or there is no id): every round would answer the same.
            if (result.outcome !== 'applied') break;
          } catch (error) {
            if (error instanceof VendorError) {
              // Deletions Google accepted before it refused (a 429 mid-page) are done: kept, never resent.
              if (error.accepted?.length) await remember(error.accepted);
              error.progress = acceptedNow;
              error.submittedTotal = accepted.size;
            }
            throw error;
          }
        }
      });
      const result =
        results.length > 0 && results[0]?.outcome !== 'applied'
          ? (results[0] as Omit<ConsentStateResult, 'records'>)
          : accepted.size > 0 && statisticsCalledFor
            ? appliedFrom([...accepted.values()])
            : mergeRounds(results);
      const withUnusable =
        unusable.length > 0
          ? {
              ...result,
              fields: {
                ...result.fields,
                // Evidence of what could not be sent, by reason and count only (never the value).
                unusableGaClientIds: unusable
                  .map((u) => `${u.count} from ${u.source}: ${u.reason}`)
                  .join('; '),
              },
            }
          : result;
      const writtenAt = new Date().toISOString();
      await recordConsentStateWritten(ledger, {
        subjectKey: input.subjectKey,
        system: 'google',
        eventIds: input.eventIds,
        result: withUnusable,
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
      const applied = withUnusable.outcome === 'applied';
      return {
        ...withUnusable,
        writtenAt,
        subjectKey: input.subjectKey,
        names,
        submitted: {
          gaClientIds: applied ? gaClientIds.length : 0,
          gaUserIds: applied ? gaUserIds.length : 0,
          pages: results.length,
          digest,
        },
        ...(unusable.length > 0 ? { unusableIdentifiers: unusable } : {}),
        attempt: currentAttempt(),
      };
    },
  };
}

/**
 * The lane's answer when Google accepted every deletion the withdrawal calls for, some of them on earlier
 * attempts or days: applied, with Google's latest deletion time over all of them.
 */
function appliedFrom(vendorTimes: (string | undefined)[]): Omit<ConsentStateResult, 'records'> {
  const latest =
    vendorTimes
      .map((t) => t ?? '')
      .sort()
      .at(-1) || undefined;
  return {
    outcome: 'applied',
    purposes: { statistics: 'applied' },
    fields: { userDeletion: latest ?? 'submitted' },
    ...(latest ? { vendorTime: latest } : {}),
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
