import { ensureApplicationFailure, TemporalFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { personalSubjectOfValue } from './subject-codec.js';

/** The property the failure converter reads (privacy/failure-converter.cjs): a registered symbol. */
const failureSubjectKey = Symbol.for('consent-hub.failure-subject-key');
/** How deep a failure's causes are marked: as deep as activities/vendor-failure.ts redacts them. */
const maxCauseDepth = 5;

/**
 * Marks `error` (and its causes) as about the subject `input` carries the data of (a connector call's
 * `{ subjectKey, subject }`, a ledger call with the address), so the failure converter seals its message,
 * stack trace and details with the subject's data key: a vendor's error text may name the person in a form
 * the redaction did not know (a name the CRM had not answered yet), and sealed so, the erasure's shred
 * reaches it in every history. Input that names no subject, or none with personal data, leaves the failure
 * under the master key. Answers `error`.
 */
export function markFailureSubject(error: unknown, input: unknown): unknown {
  const subjectKey = personalSubjectOfValue(input);
  if (subjectKey === undefined) return error;
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < maxCauseDepth; depth++) {
    Object.defineProperty(current, failureSubjectKey, { value: subjectKey, configurable: true });
    current = current.cause;
  }
  return error;
}

/**
 * The activity interceptor every hub worker runs (first, so the others see the error as thrown): a failed
 * activity whose input is about a person has its failure marked with them (markFailureSubject), whatever the
 * activity.
 */
export const failureSubjectInterceptor: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (error) {
        // The SDK turns any other error into an ApplicationFailure (ensureApplicationFailure) after this
        // returns, which would drop the mark: it is turned here, the same way. An abort is the SDK's to read.
        const failure =
          error instanceof Error && !(error instanceof TemporalFailure) && error.name !== 'AbortError'
            ? ensureApplicationFailure(error)
            : error;
        throw markFailureSubject(failure, input.args[0]);
      }
    },
  },
});
