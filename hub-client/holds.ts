import { WorkflowNotFoundError } from '@temporalio/client';
import {
  type HoldRequestInput,
  holdRequestSchema,
  type LegalHold,
  type ReleaseRequestInput,
  releaseRequestSchema,
} from '../domain/hold.js';
import type { Ledger } from '../ledger/ledger.js';
import { subjectKeyFor } from '../privacy/subject-key.js';
import { erasureWorkflowId, holdReleasedSignal } from '../workflows/erasure-definitions.js';
import type { HubClientContext } from './erasures.js';
import { NotOnHold } from './request-errors.js';

export interface HoldPlaced {
  subjectKey: string;
  /** False when the person was already on hold: the hold in force (its first reason and time) stays. */
  placed: boolean;
  hold: LegalHold;
  /**
   * True when an erasure of the person was already running when the hold was placed: it had checked for a
   * hold as it began and is not stopped by this one (a later erasure is restricted).
   */
  erasureRunning: boolean;
}

export interface HoldReleased {
  subjectKey: string;
  /** The hold as released. */
  hold: LegalHold;
  /** True when the person's running erasure was told of the release (a restricted one goes on to delete). */
  erasureSignalled: boolean;
}

/** Whether the person's erasure workflow is running now. */
async function erasureRunning(context: Pick<HubClientContext, 'client'>, subjectKey: string) {
  try {
    const description = await context.client.workflow.getHandle(erasureWorkflowId(subjectKey)).describe();
    return description.status.name === 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/**
 * Puts a person on legal hold (GDPR Art. 17(3), Art. 18): from now on an erasure for them restricts their
 * data instead of deleting it, and completes the deletion once the hold is released. The ledger keeps the
 * subject key, the reason code, who and when; never the address.
 */
export async function placeHold(
  context: Pick<HubClientContext, 'client' | 'subjectKeySecret'>,
  ledger: Pick<Ledger, 'placeHold'>,
  input: HoldRequestInput,
): Promise<HoldPlaced> {
  const request = holdRequestSchema.parse(input);
  const subjectKey = subjectKeyFor(request.email, context.subjectKeySecret);
  const { placed, hold } = await ledger.placeHold({
    subjectKey,
    reason: request.reason,
    placedBy: request.placedBy,
    placedAt: new Date().toISOString(),
  });
  return { subjectKey, placed, hold, erasureRunning: await erasureRunning(context, subjectKey) };
}

/**
 * Releases a person's hold: recorded in the ledger first, then the person's waiting erasure (if any) is
 * signalled and goes on to delete. Should the signal be lost, the erasure finds the release in the ledger
 * when it next looks (`holdRecheck`).
 *
 * @throws NotOnHold when the person is not on hold now (never held, or released already): nothing changes.
 */
export async function releaseHold(
  context: Pick<HubClientContext, 'client' | 'subjectKeySecret'>,
  ledger: Pick<Ledger, 'releaseHold'>,
  input: ReleaseRequestInput,
): Promise<HoldReleased> {
  const request = releaseRequestSchema.parse(input);
  const subjectKey = subjectKeyFor(request.email, context.subjectKeySecret);
  const hold = await ledger.releaseHold({
    subjectKey,
    releasedAt: new Date().toISOString(),
    releasedBy: request.releasedBy,
    releaseReason: request.reason,
  });
  if (!hold?.releasedAt || !hold.releasedBy || !hold.releaseReason) throw new NotOnHold(subjectKey);
  let erasureSignalled = false;
  try {
    await context.client.workflow.getHandle(erasureWorkflowId(subjectKey)).signal(holdReleasedSignal, {
      releasedAt: hold.releasedAt,
      releasedBy: hold.releasedBy,
      reason: hold.releaseReason,
    });
    erasureSignalled = true;
  } catch (error) {
    // No erasure running (none was asked for, or it finished): the release alone is what was wanted.
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  return { subjectKey, hold, erasureSignalled };
}
