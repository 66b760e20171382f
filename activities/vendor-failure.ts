import { ApplicationFailure } from '@temporalio/common';
import { VendorError } from '../connectors/connector-errors.js';
import { scrubEmails } from '../logging/logger.js';

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
export function toActivityFailure(error: unknown): unknown {
  if (!(error instanceof VendorError)) return error;
  const details = { ...error.toJSON(), reason: scrubEmails(error.reason) };
  const message = scrubEmails(error.message);
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
