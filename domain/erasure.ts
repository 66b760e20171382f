import { z } from 'zod';
import { emailSchema } from './email.js';
import { actorIdSchema, type ErasureReasonCode, erasureReasonCodes, noteSchema } from './free-text.js';
import type { RestrictionReceipt } from './hold.js';
import type { OperatorLogEntry, RetryState } from './operator.js';
import type { SystemName } from './systems.js';

/**
 * A GA client id is the `_ga` cookie's last two parts: digits, a dot, digits. A whole cookie value
 * (`GA1.1.1234567890.1600000000`, or `GA1.2.` for the older two-level domain form) is accepted and reduced to
 * them, so an id pasted from a browser or kept in a CRM column works the same everywhere. Answers the
 * client id, or a reason that does not repeat the input.
 */
export function parseGaClientId(raw: string): { ok: true; id: string } | { ok: false; reason: string } {
  const value = raw.trim();
  const match = /^(?:GA\d+\.\d+\.)?(\d{1,20}\.\d{1,20})$/i.exec(value);
  if (match?.[1]) return { ok: true, id: match[1] };
  if (value === '') return { ok: false, reason: 'is empty' };
  return {
    ok: false,
    reason: 'is not a Google Analytics client id (digits.digits, or a _ga cookie GA1.n.digits.digits)',
  };
}

const gaClientIdSchema = z.string().transform((raw, context) => {
  const parsed = parseGaClientId(raw);
  if (parsed.ok) return parsed.id;
  context.addIssue({ code: 'custom', message: parsed.reason });
  return z.NEVER;
});
const gaUserIdSchema = z.string().trim().min(1).max(256);

/** An erasure request as the CLI and the API accept it. The email is normalised here, once. */
export const erasureRequestSchema = z.object({
  email: emailSchema,
  gaClientIds: z.array(gaClientIdSchema).default([]),
  gaUserIds: z.array(gaUserIdSchema).default([]),
  /**
   * One of `erasureReasonCodes` (free text from older clients is accepted and kept as `other` with the text
   * as its note, scrubbed: hub-client/erasures.ts).
   */
  reason: z.string().trim().min(1).max(500).default('subject_request'),
  /** Anything more about the reason; the subject's data and any address are scrubbed before it is kept. */
  reasonNote: noteSchema.optional(),
  /** Who asked on the person's behalf: an operator or system id, a ticket or channel (`privacy-inbox#1234`). */
  requestedBy: actorIdSchema,
  requestedAt: z.iso.datetime({ offset: true }),
  /**
   * When the request reached the controller, for one that came by letter or email and is entered later: its
   * one-month deadline runs from here (hub-client checks it against the clock and
   * CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS). Absent: when it is entered.
   */
  receivedAt: z.iso.datetime({ offset: true }).optional(),
});
export type ErasureRequest = z.output<typeof erasureRequestSchema>;
export type ErasureRequestInput = z.input<typeof erasureRequestSchema>;

/** How long things may take before a person must look, as Temporal durations (ms numbers or '1 hour'). */
export interface ErasureTimings {
  /** A system still failing with retryable errors after this long goes to "needs attention". */
  attentionAfter: string | number;
  /** A system left in "needs attention" this long with no operator action is recorded as failed. */
  operatorDeadline: string | number;
  /** How soon a vendor call on a worker that died is noticed and retried elsewhere. */
  heartbeatTimeout?: string | number;
  /** Records deleted per activity (default 500): each page is one activity, so the history stays small. */
  deletePageSize?: number;
  /**
   * While a held person's erasure waits for the release: how often it looks in the ledger for one (default
   * 1 day), in case the release's signal never arrived.
   */
  holdRecheck?: string | number;
}

/**
 * A request made under an address a rectification moved away from (issue 18): it acts on the person's key
 * now, and says under which key it was made and through which re-keys it got there. Keys, never addresses.
 */
