import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { rectificationWorkflowId } from '../workflows/rectification-definitions.js';
import { findWorkflowByRequestId, requestIdSchema } from './find-by-request-id.js';

export const rectificationWorkflowType = 'rectificationWorkflow';

export interface FoundRectification {
  workflowId: string;
  /** Set for a rectification started before request ids were chosen at intake (its first run id). */
  runId?: string;
  running: boolean;
}

/**
 * The workflow that carries the rectification `requestId`, or undefined when none does. One describe for a
 * rectification of today (its workflow id follows from the request id); an older one, whose request id is its
 * first run id, is looked up in visibility. A malformed id is undefined (the caller names it).
 */
export async function findRectification(
  context: { client: Client },
  requestId: string,
): Promise<FoundRectification | undefined> {
  const parsed = requestIdSchema.safeParse(requestId);
  if (!parsed.success) return undefined;
  const workflowId = rectificationWorkflowId(parsed.data);
  try {
    const description = await context.client.workflow.getHandle(workflowId).describe();
    return { workflowId, running: description.status.name === 'RUNNING' };
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  const execution = await findWorkflowByRequestId(context.client, rectificationWorkflowType, parsed.data, 0);
  if (!execution) return undefined;
  return {
    workflowId: execution.workflowId,
    runId: parsed.data,
    running: execution.status.name === 'RUNNING',
  };
}
