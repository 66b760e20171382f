import { defineQuery } from '@temporalio/workflow';
import type { RectificationStatusView } from '../domain/rectification.js';

/** Shared by the workflow and its clients. */
export const rectificationStatusQuery = defineQuery<RectificationStatusView>('rectificationStatus');

/**
 * One workflow per request: a person may correct several things over time. The request id is a random
 * UUID chosen at intake, so the workflow follows from it (no personal data; a person's rectifications are
 * found by the `SubjectKey` search attribute). Rectifications started before this carried the id
 * `rectification-<subjectKey>-<uuid>` and their first run id as request id; hub-client finds those by run id.
 */
export const rectificationWorkflowId = (requestId: string) => `rectification-${requestId.toLowerCase()}`;
