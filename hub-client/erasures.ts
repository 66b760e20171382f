import type { Client } from '@temporalio/client';
import { UsageError } from '../cli/usage-error.js';
import {
  type ErasureReceipt,
  type ErasureRequestInput,
  type ErasureStatusView,
  type ErasureTimings,
  erasureRequestSchema,
  operatorCloseSchema,
  operatorRetrySchema,
} from '../domain/erasure.js';
import { structuredReason } from '../domain/free-text.js';
import { redactSubject, scrubAddresses } from '../privacy/redaction.js';
import { subjectKeyFor } from '../privacy/subject-key.js';
import type { erasureWorkflow } from '../workflows/erasure.js';
import {
  closeSystemUpdate,
  erasureStatusQuery,
  erasureWorkflowId,
  retrySystemUpdate,
} from '../workflows/erasure-definitions.js';
import { erasureStatusAttribute, subjectKeyAttribute } from '../workflows/search-attribute-keys.js';
import { findWorkflowByRequestId } from './find-by-request-id.js';

export interface HubClientContext {
  client: Client;
  taskQueue: string;
  subjectKeySecret: string;
  timings: ErasureTimings;
}

const workflowType = 'erasureWorkflow';

export interface ErasureStarted {
  requestId: string;
  subjectKey: string;
  workflowId: string;
}

/**
 * Starts an erasure, or joins the one already running for the same person: the workflow id is derived from
 * the subject key, and a second start while one runs returns the running one's request id.
 */
export async function requestErasure(
  context: HubClientContext,
  input: ErasureRequestInput,
): Promise<ErasureStarted> {
  const parsed = erasureRequestSchema.parse(input);
  // Free text reaches Temporal and the receipt only as a code and a note scrubbed of the person's data.
  const { reason, reasonNote } = structuredReason(parsed.reason, parsed.reasonNote);
  const request = {
    ...parsed,
    reason,
    ...(reasonNote
      ? {
          reasonNote: redactSubject(reasonNote, {
            email: parsed.email,
            identifiers: [...parsed.gaClientIds, ...parsed.gaUserIds],
          }),
        }
      : { reasonNote: undefined }),
  };
  const subjectKey = subjectKeyFor(request.email, context.subjectKeySecret);
  const workflowId = erasureWorkflowId(subjectKey);
  const handle = await context.client.workflow.start<typeof erasureWorkflow>(workflowType, {
    taskQueue: context.taskQueue,
    workflowId,
    args: [{ subjectKey, request, timings: context.timings }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [
      { key: subjectKeyAttribute, value: subjectKey },
      { key: erasureStatusAttribute, value: 'running' },
    ],
  });
  return { requestId: handle.firstExecutionRunId, subjectKey, workflowId };
}

async function handleFor(context: HubClientContext, requestId: string) {
  const execution = await findWorkflowByRequestId(context.client, workflowType, requestId);
  if (!execution) throw new UsageError(`No erasure with request id ${requestId} is known to Temporal.`);
  return {
    execution,
    handle: context.client.workflow.getHandle<typeof erasureWorkflow>(execution.workflowId, requestId),
  };
}

export type ErasureLookup =
  | { state: 'completed'; receipt: ErasureReceipt }
  | { state: 'open'; status: ErasureStatusView };

/** The receipt of a finished erasure, or the live status of one still running. */
export async function lookupErasure(context: HubClientContext, requestId: string): Promise<ErasureLookup> {
  const { execution, handle } = await handleFor(context, requestId);
  if (execution.status.name === 'RUNNING')
    return { state: 'open', status: await handle.query(erasureStatusQuery) };
  return { state: 'completed', receipt: await handle.result() };
}

/** Waits for the receipt. */
export async function awaitReceipt(
  context: HubClientContext,
  started: ErasureStarted,
): Promise<ErasureReceipt> {
  return context.client.workflow
    .getHandle<typeof erasureWorkflow>(started.workflowId, started.requestId)
    .result();
}

export interface ErasureListing {
  requestId: string;
  subjectKey: string;
  status: string;
  startedAt: string;
  closedAt?: string;
}

export async function listErasures(
  context: HubClientContext,
  status?: 'running' | 'needs_attention' | 'completed',
): Promise<ErasureListing[]> {
  // `status` is one of three fixed words (validated by the caller's schema), never free text.
  const query = `WorkflowType = '${workflowType}'${status ? ` AND ErasureStatus = '${status}'` : ''}`;
  const listings: ErasureListing[] = [];
  for await (const execution of context.client.workflow.list({ query })) {
    listings.push({
      requestId: execution.runId,
      subjectKey: String(execution.typedSearchAttributes.get(subjectKeyAttribute) ?? ''),
      status: String(execution.typedSearchAttributes.get(erasureStatusAttribute) ?? execution.status.name),
      startedAt: execution.startTime.toISOString(),
      closedAt: execution.closeTime?.toISOString(),
    });
  }
  return listings;
}

export async function retryErasureSystem(
  context: HubClientContext,
  requestId: string,
  input: { system: string },
): Promise<ErasureStatusView> {
  const command = operatorRetrySchema.parse(input);
  const { handle } = await handleFor(context, requestId);
  return handle.executeUpdate(retrySystemUpdate, { args: [command] });
}

export async function closeErasureSystem(
  context: HubClientContext,
  requestId: string,
  input: { system: string; reason: string },
): Promise<ErasureStatusView> {
  const parsed = operatorCloseSchema.parse(input);
  // An operator's words go into the receipt: no address survives in them.
  const command = { ...parsed, reason: scrubAddresses(parsed.reason) };
  const { handle } = await handleFor(context, requestId);
  return handle.executeUpdate(closeSystemUpdate, { args: [command] });
}
