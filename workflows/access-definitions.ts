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
 * The id holds the subject key (no personal data) and a random part.
 */
export const accessWorkflowId = (subjectKey: string, nonce: string) => `access-${subjectKey}-${nonce}`;
