import { z } from 'zod';
import type { AccessReceipt } from '../domain/access.js';
import type { AddressChangeRefusal, AddressChangeResolution } from '../domain/address-change-refusal.js';
import { type ConsentApplicationOutcome, storedConsentEvidenceSchema } from '../domain/consent.js';
import type { ErasureReceipt, NotDeletedReason } from '../domain/erasure.js';
import type { LegalHold, RestrictionReceipt } from '../domain/hold.js';
import { closeReasonCodes, type OperatorLogEntry } from '../domain/operator.js';
import { consentDecisionSchema, type Purpose, purposeSchema } from '../domain/purposes.js';
import type { RectificationReceipt } from '../domain/rectification.js';
import type { RequestDeadline, RequestKind } from '../domain/request-deadline.js';
import type { SystemName } from '../domain/systems.js';

export { type ConsentEvidence, consentEvidenceSchema } from '../domain/consent.js';

/**
 * The ledger: consent-hub's own durable evidence, kept after Temporal has forgotten a closed workflow.
 * Activities write to it; workflows never touch it. One interface, two backends (SQLite by default,
 * PostgreSQL when DATABASE_URL is set), one set of versioned migrations.
 */
export interface Ledger {
  /**
   * Appends a consent event. Idempotent by `id`, enforced by the primary key on insert: a retried activity
   * or a copy of a webhook delivery writes nothing twice. The tombstone is checked in the same statement
   * (under a per-subject lock on PostgreSQL), so a write racing an erasure's clean-up can never outlive it:
   * a grant for an erased subject is `refused`; a withdrawal is kept while the erasure is incomplete (it is
   * opt-out evidence) and `not_kept` once every system was erased.
   */
  appendConsentEvent(event: ConsentEvent): Promise<ConsentAppendResult>;
  /** A subject's consent events, oldest `occurredAt` first (ties: `recordedAt`). */
  listConsentEvents(subjectKey: string): Promise<ConsentEvent[]>;
  /** Deletes a subject's consent events and their outcomes (after an erasure); answers how many events went. */
  deleteConsentEvents(subjectKey: string): Promise<number>;
  /**
   * What a system answered when a consent change was carried to it. A re-recorded outcome replaces the old.
   * Like every consent write, nothing is written once every system of the subject was erased.
   */
  recordConsentOutcome(outcome: ConsentOutcomeRecord): Promise<void>;
  listConsentOutcomes(subjectKey: string): Promise<ConsentOutcomeRecord[]>;
  /**
   * The consent state the hub wrote to one system (or why it could not), with the answers per purpose for
   * the decisions it was computed from, in one write. Replaces the system's previous state. A purpose's
   * answer already recorded as `applied` or `already` for the same event stays (it says what carrying that
   * decision did; a later write for another purpose, failed or not, does not change it), unless the new
   * answer is `withheld` (the tool no longer shows that grant).
   */
  recordSystemConsentState(state: SystemConsentStateRecord): Promise<void>;
  listSystemConsentStates(subjectKey: string): Promise<SystemConsentStateRecord[]>;
  /**
   * Subjects whose last consent write to `system` ended `failed` or `closed_by_operator`, at most `limit`,
   * in subject-key order after `after` (a key from the previous page): a caller pages through them all,
   * so subjects that cannot be repaired never hide the ones after them.
   */
  listUnresolvedConsentSubjects(system: SystemName, limit: number, after?: string): Promise<string[]>;

  /** Writes a receipt exactly as the workflow produced it, once per requestId, even under concurrent retries. */
  recordReceipt(receipt: ErasureReceipt): Promise<{ inserted: boolean }>;
  getReceipt(requestId: string): Promise<ErasureReceipt | undefined>;
  /** Receipts completed at or after `since` (all when absent), oldest first; optionally one subject's. */
  listReceipts(filter?: { since?: string; subjectKey?: string }): Promise<ErasureReceipt[]>;

