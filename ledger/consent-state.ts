import {
  type ConsentApplicationOutcome,
  evidenceAllowsGrant,
  type PurposeDecision,
  type WrittenConsentState,
} from '../domain/consent.js';
import { supersedes } from '../domain/consent-ordering.js';
import type { Purpose } from '../domain/purposes.js';
import type { SystemName } from '../domain/systems.js';
import type { Ledger } from './ledger.js';

export interface LedgerConsentState {
  erased: boolean;
  /** The decision in force per purpose: the latest occurredAt, a withdrawal winning a tie. */
  purposes: Partial<Record<Purpose, PurposeDecision>>;
  /** For each purpose's decision in force, what each system answered. */
  outcomes: Partial<Record<Purpose, Partial<Record<SystemName, ConsentApplicationOutcome>>>>;
  /** Per system, the state the hub last wrote there (or why it could not), and when. */
  written: Partial<Record<SystemName, WrittenConsentState>>;
}

/** A subject's consent as the ledger proves it; the consent workflow starts from it and `status` shows it. */
export async function consentStateFromLedger(
  ledger: Ledger,
  subjectKey: string,
): Promise<LedgerConsentState> {
  const [tombstone, events, recorded, systemStates] = await Promise.all([
    ledger.getTombstone(subjectKey),
    ledger.listConsentEvents(subjectKey),
    ledger.listConsentOutcomes(subjectKey),
    ledger.listSystemConsentStates(subjectKey),
  ]);
  const purposes: Partial<Record<Purpose, PurposeDecision>> = {};
  for (const event of events) {
    if (supersedes(event, purposes[event.purpose])) {
      purposes[event.purpose] = {
        eventId: event.id,
        decision: event.decision,
        occurredAt: event.occurredAt,
        source: event.source,
        hasEvidence: evidenceAllowsGrant(event.evidence),
      };
    }
  }
  const outcomes: LedgerConsentState['outcomes'] = {};
  for (const [purpose, decision] of Object.entries(purposes) as [Purpose, PurposeDecision][]) {
    outcomes[purpose] = Object.fromEntries(
      recorded.filter((r) => r.eventId === decision.eventId).map((r) => [r.system, r.outcome]),
    );
  }
  const written: LedgerConsentState['written'] = Object.fromEntries(
    systemStates.map((state) => [
      state.system,
      {
        at: state.writtenAt,
        outcome: state.outcome,
        fields: state.fields,
        ...(state.reason ? { reason: state.reason } : {}),
      },
    ]),
  );
  return { erased: tombstone !== undefined, purposes, outcomes, written };
}
