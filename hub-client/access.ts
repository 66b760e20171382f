import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { type WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';

import {
  type AccessExportFormat,
  type AccessReceipt,
  type AccessRequestInput,
  type AccessStatusView,
  type AccessTimings,
  accessRequestSchema,
} from '../domain/access.js';
import type { RequestedUnder } from '../domain/erasure.js';
import type { Ledger } from '../ledger/ledger.js';
import {
  AccessExportErased,
  AccessExportMissing,
  type AccessExportStore,
} from '../privacy/access-export-store.js';
import { subjectKeyFor } from '../privacy/subject-key.js';
import type { accessWorkflow } from '../workflows/access.js';
import { accessStatusQuery, accessWorkflowId } from '../workflows/access-definitions.js';
import { subjectKeyAttribute } from '../workflows/search-attribute-keys.js';
import { type HubClientContext, withRetryStates } from './erasures.js';
import { requestIdSchema } from './find-by-request-id.js';
import { retryStatesOf } from './pending-activities.js';
import { followRequestedAddress } from './rekeyed-subjects.js';
import {
  type DeadlineContext,
  deadlineSearchAttributes,
  receiptTimes,
  registerDeadline,
} from './request-deadlines.js';
import { InvalidRequestId, OperatorActionRefused, RequestNotFound } from './request-errors.js';
import { shredWhenClosed } from './shredding.js';

export const accessWorkflowType = 'accessWorkflow';
/** How long an export may be fetched when CONSENT_HUB_EXPORT_TTL is not set. */
export const defaultExportTtl = '30 days';

export interface AccessClientContext extends HubClientContext {
  /** How long an export may be fetched before it is deleted (CONSENT_HUB_EXPORT_TTL, default 30 days). */
  exportTtl?: string | number;
}

export interface AccessStarted {
  requestId: string;
  /** The person's key now: the address's own, or the one rectifications re-keyed it to (`requestedUnder`). */
  subjectKey: string;
  workflowId: string;
  status: 'running';
  receivedAt: string;
  dueAt: string;
  /** Set when the address named was re-keyed by rectifications: the key it names and the re-keys followed. */
  requestedUnder?: RequestedUnder;
}

/**
 * Starts an access request. Each request is its own workflow (a person asking twice gets two copies): the
 * request id is a random UUID and the workflow id `access-<request id>`, never the address. With the
 * ledger, the request is registered with its deadline (`consent-hub requests`). A ledger that can follow
 * re-keys (getSubjectLink, getRectification) makes a request by an address a rectification moved away from
 * gather the person under their key and address now, as an erasure does (followRequestedAddress), and the
 * answer, status and receipt say so (`requestedUnder`).
 */
export async function requestAccess(
  context: AccessClientContext & DeadlineContext,
  input: AccessRequestInput,
  options: {
    ledger?: Pick<Ledger, 'registerRequest'> &
      Partial<
        Pick<Ledger, 'getSubjectLink' | 'getRectification' | 'subjectKeyRecordedSince' | 'getTombstone'>
      >;
  } = {},
): Promise<AccessStarted> {
  const parsed = accessRequestSchema.parse(input);
  const times = receiptTimes(context, parsed.receivedAt);
  const { email, requestedUnder } = await followRequestedAddress(
    context,
    options.ledger,
    parsed.email,
    'ask again by their address now for what the systems hold there',
  );
  const request = { ...parsed, email, receivedAt: times.receivedAt };
  const subjectKey = subjectKeyFor(request.email, context.subjectKeySecret);
  const requestId = randomUUID();
  const workflowId = accessWorkflowId(requestId);
  const timings: AccessTimings = { ...context.timings, exportTtl: context.exportTtl ?? defaultExportTtl };
  await context.client.workflow.start<typeof accessWorkflow>(accessWorkflowType, {
    taskQueue: context.taskQueue,
    workflowId,
    args: [{ requestId, subjectKey, request, timings, ...(requestedUnder ? { requestedUnder } : {}) }],
    typedSearchAttributes: [
      { key: subjectKeyAttribute, value: subjectKey },
      ...deadlineSearchAttributes('access', times.dueAt),
    ],
  });
  const deadline = await registerDeadline(options.ledger, { requestId, kind: 'access', subjectKey }, times);
  // An erased person's address is now sealed in this run under a data key minted for it (their own went with
  // the erasure): that key goes once the run has closed, as an erased person's withdrawal's does, or the
  // address would stay readable in the run's history. After the request is registered, which the shredding
  // waits on.
  if (await options.ledger?.getTombstone?.(subjectKey))
    await shredWhenClosed(context, { subjectKey, requestId, before: new Date().toISOString() });
  return {
    requestId,
    subjectKey,
    workflowId,
    status: 'running',
    receivedAt: deadline.receivedAt,
    dueAt: deadline.dueAt,
    ...(requestedUnder ? { requestedUnder } : {}),
  };
}

async function handleFor(context: HubClientContext, requestId: string) {
  const parsed = requestIdSchema.safeParse(requestId);
  if (!parsed.success) throw new InvalidRequestId(`request id ${parsed.error.issues[0]?.message}`);
  const handle = context.client.workflow.getHandle<typeof accessWorkflow>(accessWorkflowId(parsed.data));
  try {
    const description = await handle.describe();
    return { running: description.status.name === 'RUNNING', handle };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new RequestNotFound(requestId);
    throw error;
  }
}

/** The request's status (with what the worker is retrying per system), or its receipt once it ended. */
export async function lookupAccess(
  context: HubClientContext,
  requestId: string,
  /** With the ledger, a request whose workflow Temporal has forgotten (retention) answers its stored receipt. */
  ledger?: Pick<Ledger, 'getAccessReceipt'>,
): Promise<AccessStatusView | AccessReceipt> {
  let found: Awaited<ReturnType<typeof handleFor>>;
  try {
    found = await handleFor(context, requestId);
  } catch (error) {
    const stored = error instanceof RequestNotFound ? await ledger?.getAccessReceipt(requestId) : undefined;
    if (stored) return stored;
    throw error;
  }
  const { running, handle } = found;
  if (!running) return handle.result();
  return liveStatus(context, handle);
}

/** Whether `requestId` is an access request's (for the commands that take any request id). */
export async function isAccessRequest(context: HubClientContext, requestId: string): Promise<boolean> {
  try {
    await handleFor(context, requestId);
    return true;
  } catch (error) {
    if (error instanceof RequestNotFound || error instanceof InvalidRequestId) return false;
    throw error;
  }
}

async function liveStatus(
  context: HubClientContext,
  handle: WorkflowHandle<typeof accessWorkflow>,
): Promise<AccessStatusView> {
  const [status, retrying] = await Promise.all([
    handle.query(accessStatusQuery),
    retryStatesOf(context.client, handle),
  ]);
  return withRetryStates(status, retrying);
}

/**
 * Waits until the export is ready (or a system needs an operator, or the request ended), polling the
 * workflow's query; answers the status then.
 */
export async function awaitAccess(
  context: HubClientContext,
  requestId: string,
  onStatus: (status: AccessStatusView) => void = () => {},
  pollMs = 500,
): Promise<AccessStatusView> {
  for (;;) {
    const status = await lookupAccess(context, requestId);
    onStatus(status);
    if (status.status !== 'running') return status;
    await delay(pollMs);
  }
}

/** The export is not there to fetch: still being gathered, or deleted when its time ran out. */
export class AccessExportUnavailable extends OperatorActionRefused {}

/** The export went with its subject's erasure (deleted, its data key destroyed): gone for good. */
export class AccessExportGone extends AccessExportUnavailable {}

const erasedMessage = (requestId: string) =>
  `The export of request ${requestId} was deleted when its subject was erased; it can no longer be fetched.`;

/**
 * The decrypted export of a request in the format asked for, while it may be fetched. Answers
 * RequestNotFound for an unknown id and AccessExportUnavailable while it is being gathered or after it was
 * deleted (saying which); AccessExportGone once its subject was erased (the message names the request only).
 */
export async function readAccessExport(
  context: HubClientContext,
  store: AccessExportStore,
  requestId: string,
  format: AccessExportFormat,
): Promise<{ content: Buffer; status: AccessStatusView }> {
  // Asked first: an erased subject's access workflow may no longer be readable, their export never is.
  if (await store.wasErased(requestId)) throw new AccessExportGone(erasedMessage(requestId));
  const status = await lookupAccess(context, requestId);
  // Ended by the erasure before anything was written, there is no marker: the request itself says so.
  if (status.status === 'withdrawn') throw new AccessExportGone(erasedMessage(requestId));
  if (status.status === 'expired')
    throw new AccessExportUnavailable(
      `The export of request ${requestId} expired at ${status.expiresAt} and was deleted at ${status.deletedAt}.`,
    );
  if (status.status !== 'ready')
    throw new AccessExportUnavailable(
      `The export of request ${requestId} is not ready yet (status ${status.status}); try again when it is.`,
    );
  try {
    return { content: await store.read(requestId, `export.${format}`), status };
  } catch (error) {
    if (error instanceof AccessExportErased) throw new AccessExportGone(erasedMessage(requestId));
    if (error instanceof AccessExportMissing)
      throw new AccessExportUnavailable(
        `The export of request ${requestId} is no longer in the export store.`,
      );
    throw error;
  }
}
