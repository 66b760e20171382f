import type { Purpose } from './purposes.js';

/** The systems reconciliation reads; Google Analytics cannot be listed. */
export const reconciledSystems = ['mailchimp', 'dynamics'] as const;
export type ReconciledSystem = (typeof reconciledSystems)[number];

export interface ReconciliationInput {
  runId: string;
  /** Read everything, ignoring the watermarks. */
  full: boolean;
  pageSize: number;
  /** Timings for the repairs it starts, as the CLI would pass them. */
  carried?: ReconciliationProgress;
}

export interface SystemProgress {
  pages: number;
  people: number;
  /** Records to read, as far as the vendor has told (see ChangePage.total); absent when it does not tell. */
  total?: number;
  done: boolean;
  /** Where the next page starts; kept across continue-as-new and worker restarts. */
  cursor?: string;
  /** The latest vendor change seen; becomes the watermark once the system is fully handled. */
  latestChange?: string;
}

export type DriftKind =
  | 'opt_out_not_propagated'
  | 'erased_subject_reappeared'
  /** An opt-in that contradicts a withdrawal in force the hub had not (yet) applied there: reported. */
  | 'unexplained_opt_in'
  /** An opt-in that contradicts a withdrawal the hub had applied there: the withdrawal is written again. */
  | 'opt_in_reverted'
  /** A withdrawal that had failed (or was closed) in a system that answers again: written again. */
  | 'failed_withdrawal_reapplied'
  /** A failed withdrawal whose person's workflow has ended, so the hub holds no address to write it with. */
  | 'failed_withdrawal_unreachable';

export interface DriftItem {
  kind: DriftKind;
  system: ReconciledSystem;
  subjectKey: string;
  purpose?: Purpose;
}

export interface ReconciliationProgress {
  startedAt: string;
  systems: Record<ReconciledSystem, SystemProgress>;
  /** Counts per kind; a run carried from an older version may lack the newer kinds. */
  drift: Partial<Record<DriftKind, number>>;
  repairsStarted: number;
  /** Reported, not repaired: a person must decide. */
  needsAttention: DriftItem[];
  /**
   * Records the run could not handle (an address the hub's parser refuses, input a schema refuses), for an
   * operator; the run went on without them. At most 200 are listed (workflows/reconciliation.ts); `recordErrorCount` counts all.
   * Absent in runs carried from an older version.
   */
  recordErrors?: RecordError[];
  recordErrorCount?: number;
}

/** One record reconciliation skipped, and why. Never the address: the system and the vendor's record id. */
export interface RecordError {
  system: ReconciledSystem;
  /** The vendor's record id (keyed when derived from the person, as Mailchimp's is); absent if it had none. */
  recordId?: string;
  reason: string;
}

export interface ReconciliationReport extends ReconciliationProgress {
  runId: string;
  finishedAt: string;
  full: boolean;
}
