import type { AttentionItem } from '../domain/erasure-listing.js';
import type { SystemName } from '../domain/systems.js';
import type { Ledger } from '../ledger/ledger.js';
import type { consentWorkflow } from '../workflows/consent.js';
import { consentStatusQuery } from '../workflows/consent-definitions.js';
import { subjectKeyAttribute } from '../workflows/search-attribute-keys.js';
import type { HubClientContext } from './erasures.js';

/** One person's consent workflow that waits for an operator (the console's queues). */
export interface ConsentAttentionListing {
  /**
   * The request to act on: the person's open consent change due soonest (its request page retries and
   * closes the system), or the workflow's run id when no open change is in the ledger (a change carried for
   * reconciliation or a webhook); the request page and `actOnRequest` take either.
   */
  requestId: string;
  subjectKey: string;
  /** Each system that needs attention, with the vendor's status and reason. */
  attention: AttentionItem[];
  /** Set when the workflow did not say which system needs attention (no worker answered the query). */
  note?: string;
  startedAt: string;
}

/** How long the listing waits for one workflow's query; a query needs a worker, so it is bounded. */
const queryDeadlineMs = 5000;

/**
 * The consent workflows on this hub's task queue whose `ConsentStatus` is `needs_attention`, each with the
 * systems that wait for an operator and why. Visibility is eventually consistent: a workflow that just went
 * to needs attention shows a moment later.
 */
export async function listConsentNeedingAttention(
  context: HubClientContext,
  ledger: Pick<Ledger, 'listRequestDeadlines'>,
): Promise<ConsentAttentionListing[]> {
  // The task queue is put into the query only when it is a plain name, as listErasures does.
  const queue = /^[\w.:/-]+$/.test(context.taskQueue) ? ` AND TaskQueue = '${context.taskQueue}'` : '';
  const query = `WorkflowType = 'consentWorkflow' AND ExecutionStatus = 'Running' AND ConsentStatus = 'needs_attention'${queue}`;
  const listings: ConsentAttentionListing[] = [];
  for await (const execution of context.client.workflow.list({ query })) {
    const subjectKey = String(execution.typedSearchAttributes.get(subjectKeyAttribute) ?? '');
    const handle = context.client.workflow.getHandle<typeof consentWorkflow>(execution.workflowId);
    const [view, open] = await Promise.all([
      context.client
        .withDeadline(Date.now() + queryDeadlineMs, () => handle.query(consentStatusQuery))
        .catch(() => undefined),
      /^[0-9a-f]{64}$/.test(subjectKey)
        ? ledger.listRequestDeadlines({ open: true, kind: 'consent', subjectKey, limit: 1 })
        : Promise.resolve([]),
    ]);
    const attention: AttentionItem[] = view
      ? Object.entries(view.systems)
          .filter(([, state]) => state.status === 'needs_attention')
          .map(([system, state]) => ({
            system: system as SystemName,
            reason: state.failure?.reason ?? state.status,
            ...(state.failure?.status === undefined ? {} : { status: state.failure.status }),
          }))
      : [];
    listings.push({
      requestId: open[0]?.requestId ?? execution.runId,
      subjectKey,
      attention,
      ...(view
        ? {}
        : { note: 'the workflow did not say which system needs attention (is a worker running?)' }),
      startedAt: execution.startTime.toISOString(),
    });
  }
  return listings;
}
