import type { ErasureReceipt } from './erasure.js';
import type { SystemName } from './systems.js';

/**
 * The `--status` values of `erasures`: the workflow's status, or a completed erasure's outcome.
 * `needs_follow_up`: completed with failures, and some system is still not erased by any later erasure
 * (read from the ledger, so it outlasts Temporal's retention).
 */
export const erasureListStatuses = [
  'running',
  'needs_attention',
  /** The person is on legal hold: restricted, waiting for the release to delete. */
  'on_hold',
  'completed',
  'completed_with_failures',
  'needs_follow_up',
] as const;
export type ErasureListStatus = (typeof erasureListStatuses)[number];

/** A system that needs (or, in a finished erasure, needed) a person, and why. */
export interface AttentionItem {
  system: SystemName;
  reason: string;
  /** The vendor's HTTP status, when there was one. */
  status?: number;
}

/** One row of `consent-hub erasures`. */
export interface ErasureListing {
  requestId: string;
  subjectKey: string;
  status: 'running' | 'needs_attention' | 'on_hold' | 'completed';
  /** For a completed erasure: `completed`, or `completed_with_failures` when a system failed or was closed. */
  outcome?: ErasureReceipt['outcome'];
  /** The systems needing attention now (open erasures) or that ended failed or closed (completed ones), and why. */
  attention: AttentionItem[];
  /** Set when the attention list could not be read. */
  note?: string;
  startedAt: string;
  closedAt?: string;
}
