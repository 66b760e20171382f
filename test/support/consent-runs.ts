import type { Client } from '@temporalio/client';
import type { ConsentChangeRequestInput, ConsentStatusView } from '../../domain/consent.js';
import type { Purpose } from '../../domain/purposes.js';
import type { consentWorkflow } from '../../workflows/consent.js';
import { consentStatusQuery, consentWorkflowId } from '../../workflows/consent-definitions.js';
import { waitFor } from './waiting.js';

/**
 * Waits until the consent workflow running under `subjectKey` shows a view that passes `test`, and returns it.
 * A query that fails (the run not started yet, or between hand-overs) counts as "not yet".
 */
export function consentViewWhen(
  client: Client,
  subjectKey: string,
  test: (view: ConsentStatusView) => boolean,
  what: string,
): Promise<ConsentStatusView> {
  const handle = client.workflow.getHandle<typeof consentWorkflow>(consentWorkflowId(subjectKey));
  return waitFor(
    what,
    async () => {
      const view = await handle.query(consentStatusQuery);
      return test(view) ? view : undefined;
    },
    { retryErrors: true },
  );
}

/** The view's test for "this change is the purpose's latest, and nothing is left to write". */
export const changeSettled =
  (purpose: Purpose, eventId: string) =>
  (view: ConsentStatusView): boolean =>
    view.purposes[purpose]?.eventId === eventId && view.inFlight === 0;

/** A withdrawal as a test sends it through the consent API (source and channel `test`), made now. */
export function testWithdrawal(email: string, purpose: Purpose): ConsentChangeRequestInput {
  return {
    email,
    purpose,
    decision: 'withdrawn',
    occurredAt: new Date().toISOString(),
    source: 'test',
    evidence: { channel: 'test' },
  };
}
