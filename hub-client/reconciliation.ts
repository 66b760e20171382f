import { randomUUID } from 'node:crypto';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, WorkflowNotFoundError } from '@temporalio/client';
import type { ReconciliationProgress, ReconciliationReport } from '../domain/reconciliation.js';
import type { Ledger, ReconciliationRunRecord } from '../ledger/ledger.js';
import type { reconciliationWorkflow } from '../workflows/reconciliation.js';
import {
  reconciliationProgressQuery,
  reconciliationScheduleId,
  reconciliationWorkflowType,
} from '../workflows/reconciliation-definitions.js';
import type { HubClientContext } from './erasures.js';

/** Manual runs share one workflow id, so a second `reconcile` while one runs joins it instead of overlapping. */
const manualRunId = 'reconciliation-manual';

export async function startReconciliation(context: HubClientContext, options: { full: boolean }) {
  const handle = await context.client.workflow.start<typeof reconciliationWorkflow>(
    reconciliationWorkflowType,
    {
      taskQueue: context.taskQueue,
      workflowId: manualRunId,
      args: [{ runId: `manual-${randomUUID()}`, full: options.full }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    },
  );
  return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, result: () => handle.result() };
}

export interface ReconciliationView {
  running: { workflowId: string; progress: ReconciliationProgress }[];
  lastRuns: ReconciliationRunRecord[];
}

/** Runs in progress (manual or scheduled), with their progress, and the last runs' reports from the ledger. */
export async function reconciliationStatus(
  context: HubClientContext,
  ledger: Ledger,
): Promise<ReconciliationView> {
  const running: ReconciliationView['running'] = [];
  // Only this hub's runs: a namespace may hold other hubs' (or test files') runs whose workers are gone, and a
  // query to a workflow no worker polls waits for its timeout.
  for await (const execution of context.client.workflow.list({
    query: `WorkflowType = '${reconciliationWorkflowType}' AND ExecutionStatus = 'Running' AND TaskQueue = '${context.taskQueue}'`,
  })) {
    try {
      const handle = context.client.workflow.getHandle(execution.workflowId);
      running.push({
        workflowId: execution.workflowId,
        progress: await handle.query(reconciliationProgressQuery),
      });
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  return { running, lastRuns: await ledger.listRuns(5) };
}

/**
 * Creates or updates the nightly reconciliation schedule, idempotently. Overlapping triggers are skipped, and
 * a run missed while the cluster was down is caught up within an hour.
 */
export async function applyReconciliationSchedule(context: HubClientContext, cron: string) {
  const spec = { cronExpressions: [cron] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: reconciliationWorkflowType,
    taskQueue: context.taskQueue,
    args: [{ full: false }],
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' };
  try {
    await context.client.schedule.create({ scheduleId: reconciliationScheduleId, spec, action, policies });
    return 'created' as const;
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await context.client.schedule.getHandle(reconciliationScheduleId).update((previous) => ({
      ...previous,
      spec,
      action,
      policies: { ...previous.policies, ...policies },
    }));
    return 'updated' as const;
  }
}

export type { ReconciliationReport };
