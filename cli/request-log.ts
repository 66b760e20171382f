import type { ErasureRestriction } from '../domain/erasure.js';
import type { OperatorLogEntry } from '../domain/operator.js';
import type { OperatorActionRecord } from '../ledger/ledger.js';

/** One line of a request's log: when, what, and the codes or ids that go with it (never personal data). */
export type RequestLogEntry = { at: string; event: string } & Record<string, string | number>;

/**
 * The legal-hold events a restriction (and the earlier ones it carries) tells of, each at its own time: the
 * hold placed (reason code), the erasure told of it while deleting, the systems restricted (with each one's
 * status), and the release (by whom, why). So the log shows the order as it happened, a release before a
 * restriction finished included.
 */
function holdEvents(restriction: ErasureRestriction | undefined): RequestLogEntry[] {
  if (!restriction) return [];
  const all = [...(restriction.earlierRestrictions ?? []), restriction];
  return all.flatMap((r): RequestLogEntry[] => [
    { at: r.hold.placedAt, event: 'hold_placed', reason: r.hold.reason },
    ...(r.arrivedDuringErasure
      ? [{ at: r.arrivedDuringErasure.noticedAt, event: 'hold_reached_erasure' }]
      : []),
    ...(r.restrictedAt
      ? [
          {
            at: r.restrictedAt,
            event: 'restricted',
            outcome: r.outcome ?? 'restricted_with_failures',
            systems: Object.entries(r.systems)
              .map(([system, state]) => `${system} ${state.status}`)
              .join(', '),
          },
        ]
      : []),
    ...(r.released
      ? [{ at: r.released.at, event: 'hold_released', by: r.released.by, reason: r.released.reason }]
      : []),
  ]);
}

/**
 * The request's log: requested, each operator action and legal-hold event in time order, completed; from
 * the receipt (or live status) and the ledger's operator actions.
 */
export function requestLog(
  subject: {
    requestId: string;
    requestedAt: string;
    requestedBy?: string;
    reason?: string;
    restriction?: ErasureRestriction;
  },
  recorded: OperatorActionRecord[],
  fromWorkflow: OperatorLogEntry[],
  completed?: { completedAt: string; outcome: string },
): { requestId: string; entries: RequestLogEntry[] } {
  const seen = new Set<string>();
  const actions = [...recorded, ...fromWorkflow]
    .map(({ action, system, operator, at, reason }) => ({ action, system, operator, at, reason }))
    .filter((entry) => {
      const key = `${entry.at}|${entry.action}|${entry.system}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  const requested: RequestLogEntry = {
    at: subject.requestedAt,
    event: 'requested',
    ...(subject.requestedBy ? { by: subject.requestedBy } : {}),
    ...(subject.reason ? { reason: subject.reason } : {}),
  };
  // In time order, the request included: a hold placed before the request came shows before it.
  const entries: RequestLogEntry[] = [
    requested,
    ...actions.map((a) => ({
      at: a.at,
      event: a.action,
      // An action on the whole request (an extension) names no system.
      ...(a.system ? { system: a.system } : {}),
      by: a.operator,
      ...(a.reason ? { reason: a.reason } : {}),
    })),
    ...holdEvents(subject.restriction),
  ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return {
    requestId: subject.requestId,
    entries: [
      ...entries,
      ...(completed ? [{ at: completed.completedAt, event: 'completed', outcome: completed.outcome }] : []),
    ],
  };
}