  /**
   * Records what an erasure found before deleting anything: each record `planned`, once (a record already
   * known keeps its result, so a retried harvest never undoes a deletion). Answers how many were new.
   */
  planErasureRecords(requestId: string, system: SystemName, records: ErasureRecordRef[]): Promise<number>;
  /**
   * Names planned records of an erasure by another id of the same vendor record (a legal hold's restriction
   * found a Mailchimp member by contact id, which still finds it when its address changes; the harvest had
   * planned it by its keyed hash): each `from` still `planned` becomes `to`, or goes when `to` is already
   * there. A `from` deleted or otherwise done is left as it is.
   */
  readdressErasureRecords(
    requestId: string,
    system: SystemName,
    moves: { from: ErasureRecordRef; to: ErasureRecordRef }[],
  ): Promise<void>;
  /** Sets the result of records of an erasure (deleted, already_gone, submitted), creating them if new. */
  markErasureRecords(requestId: string, system: SystemName, records: ErasureRecordEntry[]): Promise<void>;
  /**
   * A system the erasure did not finish: every record still `planned` becomes `not_deleted`, keeping the
   * reason a vendor refusal left on it and taking `reason` otherwise. Answers how many were marked.
   */
  markErasureRecordsNotDeleted(
    requestId: string,
    system: SystemName,
    reason: NotDeletedReason,
  ): Promise<number>;
  /**
   * One page of an erasure's records in a stable order (system, kind, container, id), optionally only one
   * system's or one result's; `after` is the last record of the previous page.
   */
  listErasureRecords(
    requestId: string,
    options: { system?: SystemName; result?: ErasureRecordResult; after?: ErasureRecordEntry; limit: number },
  ): Promise<ErasureRecordEntry[]>;
  /**
   * Replaces the sealed pages of GA client ids an erasure harvested (page numbers from 0), all at once, so a
   * repeated harvest leaves exactly its own pages.
   */
  saveHarvestedIdPages(requestId: string, pages: HarvestedIdPage[]): Promise<void>;
  /** The erasure's harvested pages, by page number (`submittedAt` set once Google accepted the page). */
  listHarvestedIdPages(requestId: string): Promise<HarvestedIdPage[]>;
  /** Marks one harvested page as submitted to Google. */
  markHarvestedIdPageSubmitted(requestId: string, page: number, at: string): Promise<void>;
  /**
   * Records Google user deletions accepted under `scope` (a consent lane's statistics withdrawal); a key
   * recorded before keeps its first entry. Keys are keyed ids (`<kind>|<property>|<keyed id>`), never GA ids.
   */
  recordGoogleSubmissions(
    scope: string,
    entries: { recordKey: string; vendorTime?: string }[],
    at: string,
  ): Promise<void>;
  /** Every deletion recorded under `scope`, with Google's time for it. */
  listGoogleSubmissions(scope: string): Promise<{ recordKey: string; vendorTime?: string }[]>;
  /** How many of a system's records of one erasure have each result. */
  countErasureRecords(
    requestId: string,
    system: SystemName,
  ): Promise<Partial<Record<ErasureRecordResult, number>>>;

  /**
   * The systems an erasure left unreached (failed, closed) are opened for follow-up, and the ones it reached
   * closed, so a later erasure that reaches them clears them. Answers the subject's systems still open.
   */
  updateErasureFollowUps(update: {
    subjectKey: string;
    requestId: string;
    open: { system: SystemName; status: string }[];
    reached: SystemName[];
    at: string;
  }): Promise<SystemName[]>;
  /** Every subject with a system still to erase, oldest first. */
  listErasureFollowUps(): Promise<ErasureFollowUp[]>;

  /** Creates or extends the subject's tombstone (a later erasure adds systems and keeps the first time). */
  recordTombstone(tombstone: Tombstone): Promise<void>;
  getTombstone(subjectKey: string): Promise<Tombstone | undefined>;

  /** Reconciliation: the watermark per system, advanced only over what was fully handled. */
  getWatermark(system: SystemName): Promise<string | undefined>;
  setWatermark(system: SystemName, value: string): Promise<void>;
  /** Reconciliation run summaries, idempotent by runId (a re-recorded run replaces its summary). */
  recordRun(run: ReconciliationRunRecord): Promise<void>;
  /** The newest runs first. */
  listRuns(limit: number): Promise<ReconciliationRunRecord[]>;

  /**
   * Stores the first answer given for an idempotency key. Written once: when the key is already there (a
   * concurrent retry won), nothing changes and the stored record is returned, so every caller replays one answer.
   */
  saveIdempotentResponse(
    record: IdempotencyRecord,
  ): Promise<{ inserted: boolean; record: IdempotencyRecord }>;
  getIdempotentResponse(key: string): Promise<IdempotencyRecord | undefined>;
  /**
   * Deletes idempotency records about one subject (after their erasure), created before a time (expiry), or
   * one key; answers how many went. An empty filter deletes nothing.
   */
  deleteIdempotentResponses(filter: {
    subjectKey?: string;
    createdBefore?: string;
    key?: string;
  }): Promise<number>;

