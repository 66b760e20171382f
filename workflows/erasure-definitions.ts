import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  ErasureAddressChange,
  ErasureMerge,
  ErasureStatusView,
  OperatorClose,
  OperatorRetry,
} from '../domain/erasure.js';
import type { HoldReasonCode, ReleaseReasonCode } from '../domain/hold.js';

/** Shared by the workflow and the clients that steer it, so both use the same names and types. */
export const erasureStatusQuery = defineQuery<ErasureStatusView>('erasureStatus');
/** Try a system that needs attention again (after fixing its credentials, say). */
export const retrySystemUpdate = defineUpdate<ErasureStatusView, [OperatorRetry]>('retrySystem');
/** Give up on a system that needs attention, with a reason that goes into the receipt. */
export const closeSystemUpdate = defineUpdate<ErasureStatusView, [OperatorClose]>('closeSystem');

export const erasureWorkflowId = (subjectKey: string) => `erasure-${subjectKey}`;

/**
 * Sent with every erasure request (signal-with-start, which needs no running worker): a request for a
 * person whose erasure is running joins it, its GA ids are added and its reason and requester go into the
 * receipt. The request that starts the erasure sends it too, with the token of the start (not a join).
 */
export const mergeErasureRequestSignal =
  defineSignal<[ErasureMerge & { token: string }]>('mergeErasureRequest');

/**
 * Sent by `consent-hub release` (after the ledger recorded the release) to the erasure of a person on hold:
 * the restricted erasure goes on to delete. An erasure also finds the release in the ledger on its own
 * (it looks again every `holdRecheck`), so a release whose signal was lost still completes.
 */
export const holdReleasedSignal =
  defineSignal<[{ releasedAt: string; releasedBy: string; reason: ReleaseReasonCode }]>('holdReleased');

/**
 * Sent by `consent-hub hold` (after the ledger recorded the hold) to the person's erasure when one is
 * running: an erasure started after the `erasure-hold-during-run` patch stops deleting, restricts every
 * system not yet erased, and waits for the release. The delete steps also find the hold in the ledger on
 * their own, so a hold whose signal was lost stops the erasure at its next delete step.
 */
export const holdPlacedSignal = defineSignal<[{ reason: HoldReasonCode; placedAt: string }]>('holdPlaced');

/**
 * Sent by the Mailchimp webhook (`upemail`) when a person whose erasure runs changed their address in
 * Mailchimp: the erasure records the change (receipt `addressChanges`) and looks for the person's Mailchimp
 * members under the new address too, so the member that moved is erased rather than missed. `subjectKey`
 * (the erasure's) names the person, so the codec seals the new address with their own data key.
 */
export const erasureAddressChangedSignal =
  defineSignal<[ErasureAddressChange & { subjectKey: string; newEmail: string }]>('erasureAddressChanged');
