import { createHmac } from 'node:crypto';
import type { SubjectIdentifiers, VendorRecordRef } from '../connectors/connector.js';
import { NonRetryableVendorError, VendorError } from '../connectors/connector-errors.js';
import {
  type ErasureReceipt,
  inlineRecordLimit,
  type NotDeletedReason,
  parseGaClientId,
  type SystemErasureRecord,
  type UnusableIdentifier,
} from '../domain/erasure.js';
import type { HeldNow } from '../domain/hold.js';
import { maxRedactionNames } from '../domain/redaction-names.js';
import type { SystemName } from '../domain/systems.js';
import type { ErasureRecordEntry, ErasureRecordResult, Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import type { AccessExportStore } from '../privacy/access-export-store.js';
import { protectRecordIds } from '../privacy/keyed-id.js';
import { openIdentifiers, sealIdentifiers } from '../privacy/sealed-identifiers.js';
import type { SubjectDataKeys } from '../privacy/subject-data-keys.js';
import { adoptLegacySubjectKeys } from '../privacy/subject-key.js';
import { currentAttempt } from './attempt.js';
import type { ConnectorActivityInput, ConnectorCall } from './create-activities.js';
import type { WorkStarter } from './reconciliation-activities.js';

/** Statuses that mean the erasure reached the system: what a tombstone lists. */
const reachedStatuses = new Set(['erased', 'not_found', 'submitted']);

/** Records an erasure step names, and the request they belong to. */
export interface ErasureStepInput extends ConnectorActivityInput {
  system: SystemName;
  requestId: string;
}

/** What a harvest tells the workflow: counts and usable GA ids, never the record list. */
export interface PlannedErasure {
  /** The activity attempt this search succeeded on (activities/attempt.ts); absent in older histories. */
  attempt?: number;
  /** Names the subject, so the codec seals the harvested GA ids with their data key. */
  subjectKey?: string;
  /** Records the system holds for the subject right now. */
  found: number;
  /** Of those, the ones this erasure had not planned before. */
  newlyPlanned: number;
  /** The usable GA client ids harvested; empty when they were stored in the ledger instead (`gaClientIdPages`). */
  gaClientIds: string[];
  /**
   * Set when the harvested GA client ids were stored, sealed, in the ledger (`pageGaIds`): how many ids, in
   * how many pages. The Google step reads them from there, so no history event carries them.
   */
  harvestedGaIds?: { count: number; pages: number };
  gaUserIds: string[];
  /** The names the system holds for the person, so later calls can redact them from errors and logs. */
  names: string[];
  unusableIdentifiers: UnusableIdentifier[];
  /** Records the system deletes with the found ones, by kind (FindResult.dependents); absent when none. */
  dependents?: Record<string, number>;
}

/**
 * Deletes a page sends between two looks at the ledger for a legal hold: the most a hold placed mid-page
 * lets through (each delete is one vendor call, so at Dataverse's pace a batch is a second or two).
 */
export const holdCheckEvery = 20;

export interface DeletedPage {
  /** The activity attempt this page succeeded on (activities/attempt.ts); absent in older histories. */
  attempt?: number;
  deleted: number;
  alreadyGone: number;
  /** True when planned records remain after this page. */
  more: boolean;
  /**
   * Set when the step was asked to stop for a hold (`stopIfHeld`) and the person is on legal hold now: the
   * hold the ledger holds. The page stops at the batch where it saw the hold: `deleted` and `alreadyGone`
   * count what finished before (each of those records is marked in the ledger, the rest stay planned).
   */
  held?: HeldNow;
}

/** A harvest's input: with `pageGaIds`, the GA client ids found are stored in the ledger, not returned. */
export interface PlanStepInput extends ErasureStepInput {
  /** Set by erasures started after the ga-ids-paged patch (when the worker has subject data keys). */
  pageGaIds?: boolean;
}

/** A Google submission's input: with `harvestedGaIds`, the pages the harvest stored are submitted too. */
export interface SubmitStepInput extends DestructiveStepInput {
  harvestedGaIds?: boolean;
}

/**
 * GA client ids per sealed ledger page. Google's User Deletion API allows 500 deletions a day per property
 * (vendor-apis.md): a page of the whole quota could never be accepted in full on a day when anything else
 * used some, so pages are a tenth of it. Progress is kept per id anyway (the erasure's records), so a page
 * stopped by the quota goes on from its first id not yet accepted.
 */
export const harvestedIdPageSize = 50;

/** Ids per Google call of a submission (the connector sends them in parallel, paced per property). */
const googleSubmitBatch = 50;

/** A delete step's input: with `stopIfHeld`, it deletes nothing when the person is on hold now. */
export interface DestructiveStepInput extends ErasureStepInput {
  /** Set by erasures started after the hold-during-run patch; older ones delete whatever the ledger says. */
  stopIfHeld?: boolean;
}

/** A system's part of a receipt, bounded whatever the number of records. */
export interface ErasureSystemSummary {
  counts: Partial<Record<ErasureRecordResult, number>>;
  recordCount: number;
  recordsDigest: string;
  records: SystemErasureRecord[];
  recordsTruncated: boolean;
}

/** Records read from the ledger per query when a whole list is walked (digest, listing). */
const ledgerPage = 1000;

/**
 * The erasure's activities. The full list of records lives in the ledger, written here page by page; the
 * workflow only ever sees counts, a digest and the first `inlineRecordLimit` records, so its history stays
 * small whatever the number of records (a role address on 25,000 leads). Deleting by the ids harvested
 * before anything was deleted, and marking each as it goes, makes every attempt's work visible to the next:
 * a record deleted by an attempt that then crashed is still in the receipt, and a 404 on a harvested record
 * means it is gone (by an earlier attempt, or by someone else since the harvest).
 */
export function createErasureActivities({
  ledger,
  logger,
  subjectKeySecret,
  call,
  starter,
  accessExports,
  subjectKeys,
}: {
  ledger: Ledger;
  logger: Logger;
  subjectKeySecret: string;
  call: ConnectorCall;
  /** The access export store: the subject's exports still waiting for their expiry go with the erasure. */
  accessExports?: Pick<AccessExportStore, 'eraseRequest'>;
  /** Starts the shredding of the subject's data keys (crypto-shredding). */
  starter?: Pick<WorkStarter, 'shredWhenClosed' | 'endAccessRequestsOfErased'>;
  /** The subjects' data keys: harvested GA ids are sealed with them in the ledger (without them, returned). */
  subjectKeys?: SubjectDataKeys;
}) {
  const pageContext = (requestId: string, page: number) => `${requestId}/harvested-ga-client-ids/${page}`;
  /** The hold in force now, when the step should stop for one; read right before any vendor is written. */
  const holdInForce = async (input: DestructiveStepInput): Promise<HeldNow | undefined> => {
    if (!input.stopIfHeld) return undefined;
    const hold = await ledger.getHold(input.subjectKey);
    return hold && !hold.releasedAt ? { reason: hold.reason, placedAt: hold.placedAt } : undefined;
  };

  /** The harvested pages of an erasure, opened: one Google round per page, with only that page's ids. */
  const harvestedRounds = async (input: SubmitStepInput) => {
    if (!subjectKeys)
      throw new Error('harvested GA ids are sealed in the ledger, but this worker has no data keys');
    const keys = subjectKeys;
    const pages = await ledger.listHarvestedIdPages(input.requestId);
    return Promise.all(
      pages.map(async (page) => ({
        page: page.page,
        submittedAt: page.submittedAt,
        subject: {
          email: '',
          gaClientIds: await openIdentifiers(keys, pageContext(input.requestId, page.page), page.sealed),
          gaUserIds: [],
        },
      })),
    );
  };

  return {
    /**
     * Finds what the system holds and plans each record in the ledger (a record already planned or deleted
     * keeps its state). GA ids harvested from the records go through the intake parser: a `_ga` cookie is
     * reduced to its client id, and what cannot be one is counted in `unusableIdentifiers`, not sent.
     */
    planErasure(input: PlanStepInput): Promise<PlannedErasure> {
      return call(input, 'find', async (connector) => {
        const found = await connector.find(input.subject);
        const newlyPlanned = await ledger.planErasureRecords(
          input.requestId,
          input.system,
          protectRecordIds(subjectKeySecret, input.system, found.records).map(refOf),
        );
        const { usable, unusable } = usableGaClientIds(found.gaClientIds, input.system);
        // Stored sealed, page by page, so that no activity result or input grows with the CRM's rows.
        let harvestedGaIds: PlannedErasure['harvestedGaIds'];
        if (input.pageGaIds && subjectKeys) {
          const pages = [];
          for (let start = 0; start < usable.length; start += harvestedIdPageSize) {
            const page = start / harvestedIdPageSize;
            const ids = usable.slice(start, start + harvestedIdPageSize);
            const context = pageContext(input.requestId, page);
            pages.push({
              page,
              count: ids.length,
              sealed: await sealIdentifiers(subjectKeys, input.subjectKey, context, ids),
            });
          }
          await ledger.saveHarvestedIdPages(input.requestId, pages);
          harvestedGaIds = { count: usable.length, pages: pages.length };
        }
        return {
          attempt: currentAttempt(),
          subjectKey: input.subjectKey,
          found: found.records.length,
          newlyPlanned,
          gaClientIds: harvestedGaIds ? [] : usable,
          ...(harvestedGaIds ? { harvestedGaIds } : {}),
          gaUserIds: [...new Set(found.gaUserIds.map((id) => id.trim()).filter(Boolean))],
          // Bounded whatever the connector returned: the workflow passes them to every later step.
          names: (found.names ?? []).slice(0, maxRedactionNames),
          unusableIdentifiers: unusable,
          ...(found.dependents ? { dependents: found.dependents } : {}),
        };
      });
    },

    /**
     * Deletes up to `pageSize` planned records, marking each in the ledger as soon as the vendor answered,
     * so a crash loses at most the mark of the record in flight (its retry finds it gone and says so).
     */
    async deleteErasurePage(input: DestructiveStepInput & { pageSize: number }): Promise<DeletedPage> {
      // Checked at every attempt, so a hold placed while a page retries stops it before its next write.
      const held = await holdInForce(input);
      if (held) return { attempt: currentAttempt(), deleted: 0, alreadyGone: 0, more: true, held };
      return call(input, 'erase', async (connector) => {
        const planned = await ledger.listErasureRecords(input.requestId, {
          system: input.system,
          result: 'planned',
          limit: input.pageSize,
        });
        if (planned.length > 0 && !connector.deleteRecord) {
          throw new Error(`${input.system} found records but cannot delete single records`);
        }
        let deleted = 0;
        let alreadyGone = 0;
        for (const [index, record] of planned.entries()) {
          // A hold placed while a page is deleted stops it at the next batch, not after the whole page (up to
          // `pageSize` deletes): one ledger read per batch keeps the check cheap.
          if (index > 0 && index % holdCheckEvery === 0) {
            const heldNow = await holdInForce(input);
            if (heldNow)
              return { attempt: currentAttempt(), deleted, alreadyGone, more: true, held: heldNow };
          }
          let result: 'deleted' | 'already_gone';
          try {
            result = await (connector.deleteRecord?.(input.subject, record) ?? 'already_gone');
          } catch (error) {
            // A refusal retrying cannot fix (a 403) is noted on the record, which stays planned: an operator's
            // retry tries it again, and a close reports it `not_deleted` with the vendor's status.
            if (error instanceof NonRetryableVendorError) {
              await ledger.markErasureRecords(input.requestId, input.system, [
                {
                  ...refOf(record),
                  result: 'planned',
                  reason: 'refused_by_vendor',
                  ...(error.status ? { httpStatus: error.status } : {}),
                },
              ]);
            }
            throw error;
          }
          await ledger.markErasureRecords(input.requestId, input.system, [{ ...refOf(record), result }]);
          if (result === 'deleted') deleted++;
          else alreadyGone++;
        }
        return { attempt: currentAttempt(), deleted, alreadyGone, more: planned.length === input.pageSize };
      });
    },

    /**
     * Submits the deletions of a system that cannot be searched (Google Analytics) and records each one.
     * The identifiers are the request's and the harvested ones, both already through the intake parsers.
     */
    async submitErasure(
      input: SubmitStepInput,
    ): Promise<{ submitted: number; attempt?: number; held?: HeldNow }> {
      const held = await holdInForce(input);
      if (held) return { submitted: 0, attempt: currentAttempt(), held };
      return call(input, 'erase', async (connector) => {
        // The harvested pages (read from the ledger, sealed) go in rounds of their own: each names only its
        // page's client ids, never the address or user ids the request's own round names.
        const harvested = input.harvestedGaIds ? await harvestedRounds(input) : [];
        const rounds = [{ subject: input.subject }, ...harvested];
        const keyed = (records: VendorRecordRef[]) =>
          protectRecordIds(subjectKeySecret, input.system, records).map(refOf);
        // Planned before they are submitted: if Google refuses, the receipt still names each id (keyed) as
        // `not_deleted` once the system is closed or failed.
        for (const round of rounds) {
          await ledger.planErasureRecords(
            input.requestId,
            input.system,
            keyed(connector.plannedDeletions?.(round.subject) ?? []),
          );
        }
        // Deletions Google accepted before (an earlier round, attempt, retry or day; an id both given and
        // harvested) are never sent again: each one spends the property's daily quota.
        const done = new Set<string>();
        const keyOf = (ref: { kind: string; id: string; container?: string }) =>
          `${ref.kind}|${ref.container ?? ''}|${ref.id}`;
        for (let after: ErasureRecordEntry | undefined; ; ) {
          const page = await ledger.listErasureRecords(input.requestId, {
            system: input.system,
            result: 'submitted',
            after,
            limit: ledgerPage,
          });
          for (const record of page) done.add(keyOf(record));
          after = page.at(-1);
          if (page.length < ledgerPage) break;
        }
        // A connector that cannot name its deletions beforehand is sent everything, as before.
        const pending = (subject: SubjectIdentifiers) =>
          !connector.plannedDeletions ||
          keyed(connector.plannedDeletions(subject)).some((record) => !done.has(keyOf(record)));
        let submitted = 0;
        let acceptedNow = 0;
        const mark = async (records: (VendorRecordRef & { result: string; vendorTime?: string })[]) => {
          const marks = protectRecordIds(subjectKeySecret, input.system, records).map((record) => ({
            ...refOf(record),
            result: record.result as ErasureRecordResult,
            vendorTime: record.vendorTime,
          }));
          await ledger.markErasureRecords(input.requestId, input.system, marks);
          for (const record of marks) {
            if (record.result === 'submitted' && !done.has(keyOf(record))) {
              done.add(keyOf(record));
              acceptedNow++;
            }
          }
        };
        for (const round of rounds) {
          // A page Google accepted in an earlier attempt is not sent again: the retry resumes after it.
          if ('submittedAt' in round && round.submittedAt) continue;
          const one = (ids: Partial<SubjectIdentifiers>) => ({
            email: '',
            gaClientIds: [],
            gaUserIds: [],
            ...ids,
          });
          const email =
            round.subject.email && pending(one({ email: round.subject.email })) ? round.subject.email : '';
          const ids = [
            ...[...new Set(round.subject.gaClientIds)]
              .filter((id) => pending(one({ gaClientIds: [id] })))
              .map((id) => ({ gaClientIds: [id], gaUserIds: [] as string[] })),
            ...[...new Set(round.subject.gaUserIds)]
              .filter((id) => pending(one({ gaUserIds: [id] })))
              .map((id) => ({ gaClientIds: [] as string[], gaUserIds: [id] })),
          ];
          // In calls of `googleSubmitBatch` ids: a quota that runs out mid-call wastes at most one batch of
          // refused requests, and what Google accepted before the refusal is marked from the failure.
          const batches: SubjectIdentifiers[] = [];
          for (let start = 0; start < ids.length || (start === 0 && email); start += googleSubmitBatch) {
            const slice = ids.slice(start, start + googleSubmitBatch);
            batches.push({
              ...round.subject,
              email: start === 0 ? email : '',
              gaClientIds: slice.flatMap((i) => i.gaClientIds),
              gaUserIds: slice.flatMap((i) => i.gaUserIds),
            });
          }
          for (const batch of batches) {
            try {
              // An id pending in one property of several goes only to the properties that lack it.
              const result = await connector.erase(batch, {
                skip: (record) => done.has(keyOf(keyed([record])[0] ?? record)),
              });
              await mark(result.records);
              submitted += result.records.length;
            } catch (error) {
              if (error instanceof VendorError) {
                if (error.accepted?.length) await mark(error.accepted);
                error.progress = acceptedNow;
                error.submittedTotal = done.size;
              }
              throw error;
            }
          }
          if ('page' in round) {
            await ledger.markHarvestedIdPageSubmitted(input.requestId, round.page, new Date().toISOString());
          }
        }
        return { submitted, attempt: currentAttempt() };
      });
    },

    /**
     * Counts, a keyed digest of the whole list, and the first records, read back from the ledger. With
     * `notDeleted` (a system that ended failed or closed), every record still planned is first marked
     * `not_deleted` with that reason (or the vendor's refusal noted on it), so the receipt names every
     * planned record with its outcome and its digest covers them too.
     */
    async summariseErasureSystem(input: {
      requestId: string;
      system: SystemName;
      notDeleted?: NotDeletedReason;
    }): Promise<ErasureSystemSummary> {
      if (input.notDeleted) {
        await ledger.markErasureRecordsNotDeleted(input.requestId, input.system, input.notDeleted);
      }
      const counts = await ledger.countErasureRecords(input.requestId, input.system);
      const digest = createHmac('sha256', subjectKeySecret);
      let recordCount = 0;
      const first: SystemErasureRecord[] = [];
      let after: ErasureRecordEntry | undefined;
      for (;;) {
        const page = await ledger.listErasureRecords(input.requestId, {
          system: input.system,
          after,
          limit: ledgerPage,
        });
        for (const record of page) {
          if (record.result === 'planned') continue;
          recordCount++;
          digest.update(`${record.kind}\t${record.container ?? ''}\t${record.id}\t${record.result}\n`);
          if (first.length < inlineRecordLimit) first.push(receiptRecord(input.system, record));
        }
        after = page.at(-1);
        if (page.length < ledgerPage) break;
      }
      return {
        counts,
        recordCount,
        recordsDigest: digest.digest('hex'),
        records: first,
        recordsTruncated: recordCount > first.length,
      };
    },

    /**
     * A follow-up erasure carries requests that arrived while the erasure before it wrote its receipt: their
     * deadline is this follow-up's (its request id, received when the earliest of them was), so it stays open
     * until this follow-up's receipt is stored (recordErasureOutcome completes it), not the first one's.
     * Idempotent: a retry finds the row registered.
     */
    async registerFollowUpDeadline(input: {
      requestId: string;
      subjectKey: string;
      receivedAt: string;
    }): Promise<void> {
      await ledger.registerRequest({
        requestId: input.requestId,
        kind: 'erasure',
        subjectKey: input.subjectKey,
        receivedAt: input.receivedAt,
        registeredAt: new Date().toISOString(),
      });
    },

    /**
     * The first erasure of this subject, when there was one: a new erasure is then a re-erasure. Given the
     * address, what the ledger holds under the keys older versions gave its other spellings (IDN or ASCII
     * domain, root dot) is first moved to the subject key (adoptLegacySubjectKeys), so the erasure finds the
     * person's tombstone and consent evidence whichever spelling they were recorded under.
     */
    async loadTombstone(
      // An object (`subjectKey` beside the address) so the codec seals the address with the person's data
      // key; a bare key is what erasures started before took.
      subject: string | { subjectKey: string; email?: string },
    ): Promise<{ firstRequestId: string } | undefined> {
      const { subjectKey, email } = typeof subject === 'string' ? { subjectKey: subject } : subject;
      if (email) {
        const adopted = await adoptLegacySubjectKeys(ledger, email, subjectKeySecret);
        if (adopted.length > 0) {
          logger.info(
            { subjectKey, legacyKeys: adopted.length },
            'ledger rows of legacy subject keys re-keyed',
          );
        }
      }
      const tombstone = await ledger.getTombstone(subjectKey);
      return tombstone ? { firstRequestId: tombstone.firstRequestId } : undefined;
    },

    /**
     * Makes an erasure's outcome outlive Temporal's retention: the receipt (once, however often this runs),
     * the subject's tombstone with the systems it reached, and the systems it did not reach as follow-ups.
     * The tombstone is written even when a system failed: it stops new grants and triggers re-erasure. The
     * consent events (the opt-out evidence among them) are deleted only once no system is left to erase.
     * Each step is idempotent, so a retry after a crash between them finishes the job without duplicates.
     */
    async recordErasureOutcome(
      receipt: ErasureReceipt,
    ): Promise<{ receiptInserted: boolean; eventsDeleted: number; systemsToFollowUp: SystemName[] }> {
      const { inserted } = await ledger.recordReceipt(receipt);
      // The person's request is answered: it leaves the deadline queue (`consent-hub requests --overdue`).
      await ledger.completeRequest(receipt.requestId, receipt.completedAt);
      const entries = Object.entries(receipt.systems) as [
        SystemName,
        ErasureReceipt['systems'][SystemName],
      ][];
      const reached = entries
        .filter(([, state]) => reachedStatuses.has(state.status))
        .map(([system]) => system);
      await ledger.recordTombstone({
        subjectKey: receipt.subjectKey,
        erasedAt: receipt.completedAt,
        systems: reached,
        firstRequestId: receipt.reErasureOf ?? receipt.requestId,
        lastRequestId: receipt.requestId,
      });
      const systemsToFollowUp = await ledger.updateErasureFollowUps({
        subjectKey: receipt.subjectKey,
        requestId: receipt.requestId,
        open: entries
          .filter(([, state]) => !reachedStatuses.has(state.status))
          .map(([system, state]) => ({ system, status: state.status })),
        reached,
        at: receipt.completedAt,
      });
      const eventsDeleted =
        systemsToFollowUp.length === 0 ? await ledger.deleteConsentEvents(receipt.subjectKey) : 0;
      // The API's idempotency records about the subject hold an HMAC of a body that held their address.
      const idempotencyDeleted = await ledger.deleteIdempotentResponses({ subjectKey: receipt.subjectKey });
      // The person's access requests still running end now (their receipts say so), before their key can go:
      // none of them outlives the shredding.
      const accessRequestIds = (
        await ledger.listRequestDeadlines({ kind: 'access', subjectKey: receipt.subjectKey })
      ).map((request) => request.requestId);
      const accessRequestsEnded =
        (await starter?.endAccessRequestsOfErased?.({
          subjectKey: receipt.subjectKey,
          erasureRequestId: receipt.requestId,
          accessRequestIds,
        })) ?? 0;
      // An access export waiting for its expiry is a copy of the person's data: it goes with them now, and a
      // fetch of it answers that it was erased (a copy kept elsewhere dies with their data key).
      const exportsErased = await eraseSubjectAccessExports(ledger, accessExports, receipt.subjectKey);
      // Operators' words about the person's requests (extension reasons, close notes) go with them: one stored
      // before its names could be checked, or by an older build, would otherwise outlive the erasure.
      const operatorTextsErased = await ledger.eraseOperatorTexts(receipt.subjectKey, [receipt.requestId]);
      // Crypto-shredding: once nothing is left to follow up, the subject's data keys go as soon as their
      // workflows have closed (this one included): every payload of theirs in any history becomes unreadable.
      if (systemsToFollowUp.length === 0) {
        await starter?.shredWhenClosed?.({
          subjectKey: receipt.subjectKey,
          requestId: receipt.requestId,
          before: receipt.completedAt,
        });
      }
      logger.info(
        {
          subjectKey: receipt.subjectKey,
          requestId: receipt.requestId,
          receiptInserted: inserted,
          eventsDeleted,
          idempotencyDeleted,
          exportsErased,
          operatorTextsErased,
          accessRequestsEnded,
          systemsToFollowUp,
        },
        'erasure outcome recorded in the ledger',
      );
      return { receiptInserted: inserted, eventsDeleted, systemsToFollowUp };
    },
  };
}

/**
 * Deletes the export files of every access request of the subject (the ledger's request list names them by
 * subject key); answers how many files went. Without an export store on this worker, none.
 */
async function eraseSubjectAccessExports(
  ledger: Pick<Ledger, 'listRequestDeadlines'>,
  exports: Pick<AccessExportStore, 'eraseRequest'> | undefined,
  subjectKey: string,
): Promise<number> {
  if (!exports) return 0;
  let erased = 0;
  for (const request of await ledger.listRequestDeadlines({ kind: 'access', subjectKey })) {
    erased += await exports.eraseRequest(request.requestId);
  }
  return erased;
}

function refOf(record: VendorRecordRef): { kind: string; id: string; container?: string } {
  return { kind: record.kind, id: record.id, ...(record.container ? { container: record.container } : {}) };
}

function receiptRecord(system: SystemName, record: ErasureRecordEntry): SystemErasureRecord {
  return {
    kind: record.kind,
    id: record.id,
    ...(record.container ? { container: record.container } : {}),
    result: record.result as SystemErasureRecord['result'],
    ...(record.result === 'not_deleted' && record.reason ? { reason: record.reason } : {}),
    ...(record.result === 'not_deleted' && record.httpStatus ? { httpStatus: record.httpStatus } : {}),
    ...(record.vendorTime ? { vendorTime: record.vendorTime } : {}),
    // The Dynamics connector answers deleted or already gone only once DeleteRecordChangeHistory succeeded.
    ...(system === 'dynamics' ? { auditHistoryRemoved: record.result !== 'not_deleted' } : {}),
  };
}

/** GA client ids harvested from a system, through the intake parser; unusable ones counted by reason. */
export function usableGaClientIds(
  raw: string[],
  source: string,
): { usable: string[]; unusable: UnusableIdentifier[] } {
  const usable = new Set<string>();
  const unusable = new Map<string, UnusableIdentifier>();
  for (const value of raw) {
    if (value.trim() === '') continue;
    const parsed = parseGaClientId(value);
    if (parsed.ok) {
      usable.add(parsed.id);
      continue;
    }
    const known = unusable.get(parsed.reason);
    if (known) known.count++;
    else unusable.set(parsed.reason, { kind: 'gaClientId', source, reason: parsed.reason, count: 1 });
  }
  return { usable: [...usable], unusable: [...unusable.values()] };
}
