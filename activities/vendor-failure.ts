import { ApplicationFailure } from '@temporalio/common';
import { VendorError } from '../connectors/connector-errors.js';
import { type RedactionSubject, redactSubject } from '../privacy/redaction.js';

/** Failure types the workflows' retry policies name in `nonRetryableErrorTypes`. */
export const failureTypes = {
  retryable: 'RetryableVendorError',
  nonRetryable: 'NonRetryableVendorError',
  notConfigured: 'SystemNotConfigured',
} as const;

/**
 * Turns a connector's VendorError into the Temporal failure that carries the same decision: retry (after the
 * vendor's Retry-After, when it gave one) or stop and wait for a person. The vendor details ride along for
 * the receipt. Anything else is rethrown untouched and retried by the activity's policy.
 */
export function toActivityFailure(error: unknown, subject: RedactionSubject = {}): unknown {
  if (!(error instanceof VendorError)) return redactError(error, subject);
  const details = { ...error.toJSON(), reason: redactSubject(error.reason, subject) };
  const message = redactSubject(error.message, subject);
  if (error.retryable) {
    const retryAfterMs = 'retryAfterMs' in error ? (error.retryAfterMs as number | undefined) : undefined;
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
