import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { normaliseEmail } from '../domain/email.js';
import {
  type RectificationLookup,
  type RectificationReceipt,
  type RectificationRequestInput,
  type RectificationStatusView,
  rectificationRequestSchema,
} from '../domain/rectification.js';
import type { Ledger } from '../ledger/ledger.js';
import { subjectKeyFor } from '../privacy/subject-key.js';
import { erasureWorkflowId } from '../workflows/erasure-definitions.js';
import type { rectificationWorkflow } from '../workflows/rectification.js';
import { rectificationStatusQuery, rectificationWorkflowId } from '../workflows/rectification-definitions.js';
import { subjectKeyAttribute } from '../workflows/search-attribute-keys.js';
import { type HubClientContext, withRetryStates } from './erasures.js';
import { findRectification } from './find-rectification.js';
import { retryStatesOf } from './pending-activities.js';
import { deadlineSearchAttributes, receiptTimes, registerDeadline } from './request-deadlines.js';
import { RectificationRefused, RequestNotFound } from './request-errors.js';
import { isRunning, shredWhenClosed } from './shredding.js';
import { followSubjectLinks } from './subject-links.js';

export { findRectification, rectificationWorkflowType } from './find-rectification.js';

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
 * is a ZodError naming the field. The request id is a random UUID chosen here, and the workflow id
 * (`rectification-<requestId>`) follows from it. The request is registered with its deadline when a ledger
 * is given.
 */
export async function requestRectification(
  context: HubClientContext & { receivedAtFloorDays?: number },
  input: RectificationRequestInput,
  options: { ledger?: Pick<Ledger, 'registerRequest' | TakenAddressReads> } = {},
): Promise<RectificationStarted> {
  const request = rectificationRequestSchema.parse(input);
  const times = receiptTimes(context, request.receivedAt);
  const subjectKey = subjectKeyFor(request.email, context.subjectKeySecret);
  // Compared normalised (the new address keeps its case for the vendors): a change of case only is the same
  // person to the hub, with the same key.
  if (request.set.email !== undefined && normaliseEmail(request.set.email) === request.email) {
    throw new RectificationRefused(
      `The rectification is refused: the new email is subject ${subjectKey}'s current address (a change of case only is the same address), so there is nothing to change. Nothing was written.`,
      'same_address',
    );
  }
  const newSubjectKey = request.set.email
    ? subjectKeyFor(request.set.email, context.subjectKeySecret)
    : undefined;
  if (newSubjectKey && options.ledger) await refuseTakenAddress(options.ledger, subjectKey, newSubjectKey);
  // The erasure deletes what it found at the address it searched: records moved away meanwhile would escape
  // it, and a re-key would carry its tombstone away from the address it erased. The workflow checks again.
  if (await isRunning(context.client, erasureWorkflowId(subjectKey))) {
    throw new RectificationRefused(
      `The rectification of subject ${subjectKey} is refused: an erasure of this person is running (workflow ${erasureWorkflowId(subjectKey)}). Nothing was written; rectify once it has ended, if anything is left.`,
      'erasure_running',
    );
  }
  if (options.ledger) await refuseWhileRectifying(context, options.ledger, subjectKey);
  const requestId = randomUUID();
  const workflowId = rectificationWorkflowId(requestId);
  await context.client.workflow.start<typeof rectificationWorkflow>('rectificationWorkflow', {
    taskQueue: context.taskQueue,
    workflowId,
    args: [
      {
        requestId,
        subjectKey,
        ...(newSubjectKey ? { newSubjectKey } : {}),
        request,
        timings: context.timings,
      },
    ],
    typedSearchAttributes: [
      { key: subjectKeyAttribute, value: subjectKey },
      ...deadlineSearchAttributes('rectification', times.dueAt),
    ],
  });
  const deadline = await registerDeadline(
    options.ledger,
    { requestId, kind: 'rectification', subjectKey },
    times,
  );
  // A person already erased keeps their tombstone under this key (the workflow does not re-key it), and their
  // address is now sealed in this run under a data key minted for it: that key goes once the run has closed,
  // as an erased person's withdrawal's and access request's do.
  if (options.ledger && (await options.ledger.getTombstone(subjectKey)))
    await shredWhenClosed(context, { subjectKey, requestId, before: new Date().toISOString() });
  return {
    requestId,
    subjectKey,
    ...(newSubjectKey ? { newSubjectKey } : {}),
    workflowId,
    receivedAt: deadline.receivedAt,
    dueAt: deadline.dueAt,
  };
}

/**
 * Refuses (RectificationRefused `rectification_running`, subject keys and request ids only) a rectification
 * of a person another rectification of whom still runs: each would search the old address while the other
 * moves records away from it, so one system could end at one new address and another at the other, with the
 * ledger re-keyed to only one of them. Open in the ledger and running in Temporal (a run terminated outside
 * the hub never completes its ledger row, and must not block the person for good).
 */
