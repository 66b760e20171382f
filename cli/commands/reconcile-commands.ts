import { Command } from 'commander';
import type { ReconciliationProgress } from '../../domain/reconciliation.js';
import {
  applyReconciliationSchedule,
  reconciliationStatus,
  startReconciliation,
} from '../../hub-client/reconciliation.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { withLedger } from '../ledger-context.js';

function bar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/**
 * Records done / total where every system's vendor tells its total; otherwise systems done, with each
 * system's records read (and its total when known).
 */
function printProgress(progress: ReconciliationProgress): void {
  const systems = Object.entries(progress.systems);
  const finished = systems.filter(([, s]) => s.done).length;
  const totals = systems.map(([, s]) => (s.done ? s.people : s.total));
  if (totals.every((t): t is number => t !== undefined)) {
    const done = systems.reduce((sum, [, s]) => sum + s.people, 0);
    const total = Math.max(
      done,
      totals.reduce((sum, t) => sum + t, 0),
    );
    print(`  ${bar(done, total)} ${done}/${total} records, started ${progress.startedAt}`);
  } else {
    print(
      `  ${bar(finished, systems.length)} ${finished}/${systems.length} systems, started ${progress.startedAt}`,
    );
  }
  for (const [system, state] of systems) {
    const records =
      state.total !== undefined ? `${state.people}/${state.total} records` : `${state.people} records`;
    print(`    ${system.padEnd(10)} ${state.done ? 'done   ' : 'reading'}  ${state.pages} pages, ${records}`);
  }
  printDrift(progress);
}

function printDrift(
  progress: Pick<
    ReconciliationProgress,
    'drift' | 'repairsStarted' | 'needsAttention' | 'recordErrors' | 'recordErrorCount'
  >,
): void {
  const drift = Object.entries(progress.drift)
    .map(([kind, count]) => `${kind}=${count}`)
    .join(' ');
  print(
    `    drift: ${drift}; repairs started: ${progress.repairsStarted}; needing attention: ${progress.needsAttention.length}`,
  );
  for (const item of progress.needsAttention) {
    print(`      ${item.kind} in ${item.system} for subject ${item.subjectKey} (${item.purpose ?? ''})`);
  }
  if (progress.recordErrorCount) {
    print(`    records skipped for an operator: ${progress.recordErrorCount}`);
    for (const error of progress.recordErrors ?? []) {
      print(`      ${error.system} record ${error.recordId ?? '(no id)'}: ${error.reason}`);
    }
  }
}

export const reconcileCommand = new Command('reconcile')
  .description('find and repair drift between the tools now (see also: reconcile status)')
  .option('--full', 'read everything, ignoring the watermarks')
  .option('--wait', 'wait for the run and print its report')
  .option('--json', 'print stable JSON')
  .action(async (flags: { full?: boolean; wait?: boolean }, command: Command) => {
    const json = wantsJson(command);
    await withHubClient(async (context) => {
      const started = await startReconciliation(context, { full: Boolean(flags.full) });
      if (!flags.wait) {
        if (json) printJson({ workflowId: started.workflowId, runId: started.runId });
        else
          print(
            `Reconciliation running: ${started.workflowId} (follow it with: consent-hub reconcile status)`,
          );
        return;
      }
      const report = await started.result();
      if (json) printJson(report);
      else {
        print(`Reconciliation ${report.runId} finished ${report.finishedAt}`);
        printProgress(report);
      }
    });
  });

reconcileCommand
  .command('status')
  .description('the run in progress with a progress bar, then the last runs’ reports')
  .option('--json', 'print stable JSON')
  .action(async (_flags: unknown, command: Command) => {
    const json = wantsJson(command);
    await withLedger((ledger) =>
      withHubClient(async (context) => {
        const status = await reconciliationStatus(context, ledger);
        if (json) {
          printJson(status);
          return;
        }
        if (status.running.length === 0) print('No reconciliation is running.');
        for (const run of status.running) {
          print(`Running: ${run.workflowId}`);
          printProgress(run.progress);
        }
        print('');
        print('Last runs:');
        if (status.lastRuns.length === 0) print('  none yet');
        for (const run of status.lastRuns) {
          print(`  ${run.runId}  ${run.startedAt} → ${run.finishedAt ?? 'unfinished'}`);
          const summary = run.summary as unknown as ReconciliationProgress;
          if (summary.drift) printDrift(summary);
        }
      }),
    );
  });

export const scheduleCommand = new Command('schedule').description('the reconciliation schedule');
scheduleCommand
  .command('apply')
  .description('create or update the reconciliation schedule (CONSENT_HUB_RECONCILE_CRON), idempotently')
  .action(async () => {
    await withHubClient(async (context, config) => {
      const result = await applyReconciliationSchedule(context, config.CONSENT_HUB_RECONCILE_CRON);
      print(
        `Reconciliation schedule ${result}: "${config.CONSENT_HUB_RECONCILE_CRON}" (UTC), overlapping runs skipped.`,
      );
    });
  });
