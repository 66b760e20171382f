import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ErasureStatusView, OperatorClose, OperatorRetry } from '../domain/erasure.js';

/** Shared by the workflow and the clients that steer it, so both use the same names and types. */
export const erasureStatusQuery = defineQuery<ErasureStatusView>('erasureStatus');
/** Try a system that needs attention again (after fixing its credentials, say). */
export const retrySystemUpdate = defineUpdate<ErasureStatusView, [OperatorRetry]>('retrySystem');
/** Give up on a system that needs attention, with a reason that goes into the receipt. */
export const closeSystemUpdate = defineUpdate<ErasureStatusView, [OperatorClose]>('closeSystem');

export const erasureWorkflowId = (subjectKey: string) => `erasure-${subjectKey}`;