  /** Stores a subject's new data key, wrapped by a master key (privacy/subject-keys.ts). */
  saveSubjectDataKey(key: SubjectDataKeyRecord): Promise<void>;
  /** One data key by id, destroyed or not; undefined when it never existed. */
  getSubjectDataKey(keyId: string): Promise<SubjectDataKeyRecord | undefined>;
  /** The subject's newest data key that is not destroyed. */
  activeSubjectDataKey(subjectKey: string): Promise<SubjectDataKeyRecord | undefined>;
  /**
   * Destroys the subject's data keys (the wrapped key is erased), those created before `createdBefore` when
   * given; answers how many were live.
   */
  destroySubjectDataKeys(subjectKey: string, at: string, createdBefore?: string): Promise<number>;

  /** A consent event by its id (a consent change's request id), whoever's it is. */
  getConsentEvent(id: string): Promise<ConsentEvent | undefined>;

  /**
   * Appends an operator action to a request's log. Idempotent by `id`. On a request whose subject was erased
   * after it came in, the reason is stored as `eraseOperatorTexts` leaves it (`erasedReason`): a close note
   * written after the erasure's outcome does not outlive it.
   */
  recordOperatorAction(entry: OperatorActionRecord): Promise<void>;
  /** A request's operator actions, oldest first. */
  listOperatorActions(requestId: string): Promise<OperatorActionRecord[]>;
  /**
   * Removes the operators' words from the logs of a subject's requests (every request registered under
   * `subjectKey`, and `requestIds` besides): each `reason` becomes `erasedOperatorText`, an extension keeping
   * its `+N months (due ...)` prefix, which holds nothing about the person. Run when the subject is erased:
   * a text stored before its names could be checked must not outlive them. Answers how many rows changed.
   */
  eraseOperatorTexts(subjectKey: string, requestIds?: readonly string[]): Promise<number>;

