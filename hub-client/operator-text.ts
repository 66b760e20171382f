import type { WorkflowHandle } from '@temporalio/client';
import type { RequestKind } from '../domain/request-deadline.js';
import { scrubAddresses } from '../privacy/redaction.js';
import { redactOperatorTextQuery, redactOperatorTextWithCrmNamesUpdate } from '../workflows/operator-text.js';

/**
 * How long the client waits for a workflow to read the CRM's names (the workflow's own lookup is capped at
 * 30 s): past it, the text is redacted with what the workflow knows already.
 */
const crmNamesWaitMs = 45_000;

/**
 * The kinds whose workflow reads the CRM's names on `redactOperatorTextWithCrmNames`. An erasure harvests
 * them as its first step and needs no second read.
 */
const kindsReadingCrmNames: ReadonlySet<RequestKind> = new Set<RequestKind>([
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
 * CRM holds for them, so it is asked (a query: the text lands in no history). With `readCrmNames`, the
 * workflow is first asked to read the CRM's names if its run has not (`redactOperatorTextWithCrmNames`, an
 * update that carries no text); a workflow that refuses it (started by an older build, or finished) is
 * asked the query alone. Every address-shaped text is scrubbed here as well, and is all that is done when
 * the workflow cannot answer (it has finished and no worker replays it, or it predates the query); the
 * workflow redacts what it records once more.
 */
export async function redactOperatorText(
  handle: WorkflowHandle | undefined,
  text: string,
  options: { readCrmNames?: boolean } = {},
): Promise<string> {
  const scrubbed = scrubAddresses(text);
  if (!handle) return scrubbed;
  if (options.readCrmNames) {
    try {
      await handle.client.withDeadline(Date.now() + crmNamesWaitMs, () =>
        handle.executeUpdate(redactOperatorTextWithCrmNamesUpdate),
      );
    } catch {
      // No handler, no running workflow, or no answer in time: the query below redacts what the run knows.
    }
  }
  try {
    return scrubAddresses(await handle.query(redactOperatorTextQuery, text));
  } catch {
    // Redaction must not stop an operator's action: what the client can do alone is done.
    return scrubbed;
  }
}