export interface RequestedUnder {
  /** The subject key of the address the request named. */
  subjectKey: string;
  /** The re-keys followed from it, oldest first: from which key to which, by which rectification, when. */
  rekeys: { from: string; to: string; rectificationRequestId: string; at: string }[];
  /**
   * Set when a re-key was NOT followed: its old key (`from`, the last key the request reached) has had a life
   * of its own since (something recorded under it after the re-key: the address was given up, then taken by
   * someone else), so the request acted on that key as its own person's, not on `to`.
   */
  notFollowed?: { from: string; to: string; rectificationRequestId: string; at: string };
  /**
   * Set when the person's address now could not be read (the rectification's history is past Temporal's
   * retention): the request then searched the address it named, and this says so.
   */
  note?: string;
}

/** As RequestedUnder: the name the erasure's types first gave it. */
export type ErasureRequestedUnder = RequestedUnder;

/**
 * Records a half-done rectification moved to (or left at) another address of the person, or the address a
 * request named when it followed a re-key (what vendors still hold there; `systems` is then every system),
 * and how this erasure reaches them: the erasure of that address started beside it (its request id), or why
 * none was.
 */
export interface MovedRecordsErasure {
  /** The subject key of the other address. */
  subjectKey: string;
  rectificationRequestId: string;
  /** The systems whose records the rectification moved. */
  systems: string[];
  /** The erasure of the other address, started (or joined) with this one. */
  erasureRequestId?: string;
  note?: string;
}

export interface ErasureWorkflowInput {
  subjectKey: string;
  request: ErasureRequest;
  /** Set when the request named an address a rectification moved away from (the key it was made under). */
  requestedUnder?: ErasureRequestedUnder;
  /** Other addresses a half-done rectification moved this person's records between, each erased too. */
  movedRecords?: MovedRecordsErasure[];
  timings: ErasureTimings;
  /** The token of the merge signal sent with the start (signal-with-start): that signal is no join. */
  startToken?: string;
  /**
   * Set on a follow-up erasure: the request id of the erasure whose receipt was being written when this
   * follow-up's requests arrived (too late to be in that receipt). The follow-up's receipt names it.
   */
  followUpOf?: string;
  /** A follow-up's further late requests, joined at its start as if they had come while it ran. */
  joinedAtStart?: ErasureMerge[];
}

export const systemErasureStatuses = [
  'pending',
  'running',
  /** The vendor asked to wait longer than a step may retry (Google's daily quota): a durable timer runs. */
  'waiting_for_vendor',
  'needs_attention',
  'erased',
  'not_found',
  'submitted',
  'failed',
  'closed_by_operator',
] as const;
export type SystemErasureStatus = (typeof systemErasureStatuses)[number];
export const terminalSystemStatuses: readonly SystemErasureStatus[] = [
  'erased',
  'not_found',
  'submitted',
  'failed',
  'closed_by_operator',
];

export interface SystemFailure {
  reason: string;
  /** The vendor's HTTP status, when there was one. */
  status?: number;
  vendorCode?: string;
  /** `RetryableVendorError` that outlasted attentionAfter, `NonRetryableVendorError`, `SystemNotConfigured`, ... */
  type: string;
}

/**
 * Why a planned record was not deleted (`not_deleted` in a receipt), as a code that never names the person:
 * - `refused_by_vendor`: the vendor refused this record's deletion for good (`httpStatus` says how: a 403);
 * - `closed_by_operator`: an operator closed the system before this record's turn;
 * - `operator_deadline_passed`: the system needed attention and nobody acted within the deadline.
 */
export const notDeletedReasons = [
  'refused_by_vendor',
  'closed_by_operator',
  'operator_deadline_passed',
] as const;
export type NotDeletedReason = (typeof notDeletedReasons)[number];

/** What became of one record: `not_deleted` only in a system the erasure did not finish (failed, closed). */
export const erasureRecordResults = ['deleted', 'already_gone', 'submitted', 'not_deleted'] as const;
export type ErasureRecordOutcome = (typeof erasureRecordResults)[number];