  /**
   * Registers a person's request with its deadline (receivedAt + 1 calendar month, domain/request-deadline.ts).
   * Idempotent by requestId: a second request that joined the same one (an erasure asked for twice) keeps the
   * earlier receivedAt, so the stricter deadline holds. Answers the deadline as stored.
   */
  registerRequest(request: {
    requestId: string;
    kind: RequestKind;
    subjectKey: string;
    receivedAt: string;
    registeredAt: string;
  }): Promise<RequestDeadline>;
  getRequestDeadline(requestId: string): Promise<RequestDeadline | undefined>;
  /**
   * Extends an open request's deadline by `months` (the total at most 2, Art. 12(3)) and appends the
   * extension to the request's log (operator_actions, action `extend`), in one transaction. Refusals are
   * answered, not thrown: `not_found`, `completed`, or `limit` (with the months already granted).
   */
  extendRequestDeadline(extension: {
    requestId: string;
    months: number;
    reason: string;
    operator: string;
    at: string;
    actionId: string;
  }): Promise<
    | { extended: true; deadline: RequestDeadline }
    | { extended: false; refused: 'not_found' | 'completed' | 'limit'; deadline?: RequestDeadline }
  >;
  /** Marks a request completed (the first completion time stays); unknown ids are ignored. */
  completeRequest(requestId: string, completedAt: string): Promise<void>;
  /**
   * Requests by deadline, soonest due first: only open ones with `open`, only those due before `dueBefore`
   * (ISO 8601), only one kind or one subject's; at most `limit` (default 1000). With `completed`, only
   * completed ones, the most recently completed first (the console's "Recently completed").
   */
  listRequestDeadlines(filter?: {
    open?: boolean;
    completed?: boolean;
    dueBefore?: string;
    kind?: RequestKind;
    subjectKey?: string;
    limit?: number;
  }): Promise<RequestDeadline[]>;
  /**
   * Puts a person on hold. A hold in force is kept as it is (`placed: false`, the hold in force answered);
   * a released one is replaced by the new one.
   */
  placeHold(hold: Omit<LegalHold, 'releasedAt' | 'releasedBy' | 'releaseReason'>): Promise<{
    placed: boolean;
    hold: LegalHold;
  }>;
  /** Ends the hold in force; undefined when there is none (never held, or released already). */
  releaseHold(release: {
    subjectKey: string;
    releasedAt: string;
    releasedBy: string;
    releaseReason: NonNullable<LegalHold['releaseReason']>;
  }): Promise<LegalHold | undefined>;
  /**
   * Stores a console session by the hash of its token; expired sessions are deleted on the way, so the
   * table stays as small as the team.
   */
  createConsoleSession(session: ConsoleSessionRecord): Promise<void>;
  /** The session with this token hash while it lasts at `now` (ISO 8601); undefined when unknown or ended. */
  getConsoleSession(tokenHash: string, now: string): Promise<ConsoleSessionRecord | undefined>;
  /** Ends a session (sign-out); an unknown hash is ignored. */
  deleteConsoleSession(tokenHash: string): Promise<void>;
  /** The person's hold, in force or released; undefined when never held. */
  getHold(subjectKey: string): Promise<LegalHold | undefined>;
  /** Every hold the person had, oldest first, each with its release once it came; empty when never held. */
  listHolds(subjectKey: string): Promise<LegalHold[]>;
  /** Writes (or rewrites, on release) the restriction receipt of a held person's erasure. */
  recordRestriction(receipt: RestrictionReceipt): Promise<void>;
  getRestriction(requestId: string): Promise<RestrictionReceipt | undefined>;
  /**
   * Whether an erasure of the subject restricted their data (a restriction receipt names them): what the
   * tools then show (unsubscribed, `donot*` set, rows inactive) is the hub's own write, not the person's.
   */
  hasRestriction(subjectKey: string): Promise<boolean>;
  /** Writes an access request's receipt (again, idempotently: the last write wins). */
  recordAccessReceipt(receipt: AccessReceipt): Promise<void>;
  /** An access request's receipt, after Temporal has forgotten the workflow; undefined when unknown. */
  getAccessReceipt(requestId: string): Promise<AccessReceipt | undefined>;
  /**
   * The access receipts of the subject (and of the keys a rectification re-keyed to it: access receipts stay
   * under the key they were made for), oldest `completedAt` first. An access request's own export lists them.
   * An earlier key's receipts count for the key it was re-keyed to only up to the re-key (`linked_at`); after
   * it, and for the earlier key itself, they are that address's new owner's (followSubjectLinks).
   */
  listAccessReceipts(subjectKey: string): Promise<AccessReceipt[]>;
  /** The subject's restriction receipts (a held person's erasures), oldest `restrictedAt` first. */
  listRestrictions(subjectKey: string): Promise<RestrictionReceipt[]>;
  /** The subject's rectification receipts (stored under the key the person had afterwards), oldest first. */
  listRectifications(subjectKey: string): Promise<RectificationReceipt[]>;
  /**
   * The records rectifications wrote at a new address for the subject, from or to its key (or a key re-keyed to
   * it): keyed references only, as the ledger keeps them. Oldest first.
   */
  listRectificationMoves(subjectKey: string): Promise<RectificationMoveRecord[]>;

