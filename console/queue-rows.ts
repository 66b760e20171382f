import type { ErasureListing } from '../domain/erasure-listing.js';
import type { RequestDeadline, RequestListing } from '../domain/request-deadline.js';

/** How the queues name a request's kind. */
export const kindWords: Record<string, string> = {
  erasure: 'erasure',
  consent: 'consent change',
  access: 'access',
  rectification: 'rectification',
  restriction: 'restriction',
};

/** A row of "Running": any kind of open request that does not wait for a person. */
export interface RunningRow {
  requestId: string;
  kind: string;
  /** running, open (a consent change being carried), on_hold (an erasure restricted, waiting for release) ... */
  state: string;
  startedAt: string;
  dueAt?: string;
}

/**
 * "Running": the open requests of every kind (listRequests with `open`, each state read from its workflow)
 * but those needing attention, which have their own queue; plus erasures Temporal lists as running or on
 * hold that the ledger has no deadline for (started before deadlines were kept). Newest first.
 */
export function runningRows(
  open: readonly RequestListing[],
  erasures: readonly ErasureListing[],
): RunningRow[] {
  const rows = new Map<string, RunningRow>();
  for (const row of open) {
    if (row.completedAt !== undefined || row.state === 'needs_attention') continue;
    rows.set(row.requestId, {
      requestId: row.requestId,
      kind: kindWords[row.kind] ?? row.kind,
      state: row.state,
      startedAt: row.receivedAt,
      dueAt: row.dueAt,
    });
  }
  for (const erasure of erasures) {
    if (rows.has(erasure.requestId) || open.some((row) => row.requestId === erasure.requestId)) continue;
    if (erasure.status !== 'running' && erasure.status !== 'on_hold') continue;
    rows.set(erasure.requestId, {
      requestId: erasure.requestId,
      kind: 'erasure',
      state: erasure.status,
      startedAt: erasure.startedAt,
    });
  }
  return [...rows.values()].sort((a, b) =>
    a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0,
  );
}

/** What a finished request's receipt says, as "Recently completed" shows it. */
export interface FinishedOutcome {
  outcome: string;
  /** Systems that failed or were closed by an operator, and why. */
  problems: { system: string; reason: string }[];
}

/** A row of "Recently completed". */
export interface CompletedRow {
  requestId: string;
  kind: string;
  outcome: string;
  problems: string;
  completedAt: string;
}

/**
 * "Recently completed": the ledger's completed requests of every kind, most recently completed first, each
 * with its receipt's outcome and the systems that failed or were closed (`outcomes`, by request id; a
 * consent change has no receipt of its own: carried to every system, it is `completed`).
 */
export function completedRows(
  done: readonly RequestDeadline[],
  outcomes: Readonly<Record<string, FinishedOutcome | undefined>>,
): CompletedRow[] {
  return done.flatMap((row) =>
    row.completedAt === undefined
      ? []
      : [
          {
            requestId: row.requestId,
            kind: kindWords[row.kind] ?? row.kind,
            outcome: outcomes[row.requestId]?.outcome ?? 'completed',
            problems:
              outcomes[row.requestId]?.problems.map((p) => `${p.system}: ${p.reason}`).join('; ') || '—',
            completedAt: row.completedAt,
          },
        ],
  );
}

/** The systems of a receipt that ended failed or closed by an operator, and why. */
export function problemsOf(
  systems: Readonly<
    Record<string, { status: string; failure?: { reason: string }; closedReason?: string } | undefined>
  >,
): FinishedOutcome['problems'] {
  return Object.entries(systems).flatMap(([system, state]) =>
    state?.status === 'failed'
      ? [{ system, reason: state.failure?.reason ?? 'failed' }]
      : state?.status === 'closed_by_operator'
        ? [{ system, reason: `closed by operator: ${state.closedReason ?? ''}` }]
        : [],
  );
}