export interface SystemErasureRecord {
  kind: string;
  id: string;
  container?: string;
  result: ErasureRecordOutcome;
  /** For `not_deleted`: why (never the vendor's free text, which may quote the person). */
  reason?: NotDeletedReason;
  /** For `not_deleted` refused by the vendor: the vendor's HTTP status. */
  httpStatus?: number;
  vendorTime?: string;
  /**
   * Dynamics only: whether the record's audit change history was deleted after the record
   * (DeleteRecordChangeHistory). Absent for systems without such a history.
   */
  auditHistoryRemoved?: boolean;
}

/** An identifier the hub was given or harvested but could not use; never the identifier itself. */
export interface UnusableIdentifier {
  kind: 'gaClientId' | 'gaUserId';
  /** Where it came from: `request`, or the system it was harvested from. */
  source: string;
  reason: string;
  count: number;
}

export interface SystemErasureState {
  status: SystemErasureStatus;
  /**
   * Every record the erasure planned, with what became of it (a failed or closed system lists the ones it
   * could not delete as `not_deleted`), in a stable order: all of them up to `inlineRecordLimit`, the first
   * ones beyond.
   * The ledger holds every one (`consent-hub receipt <id> --records`), and `recordCount` and
   * `recordsDigest` say what the whole list is, so the receipt stays small whatever the number of records.
   */
  records: SystemErasureRecord[];
  /** How many records the system's erasure touched in all (absent before it finished). */
  recordCount?: number;
  /** HMAC-SHA256 (the hub's subject-key secret) over the full sorted record list in the ledger. */
  recordsDigest?: string;
  /** True when `records` lists fewer than `recordCount`. */
  recordsTruncated?: boolean;
  /** While waiting for a vendor (`waiting_for_vendor`): when the next attempt starts, ISO 8601. */
  resumesAt?: string;
  /** Identifiers the hub could not use for this system, reported instead of claimed as erased. */
  unusableIdentifiers?: UnusableIdentifier[];
  /**
   * Records the system deleted with the erased ones, by kind, counted before the first delete (Dynamics:
   * the emails, phone calls, appointments and tasks regarding a deleted contact or lead; Dataverse deletes
   * them with it, parental relationship, Delete: Cascade). Absent when there were none.
   */
  deletedWithRecords?: Record<string, number>;
  /** The last failure, while it needs attention, and in the receipt when the system ended failed. */
  failure?: SystemFailure;
  /** The operator's words when they closed the system. */
  closedReason?: string;
  attempts: number;
  completedAt?: string;
  /** Filled by the status views (not the workflow): what the worker is retrying now. */
  retrying?: RetryState;
}

/** `on_hold`: the person is on legal hold; their data was restricted and the erasure waits for the release. */
export type ErasureOverallStatus = 'running' | 'needs_attention' | 'on_hold' | 'completed';

export interface ErasureStatusView {
  requestId: string;
  subjectKey: string;
  status: ErasureOverallStatus;
  requestedAt: string;
  systems: Record<SystemName, SystemErasureState>;
  operatorActions?: OperatorLogEntry[];
  /** For a person on legal hold: what was restricted instead of deleted, and the release once it came. */
  restriction?: ErasureRestriction;
  /** Address changes a vendor reported while the erasure ran; their records are erased too. */
  addressChanges?: ErasureAddressChange[];
}

