import { type ActivityOptions, workflowInfo } from '@temporalio/workflow';
import type { ErasureTimings } from '../domain/erasure.js';
import type { SystemName } from '../domain/systems.js';
import { vendorTaskQueue } from '../domain/task-queues.js';

/** Failure types that no retry can fix; the activities raise them (activities/vendor-failure.ts). */
export const nonRetryableErrorTypes = [
  'NonRetryableVendorError',
  'SystemNotConfigured',
  'InvalidInput',
  'VendorAskedToWait',
];

/**
 * Timeouts by system. Dynamics and Mailchimp page through records, so they heartbeat; Google's calls can wait
 * in the per-property pacing queue behind a burst of other erasures, so it may take longest.
 */
const startToClose: Record<SystemName, string> = {
  dynamics: '10 minutes',
  mailchimp: '5 minutes',
  google: '30 minutes',
};

/**
 * Each system's activity options. Retries back off up to five minutes between attempts (a vendor's
 * Retry-After overrides the wait) and stop after `attentionAfter` in all, when the system goes to "needs
 * attention" instead of retrying for ever unseen. The activities go to the vendor's own task queue
 * (domain/task-queues.ts), where Temporal paces them across all workers (issue 21).
 */
export function systemActivityOptions(system: SystemName, timings: ErasureTimings): ActivityOptions {
  return {
    taskQueue: vendorTaskQueue(workflowInfo().taskQueue, system),
    startToCloseTimeout: startToClose[system],
    heartbeatTimeout: timings.heartbeatTimeout ?? '1 minute',
    scheduleToCloseTimeout: timings.attentionAfter,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      nonRetryableErrorTypes,
    },
  };
}

/**
 * Writing to the ledger: the database may be briefly unreachable, and the erasure is not done until its
 * receipt is stored, so this retries for as long as it takes (every write is idempotent).
 */
export const ledgerActivityOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
};
