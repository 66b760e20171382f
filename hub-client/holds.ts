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
import { erasureWorkflowId, holdPlacedSignal, holdReleasedSignal } from '../workflows/erasure-definitions.js';
import type { HubClientContext } from './erasures.js';
import { NotOnHold } from './request-errors.js';
import {
  followSubjectLinks,
  requestedUnderOf,
  type SubjectLinkLedger,
  subjectLinkReads,
} from './subject-links.js';

/**
 * What hold placement and release read of the ledger beyond the hold: with the re-key reads, an address a
 * rectification moved away from leads to the person's key now.
 */
type HoldLedger = Partial<SubjectLinkLedger>;

/**
 * Set when the address named was re-keyed by rectifications: the hold acts on the key the person has now
 * (`subjectKey`), and this names the key the request was made under and the re-keys followed (keys only).
 */
export interface HoldRequestedUnder {
  subjectKey: string;
  rekeys: { from: string; to: string; rectificationRequestId: string; at: string }[];
  /** A re-key not followed: its old key has had records of its own since (see followSubjectLinks). */
  notFollowed?: { from: string; to: string; rectificationRequestId: string; at: string };
}

/** The key a hold acts on: the address's, or the one rectifications re-keyed it to (followSubjectLinks). */
async function heldSubject(
  ledger: HoldLedger,
  email: string,
  secret: string,
): Promise<{ subjectKey: string; requestedUnder?: HoldRequestedUnder }> {
  const requested = subjectKeyFor(email, secret);
  const reads = subjectLinkReads(ledger);
  if (!reads) return { subjectKey: requested };
  const followed = await followSubjectLinks(reads, requested);
  const requestedUnder = requestedUnderOf(followed);
  return requestedUnder ? { subjectKey: followed.subjectKey, requestedUnder } : { subjectKey: requested };
}

export interface HoldPlaced {
  subjectKey: string;
  /** False when the person was already on hold: the hold in force (its first reason and time) stays. */
  placed: boolean;
  hold: LegalHold;
  /**
   * True when an erasure of the person was already running when the hold was placed. It is told of the hold
   * (`erasureSignalled`): it stops deleting, restricts every system it has not erased yet, and erases them
   * once the hold is released; its receipt says what was deleted before the hold.
   */
  erasureRunning: boolean;
  /** True when the running erasure was sent the hold (false when none was running). */
  erasureSignalled: boolean;
  requestedUnder?: HoldRequestedUnder;
}

export interface HoldReleased {
  subjectKey: string;
  /** The hold as released. */
  hold: LegalHold;
  /** True when the person's running erasure was told of the release (a restricted one goes on to delete). */
  erasureSignalled: boolean;
  requestedUnder?: HoldRequestedUnder;
}

/**
 * Tells the person's running erasure of a hold just recorded, so that it stops deleting. Answers whether
 * one was running. A signal that is lost (the client died right after the ledger write) is made up for by
 * the erasure's delete steps, which read the hold in the ledger before they write to a vendor.
 */
async function signalRunningErasure(
  context: Pick<HubClientContext, 'client'>,
  subjectKey: string,
  hold: LegalHold,
): Promise<boolean> {
  try {
    await context.client.workflow
      .getHandle(erasureWorkflowId(subjectKey))
      .signal(holdPlacedSignal, { reason: hold.reason, placedAt: hold.placedAt });
    return true;
  } catch (error) {
    // No erasure of the person, or it has finished: the next one finds the hold in the ledger as it begins.
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/**
 * Puts a person on legal hold (GDPR Art. 17(3), Art. 18): from now on an erasure for them restricts their
 * data instead of deleting it, and completes the deletion once the hold is released. An erasure already
 * running is signalled and restricts what it has not deleted yet. The ledger keeps the
 * subject key, the reason code, who and when; never the address. An address a rectification moved away from
 * holds the person under their key now (`requestedUnder` names the key asked for).
 */
export async function placeHold(
  context: Pick<HubClientContext, 'client' | 'subjectKeySecret'>,
  ledger: Pick<Ledger, 'placeHold'> & HoldLedger,
  input: HoldRequestInput,
): Promise<HoldPlaced> {
  const request = holdRequestSchema.parse(input);
  const { subjectKey, requestedUnder } = await heldSubject(ledger, request.email, context.subjectKeySecret);
  const { placed, hold } = await ledger.placeHold({
    subjectKey,
    reason: request.reason,
    placedBy: request.placedBy,
    placedAt: new Date().toISOString(),
  });
  // A hold already in force was sent when it was placed; sending it again is harmless (the erasure knows it).
  const signalled = await signalRunningErasure(context, subjectKey, hold);
  return {
    subjectKey,
    placed,
    hold,
    erasureRunning: signalled,
    erasureSignalled: signalled,
    ...(requestedUnder ? { requestedUnder } : {}),
  };
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
  ledger: Pick<Ledger, 'releaseHold'> & HoldLedger,
  input: ReleaseRequestInput,
): Promise<HoldReleased> {
  const request = releaseRequestSchema.parse(input);
  const { subjectKey, requestedUnder } = await heldSubject(ledger, request.email, context.subjectKeySecret);
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
  return { subjectKey, hold, erasureSignalled, ...(requestedUnder ? { requestedUnder } : {}) };
}
