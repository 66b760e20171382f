import { setTimeout as delay } from 'node:timers/promises';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { z } from 'zod';
import { InvalidRequestId } from './request-errors.js';

/** A request id is the run id of the workflow that carries the request: a UUID. */
export const requestIdSchema = z.uuid({ error: 'is not a request id (a UUID, as `erase` printed it)' });

/**
 * Finds the workflow run whose first run id is `requestId`. Visibility is eventually consistent, so a request
 * started a moment ago may take a second to show; this waits up to `waitMs` for it.
 */
export async function findWorkflowByRequestId(
  client: Client,
  workflowType: string,
  requestId: string,
  waitMs = 3000,
): Promise<WorkflowExecutionInfo | undefined> {
  const parsed = requestIdSchema.safeParse(requestId);
  if (!parsed.success) throw new InvalidRequestId(`request id ${parsed.error.issues[0]?.message}`);
  // The id is a validated UUID, so it cannot break out of the quoted literal.
  const query = `WorkflowType = '${workflowType}' AND RunId = '${parsed.data}'`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    for await (const execution of client.workflow.list({ query, pageSize: 1 })) return execution;
    if (Date.now() >= deadline) return undefined;
    await delay(250);
  }
}