async function refuseWhileRectifying(
  context: HubClientContext,
  ledger: Pick<Ledger, 'listRequestDeadlines'>,
  subjectKey: string,
): Promise<void> {
  const open = await ledger.listRequestDeadlines({ open: true, kind: 'rectification', subjectKey });
  for (const request of open) {
    if (!(await isRunning(context.client, rectificationWorkflowId(request.requestId)))) continue;
    throw new RectificationRefused(
      `The rectification of subject ${subjectKey} is refused: rectification ${request.requestId} of this person is still running. Nothing was written; let it end (consent-hub receipt ${request.requestId}: retry or close what needs attention), then rectify again if anything is left.`,
      'rectification_running',
    );
  }
}

type TakenAddressReads =
  | 'getTombstone'
  | 'listConsentEvents'
  | 'listRequestDeadlines'
  | 'getHold'
  | 'getSubjectLink'
  | 'getRectification'
  | 'subjectKeyRecordedSince';

/**
 * Refuses (RectificationRefused, naming subject keys only) an email change to an address the ledger knows as
 * someone else's: an erased person's (a tombstone: Mailchimp keeps such an address forgotten and refuses it,
 * after Dynamics would already have moved), a person with consent events, requests or a hold of their own, or
 * an address another person was rectified away from: its re-key link sends every later request by it (erasure,
 * access, a consent change) to that person's key and address now, so the person moved in would be erased,
 * exported or subscribed as the one who left (the person taking their own old address back is no other).
 * Checked before anything is written, so a refusal leaves every system as it was.
 */
async function refuseTakenAddress(
  ledger: Pick<Ledger, TakenAddressReads>,
  subjectKey: string,
  newSubjectKey: string,
): Promise<void> {
  const refused = (why: string, code: 'address_taken' | 'address_erased') =>
    new RectificationRefused(
      `The rectification of subject ${subjectKey} is refused: the new email ${why}. Nothing was written.`,
      code,
    );
  const tombstone = await ledger.getTombstone(newSubjectKey);
  if (tombstone)
    throw refused(
      `is an erased person's (subject ${newSubjectKey}, erased at ${tombstone.erasedAt}); Mailchimp keeps it forgotten and would refuse it`,
      'address_erased',
    );
  const movedAway = await followSubjectLinks(ledger, newSubjectKey);
  if (movedAway.hops.length > 0 && movedAway.subjectKey !== subjectKey)
    throw refused(
      `was another person's, whom rectification ${movedAway.hops[0]?.requestId} moved to subject ${movedAway.subjectKey}; requests by it follow that person, so it cannot become this person's address`,
      'address_taken',
    );
  const [events, requests, hold] = await Promise.all([
    ledger.listConsentEvents(newSubjectKey),
    ledger.listRequestDeadlines({ subjectKey: newSubjectKey, limit: 1 }),
    ledger.getHold(newSubjectKey),
  ]);
  if (events.length > 0 || requests.length > 0 || hold)
    throw refused(
      `already belongs to another person in the ledger (subject ${newSubjectKey}); merging two people is not a rectification`,
      'address_taken',
    );
}

/**
 * A rectification by its request id: the receipt from the ledger (kept after Temporal's retention) or from
 * the finished workflow, or the live status with what the worker is retrying per system (attempt, last
 * failure, next retry). RequestNotFound when no rectification has this id.
 */
export async function lookupRectification(
  context: HubClientContext,
  ledger: Pick<Ledger, 'getRectification'>,
  requestId: string,
): Promise<RectificationLookup> {
  const stored = await ledger.getRectification(requestId);
  if (stored) return { state: 'completed', receipt: stored };
  const found = await findRectification(context, requestId);
  if (!found) throw new RequestNotFound(requestId);
  const handle = context.client.workflow.getHandle<typeof rectificationWorkflow>(
    found.workflowId,
    found.runId,
  );
  if (!found.running) return { state: 'completed', receipt: await handle.result() };
  return { state: 'open', status: await rectificationLiveStatus(context, handle) };
}

/** The workflow's status with each running system's retry state (attempt, last failure, next retry). */
export async function rectificationLiveStatus(
  context: HubClientContext,
  handle: WorkflowHandle<typeof rectificationWorkflow>,
): Promise<RectificationStatusView> {
  const [status, retrying] = await Promise.all([
    handle.query(rectificationStatusQuery),
    retryStatesOf(context.client, handle),
  ]);
  return withRetryStates(status, retrying);
}

/** The handle of a started rectification, for following it. */
export function rectificationHandle(
  context: HubClientContext,
  started: Pick<RectificationStarted, 'workflowId'>,
): WorkflowHandle<typeof rectificationWorkflow> {
  return context.client.workflow.getHandle<typeof rectificationWorkflow>(started.workflowId);
}

/** Waits for the rectification's receipt. */
export function awaitRectification(
  context: HubClientContext,
  started: Pick<RectificationStarted, 'workflowId'>,
): Promise<RectificationReceipt> {
  return rectificationHandle(context, started).result();
}
