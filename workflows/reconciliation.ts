import { continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type {
  DriftItem,
  DriftKind,
  ReconciledSystem,
  ReconciliationInput,
  ReconciliationProgress,
  ReconciliationReport,
} from '../domain/reconciliation.js';
import { ledgerActivityOptions, nonRetryableErrorTypes } from './erasure-activity-options.js';
import { reconciliationProgressQuery } from './reconciliation-definitions.js';

/** Each page is one activity: a restarted worker resumes at the first page not yet handled. */
const pageActivities = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    nonRetryableErrorTypes,
  },
});
const ledger = proxyActivities<Activities>(ledgerActivityOptions);
/** The systems that can be listed, in reading order (Google Analytics cannot be asked what it holds). */
const reconciledSystems: ReconciledSystem[] = ['mailchimp', 'dynamics'];
/** Record errors a report lists; past it only the count grows, so the report stays small. */
const maxRecordErrors = 200;
/** Items a report lists for a person to decide; past it only the drift counts grow, so the report stays small. */
const maxNeedsAttention = 1000;
/** Pages handled before the history is carried into a fresh run. */
const pagesPerRun = 200;
/**
 * A system without its own change cursor (Mailchimp's `since_last_changed`) gets the run's start time as its
 * watermark, minus this overlap for clock skew between the worker and the vendor: a member changed while the
 * run was reading is read again next time, never missed. Re-reading an unchanged person repairs nothing.
 */
const watermarkOverlapMs = 5 * 60_000;

const emptyProgress = (): ReconciliationProgress => ({
  startedAt: new Date().toISOString(),
  systems: {
    mailchimp: { pages: 0, people: 0, done: false },
    dynamics: { pages: 0, people: 0, done: false },
  },
  drift: {
    opt_out_not_propagated: 0,
    erased_subject_reappeared: 0,
    unexplained_opt_in: 0,
    opt_in_reverted: 0,
    failed_withdrawal_reapplied: 0,
    failed_withdrawal_unreachable: 0,
  } satisfies Record<DriftKind, number>,
  repairsStarted: 0,
  needsAttention: [],
});

/**
 * One reconciliation run: reads what changed in each system since its watermark (everything with `full`),
 * page by page at the connectors' pace, compares each person with the ledger, and repairs drift through the
 * propagation and erasure workflows. A system's watermark moves only once all its pages were handled; the
 * report goes to the ledger.
 */
export async function reconciliationWorkflow(
  input: Partial<ReconciliationInput> = {},
): Promise<ReconciliationReport> {
  const runId = input.runId ?? workflowInfo().workflowId;
  const full = input.full ?? false;
  const pageSize = input.pageSize ?? 200;
  const progress = input.carried ?? emptyProgress();
  setHandler(reconciliationProgressQuery, () => progress);
  const needsAttention = (item: DriftItem) => {
    if (progress.needsAttention.length < maxNeedsAttention) progress.needsAttention.push(item);
  };

  let pagesThisRun = 0;
  for (const system of reconciledSystems) {
    const state = progress.systems[system];
    if (state.done) continue;
    const since = full ? undefined : await ledger.loadWatermark(system);
    for (;;) {
      const observedAt = new Date().toISOString();
      const page = await pageActivities.readChangesPage({
        system,
        subjectKey: `reconciliation:${runId}`,
        request: { since, cursor: state.cursor, pageSize },
      });
      const assessed = await ledger.reconcilePeople({
        runId,
        system,
        people: page.people,
        observedAt,
      });
      state.pages += 1;
      state.people += page.people.length;
      if (page.total !== undefined) state.total = page.total;
      if (page.latestChange && (!state.latestChange || page.latestChange > state.latestChange)) {
        state.latestChange = page.latestChange;
      }
      for (const item of assessed.drift) {
        progress.drift[item.kind] = (progress.drift[item.kind] ?? 0) + 1;
        if (item.kind === 'unexplained_opt_in') needsAttention(item);
      }
      progress.repairsStarted += assessed.repairsStarted;
      // One bad record never stops the run: it is reported here, for an operator, and the run goes on.
      for (const error of assessed.recordErrors ?? []) {
        progress.recordErrorCount = (progress.recordErrorCount ?? 0) + 1;
        progress.recordErrors ??= [];
        if (progress.recordErrors.length < maxRecordErrors) progress.recordErrors.push(error);
      }
      state.cursor = page.nextCursor;
      if (!page.nextCursor) break;
      pagesThisRun += 1;
      if (pagesThisRun >= pagesPerRun || workflowInfo().continueAsNewSuggested) {
        return continueAsNew<typeof reconciliationWorkflow>({ runId, full, pageSize, carried: progress });
      }
    }
    state.done = true;
    // The system answered every page: withdrawals that failed there earlier are written again now, page
    // by page through all of them (a history from before paging answered one page without `next`).
    let after: string | undefined;
    do {
      const repaired = await ledger.repairFailedWithdrawals({ runId, system, ...(after ? { after } : {}) });
      for (const item of repaired.drift) {
        progress.drift[item.kind] = (progress.drift[item.kind] ?? 0) + 1;
        if (item.kind === 'failed_withdrawal_unreachable') needsAttention(item);
      }
      progress.repairsStarted += repaired.repairsStarted;
      after = repaired.next;
    } while (after);
    const runStart = new Date(Date.parse(progress.startedAt) - watermarkOverlapMs).toISOString();
    await saveWatermark(system, state.latestChange ?? runStart);
  }

  const report: ReconciliationReport = { ...progress, runId, full, finishedAt: new Date().toISOString() };
  await ledger.recordReconciliationRun(report);
  return report;
}

async function saveWatermark(system: ReconciledSystem, value: string | undefined): Promise<void> {
  if (value) await ledger.saveWatermark({ system, value });
}
