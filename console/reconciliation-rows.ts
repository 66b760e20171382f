import type { DriftKind, SystemProgress } from '../domain/reconciliation.js';

/**
 * Reconciliation's progress and reports in words for the console, instead of their JSON: a system's reading
 * progress, and each kind of drift found with its count. The kinds' meanings are domain/reconciliation.ts's.
 */
const driftWords: Record<DriftKind, string> = {
  opt_out_not_propagated: 'opt-outs a system had not applied (written again)',
  erased_subject_reappeared: 'erased people found again in a system',
  unexplained_opt_in: 'opt-ins that contradict a withdrawal not yet applied there (reported, not changed)',
  opt_in_reverted: 'opt-ins that undid an applied withdrawal (the withdrawal written again)',
  failed_withdrawal_reapplied: 'withdrawals that had failed, written again',
  failed_withdrawal_unreachable:
    'withdrawals that had failed and can no longer be written (the hub holds no address)',
};

/** `2 pages read, 5 of 7 people; finished`: `progress` may be a stored report's, so its fields are checked. */
export function systemProgressText(progress: Partial<SystemProgress> | undefined): string {
  const pages = typeof progress?.pages === 'number' ? progress.pages : 0;
  const people = typeof progress?.people === 'number' ? progress.people : 0;
  const total = typeof progress?.total === 'number' ? ` of ${progress.total}` : '';
  const read = `${pages} ${pages === 1 ? 'page' : 'pages'} read, ${people}${total} ${people === 1 && !total ? 'person' : 'people'}`;
  return `${read}; ${progress?.done ? 'finished' : 'still reading'}`;
}

/** Each kind of drift with a count above zero, in words; kinds this build does not know keep their code. */
export function driftRows(drift: unknown): { label: string; count: number }[] {
  if (typeof drift !== 'object' || drift === null) return [];
  return Object.entries(drift as Record<string, unknown>)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && entry[1] > 0)
    .map(([kind, count]) => ({ label: driftWords[kind as DriftKind] ?? kind.replaceAll('_', ' '), count }));
}

/** A run's report (live progress or a stored summary) as the console shows it. */
export function reconciliationRunView(report: Record<string, unknown>) {
  const systems =
    typeof report.systems === 'object' && report.systems !== null
      ? Object.entries(report.systems as Record<string, Partial<SystemProgress>>).map(
          ([system, progress]) => ({
            system,
            text: systemProgressText(progress),
          }),
        )
      : [];
  const count = (value: unknown) =>
    typeof value === 'number' ? value : Array.isArray(value) ? value.length : 0;
  return {
    systems,
    drift: driftRows(report.drift),
    repairsStarted: count(report.repairsStarted),
    needingAPerson: count(report.needsAttention),
    recordErrors: count(report.recordErrorCount ?? report.recordErrors),
  };
}
