import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AccessStatusView } from '../domain/access.js';
import type { OperatorClose, OperatorRetry } from '../domain/operator.js';

/** Shared by the access workflow and the clients that steer it. */
export const accessStatusQuery = defineQuery<AccessStatusView>('accessStatus');
/** The same update names as an erasure's, so `consent-hub retry|close` reach any request kind alike. */
export const retryAccessSystemUpdate = defineUpdate<AccessStatusView, [OperatorRetry]>('retrySystem');
export const closeAccessSystemUpdate = defineUpdate<AccessStatusView, [OperatorClose]>('closeSystem');
/**
 * Sent by the person's erasure when its outcome is recorded: the access request stops where it is, deletes
 * what it gathered and ends with a `withdrawn_subject_erased` receipt, so that no access workflow outlives
 * the subject's data key (which the shredding destroys once every workflow of theirs is closed).
 */
export const accessSubjectErasedSignal = defineSignal<[{ erasureRequestId: string }]>('subjectErased');

/**
 * One access workflow per request, not per person: a person may ask again and gets a fresh copy each time.
 * The request id is a random UUID chosen at intake, so the workflow follows from it (no personal data; the
 * person's workflows are found by the `SubjectKey` search attribute).
 */
export const accessWorkflowId = (requestId: string) => `access-${requestId.toLowerCase()}`;
