import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { shredSubjectKeysWorkflow } from '../workflows/shred-subject-keys.js';
import { shredWorkflowId } from '../workflows/shred-subject-keys.js';
import type { HubClientContext } from './erasures.js';

/**
 * Starts (once per erasure request; a retry joins it) the workflow that destroys the subject's data keys when
 * their erasure and consent workflows have closed.
 */
export async function shredWhenClosed(
  context: HubClientContext & { shredPollEvery?: string },
  input: { subjectKey: string; requestId: string; before: string },
): Promise<void> {
  await context.client.workflow.start<typeof shredSubjectKeysWorkflow>('shredSubjectKeysWorkflow', {
    taskQueue: context.taskQueue,
    workflowId: shredWorkflowId(input.subjectKey, input.requestId),
    args: [
      {
        subjectKey: input.subjectKey,
        before: input.before,
        ...(context.shredPollEvery ? { pollEvery: context.shredPollEvery } : {}),
      },
    ],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
}

/** True while the latest run of `workflowId` is running. */
export async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}