/** The proof an erasure reached every system. Holds no email and no name. */
export interface ErasureReceipt {
  requestId: string;
  subjectKey: string;
  /** One of `erasureReasonCodes`. */
  reason: ErasureReasonCode | string;
  /** The scrubbed note, when one was given. */
  reasonNote?: string;
  requestedBy: string;
  requestedAt: string;
  completedAt: string;
  /** `completed` when every system ended erased, not_found or submitted; otherwise `completed_with_failures`. */
  outcome: 'completed' | 'completed_with_failures';
  systems: Record<SystemName, SystemErasureState>;
  /** Every operator retry and close, in order (absent in receipts written before operators were recorded). */
  operatorActions?: OperatorLogEntry[];
  /** For a subject erased before: the request id of the first erasure (its tombstone's). */
  reErasureOf?: string;
  /** Requests for the same person that arrived while this erasure ran and were merged into it. */
  joinedRequests?: JoinedRequest[];
  /** The request named an address a rectification moved away from: the key it was made under, the re-keys. */
  requestedUnder?: ErasureRequestedUnder;
  /** Records a half-done rectification moved between this address and another, and the erasure of that one. */
  movedRecords?: MovedRecordsErasure[];
  /**
   * A follow-up erasure: the request id of the erasure whose receipt was being written when this one's
   * requests arrived. That receipt could not include them; this one carries them out and records them.
   */
  followUpOf?: string;
  /**
   * Present when the person was on legal hold when the erasure began: their data was restricted first
   * (when, why, per system), and deleted only after the hold was released (when, by whom).
   */
  restriction?: ErasureRestriction;
  /**
   * Address changes a vendor reported while the erasure ran (a Mailchimp `upemail`, say, during a legal
   * hold): the erasure looked for the person's records under each new address too.
   */
  addressChanges?: ErasureAddressChange[];
  /**
   * A legal hold placed once every system's deletes had completed, before this receipt: nothing was left to
   * restrict (the hold stays in force for the person's next erasure).
   */
  holdAfterDeletes?: { reason: string; placedAt: string; note: string };
}

/**
 * A change of the person's address in a vendor reported while their erasure ran (Mailchimp's `upemail`):
 * recorded by the erasure, which then also erases the records under the new address. Subject keys only.
 */
export interface ErasureAddressChange {
  /** Who reported it: `mailchimp:upemail`. */
  source: string;
  /** When the vendor said the change happened (the webhook's `fired_at`), ISO 8601. */
  changedAt: string;
  /** The subject key of the new address. */
  newSubjectKey: string;
}

/** A restriction as an erasure's status and receipt carry it: the restriction receipt less its ids. */
export type ErasureRestriction = Omit<
  RestrictionReceipt,
  'requestId' | 'subjectKey' | 'restrictedAt' | 'outcome'
> & {
  /** Both absent while the systems are still being restricted. */
  restrictedAt?: string;
  outcome?: RestrictionReceipt['outcome'];
};

/** The most records a receipt lists inline per system; the ledger keeps them all. */
export const inlineRecordLimit = 50;

/** What a request that joined a running erasure brought to it (its identifiers are merged, not kept here). */
export interface JoinedRequest {
  reason: string;
  reasonNote?: string;
  requestedBy: string;
  requestedAt: string;
  gaClientIdsAdded: number;
  gaUserIdsAdded: number;
  /** The joining request named an address a rectification moved away from. */
  requestedUnder?: ErasureRequestedUnder;
}

/**
 * What a second request sends to a running erasure for the same person (the merge signal). `subjectKey`
 * names the person, so the codec seals the GA ids with the person's own data key (crypto-shredding).
 */
export interface ErasureMerge {
  subjectKey?: string;
  gaClientIds: string[];
  gaUserIds: string[];
  reason: string;
  reasonNote?: string;
  requestedBy: string;
  requestedAt: string;
  /** When the request reached the controller: a follow-up erasure carrying it keeps it. */
  receivedAt?: string;
  /** The request named an address a rectification moved away from (keys only). */
  requestedUnder?: ErasureRequestedUnder;
  /** Other addresses a half-done rectification moved the person's records between, erased beside this. */
  movedRecords?: MovedRecordsErasure[];
}

export {
  type OperatorClose,
  type OperatorRetry,
  operatorCloseSchema,
  operatorRetrySchema,
} from './operator.js';
export type { SystemName };
export { erasureReasonCodes };
