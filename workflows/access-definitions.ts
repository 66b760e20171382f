import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AccessStatusView } from '../domain/access.js';
import type { OperatorClose, OperatorRetry } from '../domain/operator.js';

/** Shared by the access workflow and the clients that steer it. */
export const accessStatusQuery = defineQuery<AccessStatusView>('accessStatus');
/** The same update names as an erasure's, so `consent-hub retry|close` reach any request kind alike. */
export const retryAccessSystemUpdate = defineUpdate<AccessStatusView, [OperatorRetry]>('retrySystem');
export const closeAccessSystemUpdate = defineUpdate<AccessStatusView, [OperatorClose]>('closeSystem');

/**
 * One access workflow per request, not per person: a person may ask again and gets a fresh copy each time.
 * The request id is a random UUID chosen at intake, so the workflow follows from it (no personal data; the
 * person's workflows are found by the `SubjectKey` search attribute).
 */
export const accessWorkflowId = (requestId: string) => `access-${requestId.toLowerCase()}`;
