import { z } from 'zod';
import { emailAsGivenSchema, emailSchema } from './email.js';
import type { SystemFailure } from './erasure.js';
import { actorIdSchema } from './free-text.js';
import type { OperatorLogEntry, RetryState } from './operator.js';
import type { SystemName } from './systems.js';

/**
 * The fields a rectification (GDPR Art. 16) may set, by the hub's names. Each maps to a column or field per
 * system: Dynamics `emailaddress1..3` (the ones holding the old address), `firstname`, `lastname`;
 * Mailchimp `email_address`, merge fields `FNAME`, `LNAME`. Google Analytics holds none of them.
 */
export const rectifiableFields = ['email', 'firstname', 'lastname'] as const;

export type RectifiableField = (typeof rectifiableFields)[number];

const nameSchema = z.string().trim().min(1).max(100);

export const rectificationChangesSchema = z
  .object({
    /**
     * The new address as written (emailAsGivenSchema): its local part's case is what the vendors get.
     * Compare it normalised (normaliseEmail); the new subject key derives from it as from the lower-cased form.
     */
    email: emailAsGivenSchema.optional(),
    firstname: nameSchema.optional(),
    lastname: nameSchema.optional(),
  })
  .strict()
  .refine((set) => Object.values(set).some((value) => value !== undefined), {
    error: `set at least one of: ${rectifiableFields.join(', ')}`,
  });
export type RectificationChanges = z.output<typeof rectificationChangesSchema>;

/**
 * Who asks when Mailchimp's `upemail` webhook reports an address Mailchimp already moved. The rectification
 * workflow takes Mailchimp members at the new address as the person's own only for this requester, so no
 * caller of the API or the CLI may give it (`callerRequestedBySchema`).
 */
export const mailchimpAddressChangeActor = 'mailchimp:upemail';

/** A `requestedBy` a caller gives: any actor id except the one reserved for the `upemail` webhook. */
export const callerRequestedBySchema = actorIdSchema.refine((id) => id !== mailchimpAddressChangeActor, {
  error: `is reserved for Mailchimp's upemail webhook; give the operator, ticket or channel instead`,
});

/**
 * `consent-hub rectify` and `POST /v1/rectifications`. The current address is normalised here, once; the new one
 * keeps its local part as written (`set.email`).
 */
export const rectificationRequestSchema = z.object({
  email: emailSchema,
  set: rectificationChangesSchema,
  requestedBy: actorIdSchema,
  requestedAt: z.iso.datetime({ offset: true }),
  /** When the person's request arrived (a letter entered later); defaults to now. */
  receivedAt: z.iso.datetime({ offset: true }).optional(),
});
export type RectificationRequestInput = z.input<typeof rectificationRequestSchema>;
export type RectificationRequest = z.output<typeof rectificationRequestSchema>;

/** One field changed in one record: its name and a keyed hash of the value before (never a value). */
export interface RectifiedField {
  field: string;
  /** `hmac:` + 128 bits of HMAC-SHA256 under a hub key of the value before; `empty` when it had none. */
  beforeHash: string;
}

export interface RectifiedRecord {
  kind: string;
  id: string;
  container?: string;
  result: 'rectified' | 'already' | 'gone';
  changed: RectifiedField[];
}

export const systemRectificationStatuses = [
  'pending',
  'running',
  'waiting_for_vendor',
  'needs_attention',
  'rectified',
  'not_found',
  'not_applicable',
  'failed',
  'closed_by_operator',
] as const;
export type SystemRectificationStatus = (typeof systemRectificationStatuses)[number];

export interface SystemRectificationState {
  status: SystemRectificationStatus;
  records: RectifiedRecord[];
  recordCount?: number;
  note?: string;
  attempts: number;
  failure?: SystemFailure;
  closedReason?: string;
  completedAt?: string;
  resumesAt?: string;
}

export interface RectificationWorkflowInput {
  /** The request id chosen at intake (the workflow id follows from it); absent in older histories. */
  requestId?: string;
  subjectKey: string;
  /** Set when the email changes: the person's subject key under the new address. */
  newSubjectKey?: string;
  request: RectificationRequest;
  timings: {
    attentionAfter: string | number;
    operatorDeadline: string | number;
    heartbeatTimeout?: string | number;
  };
}

/** Why a rectification's workflow refused to write anything, as a code that names nothing about the person. */
export type RectificationRefusalCode = 'vendor_conflict' | 'too_many_records' | 'erasure_running';

/** The proof of a rectification: which fields changed where, with before-hashes; no value, no address. */
export interface RectificationReceipt {
  requestId: string;
  subjectKey: string;
  requestedBy: string;
  requestedAt: string;
  completedAt: string;
  fields: RectifiableField[];
  /**
   * `refused`: nothing was written anywhere (the new address is another person's in a vendor, too many
   * records, an erasure runs), `refusal` says why; distinct from `completed_with_failures`, where some
   * systems changed and others failed or were closed. Receipts from before issue 18's fix said
   * `completed_with_failures` for a refusal too.
   */
  outcome: 'completed' | 'completed_with_failures' | 'refused';
  /** Why a rectification was refused, as a code (the `rekeyNote` says it in words). */
  refusal?: RectificationRefusalCode;
  /** For an email change: the key of the new address (also when the ledger was not re-keyed to it). */
  newSubjectKey?: string;
  systems: Record<SystemName, SystemRectificationState>;
  /**
   * For an email change: the person's ledger records (consent events, decisions, tombstone, receipts,
   * holds, data keys) moved from the old subject key to the new one, linked in the ledger. Absent when a
   * system still holds the old address (then nothing moved, and `rekeyNote` says why).
   */
  rekeyed?: {
    from: string;
    to: string;
    at: string;
    moved: Record<string, number>;
    /**
     * The person's consent workflow under the old key: `handed_over` when one was running and was told to
     * pass its pending work to the new key's workflow and end; `none_running` when there was none. Absent on
     * receipts from before the hand-over.
     */
    consentWorkflow?: 'handed_over' | 'none_running';
  };
  rekeyNote?: string;
  operatorActions?: OperatorLogEntry[];
}

export interface RectificationStatusView {
  requestId: string;
  subjectKey: string;
  requestedAt: string;
  requestedBy: string;
  status: 'running' | 'needs_attention' | 'completed';
  fields: RectifiableField[];
  systems: Record<SystemName, SystemRectificationState & { retrying?: RetryState }>;
  /** The operator's retries and closes so far, in order. */
  operatorActions?: OperatorLogEntry[];
}

/** A rectification by its request id: the receipt once it has one, its live status while it runs. */
export type RectificationLookup =
  | { state: 'completed'; receipt: RectificationReceipt }
  | { state: 'open'; status: RectificationStatusView };
