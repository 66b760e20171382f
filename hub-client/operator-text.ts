import type { WorkflowHandle } from '@temporalio/client';
import { scrubAddresses } from '../privacy/redaction.js';
import { redactOperatorTextQuery } from '../workflows/operator-text.js';

/**
 * An operator's words about a request (a close reason or note, a deadline extension's reason), redacted
 * before anything sends or stores them: the request's workflow knows its subject's address and the names the
 * CRM holds for them, so it is asked (a query: the text lands in no history). Every address-shaped text is
 * scrubbed here as well, and is all that is done when the workflow cannot answer (it has finished and no
 * worker replays it, or it predates the query); the workflow redacts what it records once more.
 */
export async function redactOperatorText(handle: WorkflowHandle | undefined, text: string): Promise<string> {
  const scrubbed = scrubAddresses(text);
  if (!handle) return scrubbed;
  try {
    return scrubAddresses(await handle.query(redactOperatorTextQuery, text));
  } catch {
    // Redaction must not stop an operator's action: what the client can do alone is done.
    return scrubbed;
  }
}
