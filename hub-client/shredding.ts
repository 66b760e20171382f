import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { RequestKind } from '../domain/request-deadline.js';
import { accessSubjectErasedSignal, accessWorkflowId } from '../workflows/access-definitions.js';
import { rectificationWorkflowId } from '../workflows/rectification-definitions.js';
import type { shredSubjectKeysWorkflow } from '../workflows/shred-subject-keys.js';
import { shredWorkflowId } from '../workflows/shred-subject-keys.js';
import { accessWorkflowType } from './access.js';
import type { HubClientContext } from './erasures.js';

const shredWorkflowType = 'shredSubjectKeysWorkflow';
const subjectKeyPattern = /^[0-9a-f]{64}$/;

/**
 * Starts (once per erasure request; a retry joins it) the workflow that destroys the subject's data keys when
 * every workflow of theirs has closed.
 */
export async function shredWhenClosed(
  context: HubClientContext & { shredPollEvery?: string },
  /** `holders`: workflows that carry the subject's payloads without their `SubjectKey`, waited for too. */
  input: { subjectKey: string; requestId: string; before: string; holders?: string[] },
): Promise<void> {
  await context.client.workflow.start<typeof shredSubjectKeysWorkflow>(shredWorkflowType, {
    taskQueue: context.taskQueue,
    workflowId: shredWorkflowId(input.subjectKey, input.requestId),
    args: [
      {
        subjectKey: input.subjectKey,
        before: input.before,
        ...(context.shredPollEvery ? { pollEvery: context.shredPollEvery } : {}),
        ...(input.holders?.length ? { holders: input.holders } : {}),
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

/** A request of the subject as the ledger lists it (its deadline entry). */
export interface SubjectRequestRef {
  kind: RequestKind;
  requestId: string;
}

/** The workflow a ledger request runs in, for the kinds whose workflow id follows from the request id. */
function workflowIdOf(subjectKey: string, request: SubjectRequestRef): string | undefined {
  if (request.kind === 'access') return accessWorkflowId(request.requestId);
  if (request.kind === 'rectification') return rectificationWorkflowId(request.requestId);
  if (request.kind === 'erasure') return `erasure-${subjectKey}`;
  if (request.kind === 'consent') return `consent-${subjectKey}`;
  return undefined;
}

/** Running workflows that carry the subject's `SubjectKey` search attribute (Temporal's visibility). */
async function listedRunning(
  client: Client,
  subjectKey: string,
  workflowType?: string,
): Promise<{ workflowId: string; type: string }[]> {
  // Interpolated into a visibility query: only a subject key's own shape may go in.
  if (!subjectKeyPattern.test(subjectKey)) throw new Error('not a subject key');
  const query = [
    `SubjectKey = '${subjectKey}'`,
    `ExecutionStatus = 'Running'`,
    ...(workflowType ? [`WorkflowType = '${workflowType}'`] : []),
  ].join(' AND ');
  const found: { workflowId: string; type: string }[] = [];
  for await (const execution of client.workflow.list({ query })) {
    found.push({ workflowId: execution.workflowId, type: execution.type });
  }
  return found;
}

/**
 * The ids of the subject's workflows still running, of any kind (erasure, consent and its verifications,
 * access, rectification, the repairs reconciliation started), except the shredding itself: each is asked
 * directly by its id where the ledger or the id scheme names it (exact), and Temporal's visibility is asked
 * for every workflow with the subject's `SubjectKey` (which may lag a moment behind a start or a close).
 */
export async function openSubjectWorkflows(
  client: Client,
  input: { subjectKey: string; requests: SubjectRequestRef[] },
): Promise<string[]> {
  const named = new Set([`erasure-${input.subjectKey}`, `consent-${input.subjectKey}`]);
  for (const request of input.requests) {
    const workflowId = workflowIdOf(input.subjectKey, request);
    if (workflowId) named.add(workflowId);
  }
  const open = new Set<string>();
  for (const workflowId of named) if (await isRunning(client, workflowId)) open.add(workflowId);
  for (const listed of await listedRunning(client, input.subjectKey)) {
    if (listed.type !== shredWorkflowType) open.add(listed.workflowId);
  }
  return [...open];
}

/**
 * Tells every running access request of an erased subject to end (accessSubjectErasedSignal): those the
 * ledger names and those Temporal lists by the subject's key. A request that closed meanwhile is skipped.
 * Answers how many were told.
 */
export async function endAccessRequestsOfErased(
  client: Client,
  input: { subjectKey: string; erasureRequestId: string; accessRequestIds: string[] },
): Promise<number> {
  const workflowIds = new Set(input.accessRequestIds.map(accessWorkflowId));
  for (const listed of await listedRunning(client, input.subjectKey, accessWorkflowType)) {
    workflowIds.add(listed.workflowId);
  }
  let told = 0;
  for (const workflowId of workflowIds) {
    try {
      await client.workflow
        .getHandle(workflowId)
        .signal(accessSubjectErasedSignal, { erasureRequestId: input.erasureRequestId });
      told += 1;
    } catch (error) {
      // Closed already (expired, or ended by an earlier erasure): nothing left to end.
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  return told;
}
