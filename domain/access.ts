import { z } from 'zod';
import { emailSchema } from './email.js';
import type { RequestedUnder, SystemFailure } from './erasure.js';
import { actorIdSchema } from './free-text.js';
import type { OperatorLogEntry, RetryState } from './operator.js';
import type { SystemName } from './systems.js';

/**
 * An access (GDPR Art. 15) and portability (Art. 20) request as the CLI and the API accept it. The email is
 * normalised here, once; GA ids the person gives are added to those the CRM holds.
 */
export const accessRequestSchema = z.object({
  email: emailSchema,
  gaClientIds: z.array(z.string().trim().min(1).max(256)).default([]),
  gaUserIds: z.array(z.string().trim().min(1).max(256)).default([]),
  /** Who asked on the person's behalf: an operator or system id, a ticket or channel. */
  requestedBy: actorIdSchema,
  requestedAt: z.iso.datetime({ offset: true }),
  /** When the request arrived, if earlier than now (a letter, an email); its deadline counts from then. */
  receivedAt: z.iso.datetime({ offset: true }).optional(),
});
export type AccessRequest = z.output<typeof accessRequestSchema>;
export type AccessRequestInput = z.input<typeof accessRequestSchema>;

export interface AccessTimings {
  /** A system still failing with retryable errors after this long goes to "needs attention". */
  attentionAfter: string | number;
  /** A system left in "needs attention" this long with no operator action is recorded as failed. */
  operatorDeadline: string | number;
  heartbeatTimeout?: string | number;
  /** How long the export may be fetched before it is deleted (a Temporal duration; default 30 days). */
  exportTtl: string | number;
}

export interface AccessWorkflowInput {
  /** The request id: chosen by the client, so the workflow id (`access-<request id>`) follows from it. */
  requestId: string;
  subjectKey: string;
  request: AccessRequest;
  timings: AccessTimings;
  /**
   * Set when the request named an address a rectification moved away from: `subjectKey` and the request's
   * address are then the person's now, and this names the key asked for and the re-keys (keys only).
   */
  requestedUnder?: RequestedUnder;
}

export const accessSystemStatuses = [
  'pending',
  'running',
  'waiting_for_vendor',
  'needs_attention',
  /** The system was read; `recordCount` says how much it held (0 is a valid answer). */
  'collected',
  'failed',
  'closed_by_operator',
  /** The person's erasure ended the request before this system was read. */
  'withdrawn',
] as const;
export type AccessSystemStatus = (typeof accessSystemStatuses)[number];

/** Per system, what the workflow knows: counts, never the data (that goes encrypted to the export store). */
export interface AccessSystemState {
  status: AccessSystemStatus;
  attempts: number;
  /** Records gathered, by kind (`contact`, `email`, `member`, `note`, ...). */
  counts?: Record<string, number>;
  recordCount?: number;
  failure?: SystemFailure;
  closedReason?: string;
  completedAt?: string;
  resumesAt?: string;
  retrying?: RetryState;
}

export type AccessOverallStatus =
  | 'running'
  | 'needs_attention'
  /** The export is written and can be fetched until `expiresAt`. */
  | 'ready'
  /** The export's time ran out and its files were deleted. */
  | 'expired'
  /**
   * The person was erased while the request ran or its export waited: whatever was gathered was deleted
   * with them, and the request ended there (`withdrawn` says when and which erasure).
   */
  | 'withdrawn';

/** The hub's own ledger is a source too; it needs no operator. */
export type AccessSource = SystemName | 'ledger';

export interface AccessExportFiles {
  /** The format → size of the encrypted file in bytes. */
  sizes: Record<'json' | 'html', number>;
  /** HMAC-SHA256 (the hub's subject-key secret) of the plain JSON document, to prove which copy was handed out. */
  jsonDigest: string;
  schema: string;
  recordCount: number;
  counts: Partial<Record<AccessSource, Record<string, number>>>;
  writtenAt: string;
}

export interface AccessStatusView {
  requestId: string;
  subjectKey: string;
  status: AccessOverallStatus;
  requestedAt: string;
  requestedBy: string;
  receivedAt?: string;
  dueAt?: string;
  systems: Record<SystemName, AccessSystemState>;
  export?: AccessExportFiles;
  /** Until when the export may be fetched; it is deleted then (a durable timer in the workflow). */
  expiresAt?: string;
  /** When the export's files were deleted. */
  deletedAt?: string;
  operatorActions?: OperatorLogEntry[];
  /** Set once the person's erasure ended the request: when, and the erasure's request id. */
  withdrawn?: AccessWithdrawal;
  /** Set when the request named an address a rectification moved away from (see AccessWorkflowInput). */
  requestedUnder?: RequestedUnder;
}

/** Why and when an access request ended early: its subject was erased (the only cause so far). */
export interface AccessWithdrawal {
  reason: 'subject_erased';
  at: string;
  erasureRequestId: string;
}

/**
 * The proof of an access request: what was gathered from where (counts), when the copy was written, until when
 * it could be fetched and when it was deleted. Holds no email and no name.
 */
export interface AccessReceipt extends AccessStatusView {
  kind: 'access';
  /** `withdrawn_subject_erased`: the person's erasure ended the request, and deleted what it had gathered. */
  outcome: 'completed' | 'completed_with_failures' | 'withdrawn_subject_erased';
  completedAt: string;
}

/** The export's name in the store, from the request id (a Temporal run id: a UUID, no personal data). */
export const accessRequestIdSchema = z.uuid({ error: 'is not a request id (a UUID)' });

export const accessExportFormats = ['json', 'html'] as const;
export const accessExportFormatSchema = z.enum(accessExportFormats, {
  error: () => `must be one of: ${accessExportFormats.join(', ')}`,
});
export type AccessExportFormat = z.infer<typeof accessExportFormatSchema>;
