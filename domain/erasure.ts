import { z } from 'zod';
import { emailSchema } from './email.js';
import { actorIdSchema, type ErasureReasonCode, erasureReasonCodes, noteSchema } from './free-text.js';
import type { OperatorLogEntry, RetryState } from './operator.js';
import type { SystemName } from './systems.js';

/** A GA client id is the `_ga` cookie's last two parts: digits, a dot, digits. */
const gaClientIdSchema = z
  .string()
  .trim()
  .regex(/^\d{1,20}\.\d{1,20}$/, { error: 'is not a Google Analytics client id (digits.digits)' });
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
}

export interface ErasureWorkflowInput {
  subjectKey: string;
  request: ErasureRequest;
  timings: ErasureTimings;
}

export const systemErasureStatuses = [
  'pending',
  'running',
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

export interface SystemErasureRecord {
  kind: string;
  id: string;
  container?: string;
  result: 'deleted' | 'already_gone' | 'submitted';
  vendorTime?: string;
}

export interface SystemErasureState {
  status: SystemErasureStatus;
  records: SystemErasureRecord[];
  /** The last failure, while it needs attention, and in the receipt when the system ended failed. */
  failure?: SystemFailure;
  /** The operator's words when they closed the system. */
  closedReason?: string;
  attempts: number;
  completedAt?: string;
  /** Filled by the status views (not the workflow): what the worker is retrying now. */
  retrying?: RetryState;
}

export type ErasureOverallStatus = 'running' | 'needs_attention' | 'completed';

export interface ErasureStatusView {
  requestId: string;
  subjectKey: string;
  status: ErasureOverallStatus;
  requestedAt: string;
  systems: Record<SystemName, SystemErasureState>;
  operatorActions?: OperatorLogEntry[];
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
}

export {
  type OperatorClose,
  type OperatorRetry,
  operatorCloseSchema,
  operatorRetrySchema,
} from './operator.js';
export type { SystemName };
export { erasureReasonCodes };
