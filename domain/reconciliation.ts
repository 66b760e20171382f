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

export type DriftKind = 'opt_out_not_propagated' | 'erased_subject_reappeared' | 'unexplained_opt_in';

export interface DriftItem {
  kind: DriftKind;
  system: ReconciledSystem;
  subjectKey: string;
  purpose?: Purpose;
}

export interface ReconciliationProgress {
  startedAt: string;
  systems: Record<ReconciledSystem, SystemProgress>;
  drift: Record<DriftKind, number>;
  repairsStarted: number;
  /** Reported, not repaired: a person must decide. */
  needsAttention: DriftItem[];
}

export interface ReconciliationReport extends ReconciliationProgress {
  runId: string;
  finishedAt: string;
  full: boolean;
}
