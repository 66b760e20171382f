import { z } from 'zod';
import { emailSchema } from './email.js';
import type { SystemErasureRecord } from './erasure.js';
import { actorIdSchema } from './free-text.js';
import {
  type HoldReasonCode,
  holdReasonCodes,
  type ReleaseReasonCode,
  releaseReasonCodes,
} from './hold-codes.js';
import type { SystemName } from './systems.js';

export {
  type HoldReasonCode,
  holdReasonCodes,
  type ReleaseReasonCode,
  releaseReasonCodes,
} from './hold-codes.js';

const codeMessage = (codes: readonly string[]) => `must be one of ${codes.join(', ')}`;

/** `consent-hub hold` and `POST /v1/holds`. The email is normalised here, once; only its subject key is kept. */
export const holdRequestSchema = z.object({
  email: emailSchema,
  reason: z.enum(holdReasonCodes, { error: codeMessage(holdReasonCodes) }),
  /** The operator who placed it (`cli:alice`, `api:<key id>`): an id, never a name. */
  placedBy: actorIdSchema,
});
export type HoldRequestInput = z.input<typeof holdRequestSchema>;

/** `consent-hub release` and `POST /v1/holds/release`. */
export const releaseRequestSchema = z.object({
  email: emailSchema,
  reason: z.enum(releaseReasonCodes, { error: codeMessage(releaseReasonCodes) }).default('resolved'),
  releasedBy: actorIdSchema,
});
export type ReleaseRequestInput = z.input<typeof releaseRequestSchema>;

/** A person's hold as the ledger keeps it: the subject key, codes and operator ids only. */
export interface LegalHold {
  subjectKey: string;
  reason: HoldReasonCode;
  placedBy: string;
  placedAt: string;
  /** Set once released; a released hold stays in the ledger as the record of the restriction. */
  releasedAt?: string;
  releasedBy?: string;
  releaseReason?: ReleaseReasonCode;
}

/** What a restriction did in one system. */
export const systemRestrictionStatuses = [
  'pending',
  'running',
  'waiting_for_vendor',
  'needs_attention',
  /** Every record found was restricted (Dynamics: donot* set, deactivated; Mailchimp: unsubscribed, tagged). */
  'restricted',
  /** The system holds nothing for the person. */
  'not_found',
  /** The system offers no restriction of one person's data (Google Analytics). */
  'not_applicable',
  /**
   * The hold reached an erasure already running, and this system's erasure had ended before it did (erased,
   * not found, submitted): nothing was left to restrict. `arrivedDuringErasure` says what was deleted.
   */
  'erased_before_hold',
  /**
   * The hold was released before this system was restricted (its restriction had not begun, or was being
   * retried or waited for an operator): nothing was restricted there, and the erasure deletes it instead.
   */
  'released_before_restriction',
  'failed',
  'closed_by_operator',
] as const;
export type SystemRestrictionStatus = (typeof systemRestrictionStatuses)[number];

/** One record restricted, with what was done to it: never an address or a name. */
export interface RestrictedRecord {
  kind: string;
  id: string;
  container?: string;
  /** `restricted` now, or `already_restricted` (an earlier attempt or request did it). */
  result: 'restricted' | 'already_restricted' | 'gone';
  /** What was set: column names (`donotemail`, `statecode`), `status:unsubscribed`, `tag:restricted`. */
  actions: string[];
}

export interface SystemRestrictionState {
  status: SystemRestrictionStatus;
  /** The first records (up to the receipts' inline limit). */
  records: RestrictedRecord[];
  /** How many records the system's restriction touched in all. */
  recordCount?: number;
  attempts: number;
  /** Said when the system cannot restrict (Google Analytics). */
  note?: string;
  failure?: { reason: string; status?: number; vendorCode?: string; type: string };
  closedReason?: string;
  completedAt?: string;
  resumesAt?: string;
}

/**
 * What a held person's erasure did instead of deleting: restricted in every system, and when. Stored in the
 * ledger as soon as the restriction is done (the restriction receipt), and carried into the erasure's
 * receipt when the hold is released and the erasure completes.
 */
export interface RestrictionReceipt {
  requestId: string;
  subjectKey: string;
  hold: { reason: HoldReasonCode; placedAt: string };
  restrictedAt: string;
  /** `restricted` when every system ended restricted, not_found or not_applicable. */
  outcome: 'restricted' | 'restricted_with_failures';
  systems: Record<SystemName, SystemRestrictionState>;
  /** Set once the hold was released and the erasure went on to delete. */
  released?: { at: string; by: string; reason: ReleaseReasonCode };
  /**
   * Present when the hold was placed while the erasure was already deleting: when the erasure learned of it,
   * and per system what it had deleted by then (the systems listed in `systems` as `restricted` had the
   * rest restricted instead; `erased_before_hold` ones had nothing left).
   */
  arrivedDuringErasure?: HoldArrivedDuringErasure;
  /**
   * The restrictions of holds placed and released earlier in the same erasure, oldest first (a second hold
   * placed after the first was released): each kept whole, so no hold's evidence is replaced by the next.
   */
  earlierRestrictions?: Omit<RestrictionReceipt, 'requestId' | 'subjectKey' | 'earlierRestrictions'>[];
}

/** A hold in force as an erasure learns of it (signal or delete step): its code and time, no operator. */
export interface HeldNow {
  reason: HoldReasonCode;
  placedAt: string;
}

/** What an erasure had already deleted when a hold placed while it ran reached it. */
export interface HoldArrivedDuringErasure {
  /** When the erasure learned of the hold (its signal, or a delete step that found it in the ledger). */
  noticedAt: string;
  /** Per system that had deleted (or submitted) anything: the records, as the erasure receipt lists them. */
  deletedBefore: Partial<Record<SystemName, DeletedBeforeHold>>;
}

export interface DeletedBeforeHold {
  /** How many records the system had deleted, found gone or submitted before the hold. */
  recordCount: number;
  /** The first of them (up to the receipts' inline limit); the ledger keeps the request's whole list. */
  records: SystemErasureRecord[];
  recordsTruncated: boolean;
}

/** The label Mailchimp members get while restricted (a tag, so that campaigns can exclude it). */
export const restrictedTag = 'restricted';
