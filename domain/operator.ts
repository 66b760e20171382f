import { z } from 'zod';
import { actorIdSchema } from './free-text.js';
import { type SystemName, systemNameSchema } from './systems.js';

/**
 * Who acted: `--operator <id>` on the CLI (default `cli:<login>`), the API key's name on the API. An id,
 * not a person's contact details.
 */
export const operatorIdSchema = actorIdSchema;

/** What the retry and close updates carry. `operator` is optional only so older clients keep working. */
export const operatorRetrySchema = z.object({
  system: systemNameSchema,
  operator: operatorIdSchema.optional(),
});
export const operatorCloseSchema = z.object({
  system: systemNameSchema,
  /** The operator's words: scrubbed of addresses before they reach the workflow and the receipt. */
  reason: z.string().trim().min(1, { error: 'a reason is required to close a system' }).max(500),
  operator: operatorIdSchema.optional(),
});
export { closeReasonCodes } from './close-reason-codes.js';

export type OperatorRetry = z.infer<typeof operatorRetrySchema>;
export type OperatorClose = z.infer<typeof operatorCloseSchema>;

/**
 * One operator action on a request, as the workflow records it (in its status and receipt) and the ledger
 * keeps it (the request's log). `at` is the workflow's time when the action was accepted.
 */
export interface OperatorLogEntry {
  action: 'retry' | 'close';
  system: SystemName;
  operator: string;
  at: string;
  reason?: string;
}

/**
 * A system's step while the worker is still retrying it (from Temporal's pending activity, not the
 * workflow): the attempt, the last failure and the next attempt's time. Absent when nothing is pending.
 */
export interface RetryState {
  /** The activity being retried, such as `eraseInSystem`. */
  activity: string;
  /** 1 for the first attempt. */
  attempt: number;
  lastFailure?: { reason: string; status?: number; at?: string };
  /** When the next attempt starts (ISO 8601); absent while an attempt is running. */
  nextRetryAt?: string;
}
