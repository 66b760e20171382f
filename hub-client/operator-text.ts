import { type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { withheldOperatorText } from '../domain/close-reason-codes.js';
import { crmNamesUnavailableType } from '../domain/redaction-names.js';
import type { RequestKind } from '../domain/request-deadline.js';
import { scrubAddresses } from '../privacy/redaction.js';
import { redactOperatorTextQuery, redactOperatorTextWithCrmNamesUpdate } from '../workflows/operator-text.js';

/**
 * How long the client waits for a workflow to read the CRM's names (the workflow's own lookup is capped at
 * 30 s): past it, the text is redacted with what the workflow knows already.
 */
const crmNamesWaitMs = 45_000;

/**
 * The kinds whose workflow reads the CRM's names on `redactOperatorTextWithCrmNames`. An erasure answers at
 * once when its harvest has read them, and reads them itself while the harvest has not answered (the CRM down).
 */
const kindsReadingCrmNames: ReadonlySet<RequestKind> = new Set<RequestKind>([
  'erasure',
  'consent',
  'access',
  'rectification',
]);

/** Whether a request of `kind` is worth asking to read the CRM's names before its operator texts are redacted. */
export function readsCrmNames(kind: RequestKind): boolean {
  return kindsReadingCrmNames.has(kind);
}

/**
 * An operator's words about a request (a close reason or note, a deadline extension's reason), redacted
 * before anything sends or stores them: the request's workflow knows its subject's address and the names the
 * CRM holds for them, so it is asked (a query: the text lands in no history). Every address-shaped text is
 * scrubbed here as well.
 *
 * With `readCrmNames`, the text is about to be stored by the caller, so it fails closed: the workflow is
 * first asked to read the CRM's names (`redactOperatorTextWithCrmNames`, an update that carries no text), and
 * when they cannot be checked (the CRM is down or slow, the workflow does not answer in time or no longer
 * runs) the answer is `withheldTextMarker`, never the text redacted of the address alone. A workflow started
 * by an older build, without the update's handler, is asked the query alone, as before.
 *
 * Without it (a consent note, which the person's workflow redacts once more, and withholds itself when it
 * cannot read the names), a workflow that cannot answer leaves the text scrubbed of addresses.
 */
export async function redactOperatorText(
  handle: WorkflowHandle | undefined,
  text: string,
  options: { readCrmNames?: boolean } = {},
): Promise<string> {
  const scrubbed = scrubAddresses(text);
  const withheld = withheldOperatorText(text);
  if (!handle) return options.readCrmNames ? withheld : scrubbed;
  if (options.readCrmNames) {
    try {
      await handle.client.withDeadline(Date.now() + crmNamesWaitMs, () =>
        handle.executeUpdate(redactOperatorTextWithCrmNamesUpdate),
      );
    } catch (error) {
      // Only a run from before the update may go on to the query: it cannot say whether it knows the names.
      if (!lacksUpdateHandler(error)) return withheld;
    }
  }
  try {
    return scrubAddresses(await handle.query(redactOperatorTextQuery, text));
  } catch {
    // The workflow cannot answer: what the client can do alone is done, unless the text is to be stored.
    return options.readCrmNames ? withheld : scrubbed;
  }
}

/** Whether an update failed because the workflow (started by an older build) has no handler for it. */
function lacksUpdateHandler(error: unknown): boolean {
  if (!(error instanceof WorkflowUpdateFailedError)) return false;
  const cause = error.cause;
  return (
    cause instanceof ApplicationFailure &&
    cause.type !== crmNamesUnavailableType &&
    /No registered handler for update/.test(cause.message)
  );
}