  /**
   * An email change (rectification): moves every row of the person from `from` to `to` (consent events and
   * their outcomes and written states, receipts, tombstone, follow-ups, holds, restriction and
   * rectification receipts, deadlines, idempotency records, data keys) and links the two keys, in one
   * transaction. A row the new key already has (its own state for a system, say) is kept, and the old one
   * dropped. Idempotent: a second call moves nothing. Answers the rows moved per table.
   */
  rekeySubject(link: {
    from: string;
    to: string;
    requestId: string;
    at: string;
  }): Promise<Record<string, number>>;
  /** True when any table that rekeySubject moves holds a row under the key. */
  subjectKeyInUse(subjectKey: string): Promise<boolean>;
  /**
   * True when the key has a life of its own since `since` (an ISO instant, the time a rectification re-keyed
   * it away): a row under it in any table rekeySubject moves (it emptied them at `since`, so every such row
   * came later; idempotency records excepted, a replay cache and no fact about anyone), an access receipt
   * completed after `since`, or a legacy spelling's link into it made after `since`. Used by
   * followSubjectLinks: an address given up and taken by someone else is no longer followed.
   */
  subjectKeyRecordedSince(subjectKey: string, since: string): Promise<boolean>;
  /** Where a subject key was re-keyed to, when it was. */
  getSubjectLink(from: string): Promise<{ to: string; requestId: string; linkedAt: string } | undefined>;
  /**
   * The keys re-keyed to `to` (its `subject_links` rows), oldest first: an earlier key of a chain points at
   * the key its person has now, with the request id of the rectification that first moved it.
   */
  listSubjectLinksTo(to: string): Promise<{ from: string; requestId: string; linkedAt: string }[]>;
  /**
   * Notes records a rectification wrote at the new address (keyed references, never ids or addresses), once
   * each: a repeat adds nothing.
   */
  recordRectificationMoves(moves: {
    subjectKey: string;
    newSubjectKey: string;
    system: string;
    recordKeys: string[];
    requestId: string;
    at: string;
  }): Promise<void>;
  /** Which of `recordKeys` an earlier rectification of `subjectKey` wrote at `newSubjectKey`'s address. */
  findRectificationMoves(query: {
    subjectKey: string;
    newSubjectKey: string;
    system: string;
    recordKeys: string[];
  }): Promise<string[]>;
  /**
   * The rectifications that moved records from or to `subjectKey` (`rectification_moves`, one row per
   * rectification and pair of keys, with the systems they wrote): an erasure of either key reaches the
   * records at the other address too when the ledger was not re-keyed.
   */
  listRectificationMovePairs(
    subjectKey: string,
  ): Promise<{ subjectKey: string; newSubjectKey: string; requestId: string; systems: string[] }[]>;
  recordRectification(receipt: RectificationReceipt): Promise<void>;
  getRectification(requestId: string): Promise<RectificationReceipt | undefined>;
  /**
   * Keeps a vendor's address change the hub refused (issue 18), open until acknowledged. Once per id: a
   * repeat (a retried delivery, a replayed activity) changes nothing, and an acknowledged one stays so.
   */
  recordAddressChangeRefusal(
    refusal: Omit<AddressChangeRefusal, 'resolvedAt' | 'resolvedBy' | 'resolution'>,
  ): Promise<void>;
  /** Refused address changes, oldest first: the person's (either key) and/or only the open ones. */
  listAddressChangeRefusals(query: {
    subjectKey?: string;
    open?: boolean;
    limit?: number;
  }): Promise<AddressChangeRefusal[]>;
  getAddressChangeRefusal(id: string): Promise<AddressChangeRefusal | undefined>;
  /**
   * Acknowledges an open refusal; undefined when there is no such refusal, the stored one (with its
   * earlier resolution) when it was acknowledged already.
   */
  resolveAddressChangeRefusal(resolution: {
    id: string;
    resolvedAt: string;
    resolvedBy: string;
    resolution: AddressChangeResolution;
  }): Promise<AddressChangeRefusal | undefined>;

  close(): Promise<void>;
}

/**
 * One operator action on a request, with who and when (the request's log; `receipt --log`): a retry or close
 * of one system, or an action on the whole request (`extend`: its deadline), whose `system` is absent.
 */
export interface OperatorActionRecord extends Omit<OperatorLogEntry, 'action' | 'system'> {
  id: string;
  requestId: string;
  requestKind: string;
  action: OperatorLogEntry['action'] | RequestActionName;
  system?: SystemName;
}

/** A console session as the ledger keeps it: the token's SHA-256, never the token (console/console-sessions.ts). */
export interface ConsoleSessionRecord {
  tokenHash: string;
  keyId: string;
  createdAt: string;
  expiresAt: string;
}

/** A record a rectification wrote at a new address: a keyed hash of its reference, never its id or address. */
export interface RectificationMoveRecord {
  subjectKey: string;
  newSubjectKey: string;
  system: string;
  /** HMAC of the vendor record's reference under a hub key (activities/rectification-activities.ts). */
  recordKey: string;
  requestId: string;
  movedAt: string;
}

/** Operator actions on a whole request rather than one system of it. */
export type RequestActionName = 'extend';

/** `planned` until the record is deleted, found gone, submitted, or (its system unfinished) `not_deleted`. */
export type ErasureRecordResult = 'planned' | 'deleted' | 'already_gone' | 'submitted' | 'not_deleted';

/** A vendor record as an erasure names it; never an email or a name. */
export interface ErasureRecordRef {
  kind: string;
  id: string;
  container?: string;
}

/** One sealed page of harvested GA client ids (privacy/sealed-identifiers.ts); never the ids in the clear. */
export interface HarvestedIdPage {
  page: number;
  count: number;
  sealed: string;
  submittedAt?: string;
}

export interface ErasureRecordEntry extends ErasureRecordRef {
  result: ErasureRecordResult;
  vendorTime?: string;
  /**
   * Why the record is (or, still `planned`, was last refused as) not deleted: a `NotDeletedReason` code
   * (domain/erasure.ts). Cleared when a later attempt deletes the record.
   */
  reason?: NotDeletedReason;
  /** The vendor's HTTP status of a refusal. */
  httpStatus?: number;
}

