import { proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';

export interface ShredInput {
  subjectKey: string;
  /** The erasure's completion: keys created up to then are destroyed, later ones (a new request) are not. */
  before: string;
  /** How long to wait between looks at the subject's workflows. */
  pollEvery?: string;
  /**
   * Workflows that carry the subject's payloads without naming them in a search attribute (a consent batch,
   * its intake buffer): the shredding waits for these to close too.
   */
  holders?: string[];
}

export const shredWorkflowId = (subjectKey: string, requestId: string) => `shred-${subjectKey}-${requestId}`;

const activities = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * Destroys an erased subject's data keys once none of their workflows is open. Not earlier: a worker that
 * replays an open workflow (after a restart, say) must still read its inputs. Its own input names the subject
 * only by key, so it stays readable under the master key after the shredding it does.
 */
export async function shredSubjectKeysWorkflow(input: ShredInput): Promise<{ destroyed: number }> {
  // Holders are passed only when there are any: a shredding without them schedules what it always did.
  const holders: [] | [string[]] = input.holders?.length ? [input.holders] : [];
  while (await activities.subjectWorkflowsOpen(input.subjectKey, ...holders)) {
    await sleep(input.pollEvery ?? '30 seconds');
  }
  return { destroyed: await activities.destroySubjectDataKeys(input) };
}
