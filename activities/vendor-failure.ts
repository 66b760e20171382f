import { ApplicationFailure } from '@temporalio/common';
import { ZodError } from 'zod';
import { VendorError } from '../connectors/connector-errors.js';
import { withheldBatchWords } from '../domain/redaction-names.js';
import { type RedactionSubject, redactSubject } from '../privacy/redaction.js';

export { withheldBatchWords };

/** Failure types the workflows' retry policies name in `nonRetryableErrorTypes`. */
export const failureTypes = {
  retryable: 'RetryableVendorError',
  nonRetryable: 'NonRetryableVendorError',
  notConfigured: 'SystemNotConfigured',
  /** Input that does not pass its schema: no retry can change it. */
  invalidInput: 'InvalidInput',
  /** The vendor asked to wait past the step's own deadline; the workflow waits with a durable timer. */
  vendorAskedToWait: 'VendorAskedToWait',
} as const;

/** What a `VendorAskedToWait` failure carries for the workflow's timer. */
export interface VendorWaitDetails {
  reason: string;
  retryAfterMs: number;
  /** ISO 8601: when the vendor said to come back. */
  resumeAt: string;
  status?: number;
  vendorCode?: string;
}

/**
 * Turns a connector's VendorError into the Temporal failure that carries the same decision: retry (after the
 * vendor's Retry-After, when it gave one) or stop and wait for a person. The vendor details ride along for
 * the receipt. A Retry-After that ends after `stepDeadlineMs` (the epoch ms at which the step's
 * scheduleToClose runs out, such as Google's daily quota until midnight Pacific) cannot be honoured by
 * Temporal's retries, so it becomes a non-retryable `VendorAskedToWait` that the workflow turns into a
 * durable timer. A ZodError (bad input) is non-retryable `InvalidInput` with the fields and messages only.
 * Anything else is rethrown untouched and retried by the activity's policy.
 */
export function toActivityFailure(
  error: unknown,
  subject: RedactionSubject = {},
  /** `withholdWords`: the vendor's words are replaced by `withheldBatchWords` (toBatchActivityFailure). */
  context: { stepDeadlineMs?: number; now?: number; withholdWords?: boolean } = {},
): unknown {
  if (error instanceof ZodError) return invalidInputFailure(error, subject);
  if (!(error instanceof VendorError)) return redactError(error, subject);
  const reason = context.withholdWords ? withheldBatchWords : redactSubject(error.reason, subject);
  const details = { ...error.toJSON(), reason };
  const message = context.withholdWords
    ? `${error.system} ${error.operation} failed${error.status ? ` (HTTP ${error.status})` : ''}${error.vendorCode ? ` [${error.vendorCode}]` : ''}: ${reason}`
    : redactSubject(error.message, subject);
  if (error.retryable) {
    const retryAfterMs = 'retryAfterMs' in error ? (error.retryAfterMs as number | undefined) : undefined;
    const now = context.now ?? Date.now();
    if (
      retryAfterMs !== undefined &&
      context.stepDeadlineMs !== undefined &&
      now + retryAfterMs > context.stepDeadlineMs
    ) {
      const wait: VendorWaitDetails = {
        reason: details.reason,
        retryAfterMs,
        resumeAt: new Date(now + retryAfterMs).toISOString(),
        status: details.status,
        vendorCode: details.vendorCode,
      };
      return ApplicationFailure.create({
        message,
        type: failureTypes.vendorAskedToWait,
        nonRetryable: true,
        details: [{ ...details, ...wait }],
      });
    }
    return ApplicationFailure.create({
      message,
      type: failureTypes.retryable,
      details: [details],
      nextRetryDelay: retryAfterMs,
    });
  }
  return ApplicationFailure.create({
    message,
    type: failureTypes.nonRetryable,
    nonRetryable: true,
    details: [details],
  });
}

/**
 * A whole bulk call's failure (a Mailchimp batch POST, a Dataverse `$batch` refused as a whole), for the
 * batch's history, result and logs. Its words may quote any of the call's people, whose names are not read
 * for a call of hundreds and whose data keys cannot seal one text; so, as the per-person gate does when it
 * cannot check a text (patch vendor-failure-names-checked), the vendor's words are withheld
 * (`withheldBatchWords`) and the failure keeps its type, system, operation, status, vendor code, retry
 * decision and Retry-After (toActivityFailure's decisions). Any other error keeps its type, its `code`
 * (`ECONNRESET`) and its stack frames, its message withheld; a ZodError names its fields as
 * invalidInputFailure does. Each person is then served by their own workflow, whose failures are redacted of
 * their names or withheld.
 */
export function toBatchActivityFailure(error: unknown, context: { stepDeadlineMs?: number } = {}): unknown {
  if (error instanceof ZodError || error instanceof VendorError) {
    return toActivityFailure(error, {}, { ...context, withholdWords: true });
  }
  const name = error instanceof Error ? error.name : 'Error';
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  const message = `${typeof code === 'string' ? `${code}: ` : ''}${withheldBatchWords}`;
  // Retried by the activity's policy, as the error itself would have been.
  const failure = ApplicationFailure.create({ message, type: name });
  const frames =
    error instanceof Error ? (error.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)) : [];
  failure.stack = [`${name}: ${message}`, ...frames].join('\n');
  return failure;
}

/**
 * Any other error (a bug, an SDK's own exception) keeps its type and stack, with the subject's data and any
 * address redacted from its message and stack, its cause's too: they become the failure Temporal records.
 */
function redactError(error: unknown, subject: RedactionSubject): unknown {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    current.message = redactSubject(current.message, subject);
    if (current.stack) current.stack = redactSubject(current.stack, subject);
    current = current.cause;
  }
  return error;
}

/** A schema refusal as a failure naming the fields and what is wrong, never the values. */
export function invalidInputFailure(error: ZodError, subject: RedactionSubject = {}): ApplicationFailure {
  const problems = error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`);
  return ApplicationFailure.create({
    message: `invalid input: ${redactSubject(problems.join('; '), subject)}`,
    type: failureTypes.invalidInput,
    nonRetryable: true,
  });
}
