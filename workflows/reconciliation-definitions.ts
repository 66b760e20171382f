import { defineQuery } from '@temporalio/workflow';
import type { ReconciliationProgress } from '../domain/reconciliation.js';

export const reconciliationProgressQuery = defineQuery<ReconciliationProgress>('reconciliationProgress');
export const reconciliationScheduleId = 'consent-hub-reconciliation';
export const reconciliationWorkflowType = 'reconciliationWorkflow';