export interface ErasureFollowUp {
  subjectKey: string;
  system: SystemName;
  requestId: string;
  status: string;
  since: string;
}

/** An answer kept for replay. The body is what the API sent: ids and subject keys, never an email. */
export interface IdempotencyRecord {
  key: string;
  requestHash: string;
  /** The subject the request was about, so their erasure deletes the record. */
  subjectKey?: string;
  status: number;
  body: unknown;
  createdAt: string;
}

/** A per-subject data key as the ledger holds it: never in clear. */
export interface SubjectDataKeyRecord {
  keyId: string;
  subjectKey: string;
  /** base64(iv ‖ ciphertext ‖ tag) under the master key `wrappingKeyId`; absent once destroyed. */
  wrappedKey?: string;
  wrappingKeyId?: string;
  createdAt: string;
  destroyedAt?: string;
}

/** What an operator's words about an erased subject's request read after the erasure (`eraseOperatorTexts`). */
export const erasedOperatorText = '[removed: the subject was erased]';

/**
 * The stored reason of one operator action once its subject is erased: an extension keeps its
 * `+N months (due <time>)` prefix (written by the ledger) and a close its reason code (`handled_manually: `),
 * neither of which holds anything about the person; the operator's own words go.
 */
export function erasedReason(action: string, reason: string): string {
  const extension = action === 'extend' ? /^\+\d+ months? \(due [^)]*\): /.exec(reason)?.[0] : undefined;
  const code =
    action === 'close'
      ? closeReasonCodes.find((c) => reason === c || reason.startsWith(`${c}: `))
      : undefined;
  return `${extension ?? (code === undefined ? '' : `${code}: `)}${erasedOperatorText}`;
}

export const consentEventSchema = z.object({
  /** A UUID chosen by the writer, so retries are idempotent. */
  id: z.uuid(),
  subjectKey: z.string().regex(/^[0-9a-f]{64}$/),
  purpose: purposeSchema,
  decision: consentDecisionSchema,
  occurredAt: z.iso.datetime({ offset: true }),
  recordedAt: z.iso.datetime({ offset: true }),
  /** `cli`, `api`, `mailchimp`, `dynamics`, `reconciliation:<system>`, `form:<id>` ... */
  source: z.string().min(1).max(200),
  /** Written from the closed evidence schema; read leniently, so rows from before it was closed still load. */
  evidence: storedConsentEvidenceSchema,
});
export type ConsentEvent = z.infer<typeof consentEventSchema>;

export interface ConsentOutcomeRecord {
  eventId: string;
  subjectKey: string;
  system: SystemName;
  outcome: ConsentApplicationOutcome;
  /** Why it failed, or the operator's words when they closed it. */
  reason?: string;
  recordedAt: string;
}

export interface ConsentAppendResult {
  inserted: boolean;
  /** Why nothing was written although the id is new: the subject's tombstone. */
  skipped?: 'refused_after_erasure' | 'not_kept_after_erasure' | 'refused_during_erasure';
}

export interface SystemConsentStateRecord {
  subjectKey: string;
  system: SystemName;
  /** The overall answer: `applied`, `already`, `not_found`, ... or `failed` / `closed_by_operator`. */
  outcome: ConsentApplicationOutcome;
  reason?: string;
  /** Field name → the value written, as the connector names them; empty when nothing could be written. */
  fields: Record<string, string>;
  /** Purpose → event id of the decision in force the state was computed from. */
  eventIds: Partial<Record<Purpose, string>>;
  /** Per purpose, what the system shows for its decision (`withheld`: a withdrawal shares the field). */
  purposes: Partial<Record<Purpose, ConsentApplicationOutcome>>;
  writtenAt: string;
}

export interface Tombstone {
  subjectKey: string;
  /** When the subject was first erased. */
  erasedAt: string;
  /** The systems the erasure reached (erased, not_found or submitted). */
  systems: SystemName[];
  /** The receipt of the first erasure; later ones point back to it. */
  firstRequestId: string;
  lastRequestId: string;
}

export interface ReconciliationRunRecord {
  runId: string;
  startedAt: string;
  finishedAt?: string;
  /** Counts read, drift by kind, repairs started/finished, items needing attention. */
  summary: Record<string, unknown>;
}
