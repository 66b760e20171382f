import { randomUUID } from 'node:crypto';
import {
  type RectificationReceipt,
  type RectificationRequestInput,
  rectificationRequestSchema,
} from '../domain/rectification.js';
import type { Ledger } from '../ledger/ledger.js';
import { subjectKeyFor } from '../privacy/subject-key.js';
import type { rectificationWorkflow } from '../workflows/rectification.js';
import { rectificationWorkflowId } from '../workflows/rectification-definitions.js';
import { subjectKeyAttribute } from '../workflows/search-attribute-keys.js';
import type { HubClientContext } from './erasures.js';
import { deadlineSearchAttributes, receiptTimes, registerDeadline } from './request-deadlines.js';

export const rectificationWorkflowType = 'rectificationWorkflow';

export interface RectificationStarted {
  requestId: string;
  subjectKey: string;
  /** The person's key under the new address, when the email changes. */
  newSubjectKey?: string;
  workflowId: string;
  receivedAt: string;
  dueAt: string;
}

/**
 * Starts a rectification (GDPR Art. 16): `set` names the new values (email, firstname, lastname). Bad input
 * is a ZodError naming the field. The request is registered with its deadline when a ledger is given.
 */
export async function requestRectification(
  context: HubClientContext & { receivedAtFloorDays?: number },
  input: RectificationRequestInput,
  options: { ledger?: Pick<Ledger, 'registerRequest'> } = {},
): Promise<RectificationStarted> {
  const request = rectificationRequestSchema.parse(input);
  const times = receiptTimes(context, request.receivedAt);
  const subjectKey = subjectKeyFor(request.email, context.subjectKeySecret);
  const newSubjectKey =
    request.set.email && request.set.email !== request.email
      ? subjectKeyFor(request.set.email, context.subjectKeySecret)
      : undefined;
  const workflowId = rectificationWorkflowId(subjectKey, randomUUID());
  const handle = await context.client.workflow.start<typeof rectificationWorkflow>(
    rectificationWorkflowType,
    {
      taskQueue: context.taskQueue,
      workflowId,
      args: [{ subjectKey, ...(newSubjectKey ? { newSubjectKey } : {}), request, timings: context.timings }],
      typedSearchAttributes: [
        { key: subjectKeyAttribute, value: subjectKey },
        ...deadlineSearchAttributes('rectification', times.dueAt),
      ],
    },
  );
  const requestId = handle.firstExecutionRunId;
  const deadline = await registerDeadline(
    options.ledger,
    { requestId, kind: 'rectification', subjectKey },
    times,
  );
  return {
    requestId,
    subjectKey,
    ...(newSubjectKey ? { newSubjectKey } : {}),
    workflowId,
    receivedAt: deadline.receivedAt,
    dueAt: deadline.dueAt,
  };
}

/** Waits for the rectification's receipt. */
export function awaitRectification(
  context: HubClientContext,
  started: Pick<RectificationStarted, 'workflowId' | 'requestId'>,
): Promise<RectificationReceipt> {
  return context.client.workflow
    .getHandle<typeof rectificationWorkflow>(started.workflowId, started.requestId)
    .result();
}
