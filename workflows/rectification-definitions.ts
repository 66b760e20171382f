import { defineQuery } from '@temporalio/workflow';
import type { RectificationStatusView } from '../domain/rectification.js';

/** Shared by the workflow and its clients. */
export const rectificationStatusQuery = defineQuery<RectificationStatusView>('rectificationStatus');
/** One workflow per request: a person may correct several things over time. */
export const rectificationWorkflowId = (subjectKey: string, token: string) =>
  `rectification-${subjectKey}-${token}`;
