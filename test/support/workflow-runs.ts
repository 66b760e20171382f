import { type Client, WorkflowNotFoundError } from '@temporalio/client';

/** The status name Temporal gives the workflow's latest run (`RUNNING`, `COMPLETED`, …); undefined if none. */
export async function workflowStatus(client: Client, workflowId: string): Promise<string | undefined> {
  const description = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    });
  return description?.status.name;
}

/**
 * Ends the workflows a test file opened and left running (a consent workflow idles for minutes), so the
 * next file's worker does not meet them. One already ended, or never started, is passed over.
 */
export async function terminateWorkflows(client: Client, workflowIds: readonly string[]): Promise<void> {
  for (const workflowId of workflowIds) {
    await client.workflow
      .getHandle(workflowId)
      .terminate('test over')
      .catch(() => undefined);
  }
}
