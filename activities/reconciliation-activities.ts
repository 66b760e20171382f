import type { ChangePage, ObservedPerson } from '../connectors/connector.js';
import type { ConsentChangeRequestInput } from '../domain/consent.js';
import type { ErasureRequestInput } from '../domain/erasure.js';
import type { DriftItem, ReconciledSystem, ReconciliationReport } from '../domain/reconciliation.js';
import { consentStateFromLedger } from '../ledger/consent-state.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import { stableUuid } from '../privacy/stable-id.js';
import { subjectKeyFor } from '../privacy/subject-key.js';

/**
 * How reconciliation starts repairs: through the same erasure and consent workflows a person's request
 * would start, never around them. The worker binds these to its own Temporal client.
 */
export interface WorkStarter {
  erase(input: ErasureRequestInput): Promise<{ requestId: string }>;
  changeConsent(input: ConsentChangeRequestInput, stableEventId: string): Promise<{ eventId: string }>;
}

export interface ReconciliationDependencies {
  ledger: Ledger;
  logger: Logger;
  subjectKeySecret: string;
  starter: WorkStarter;
}

export interface PeopleAssessment {
  drift: DriftItem[];
  repairsStarted: number;
}

/**
 * Compares what one page of a vendor says with the ledger and starts the repairs it may start on its own:
 * an opt-out the hub has not recorded is recorded and carried everywhere (with that vendor as its source),
 * and an erased person who exists again is erased again, pointing back to the first receipt. An opt-in that
 * contradicts an opt-out the hub already carried to that very system is reported for a person to decide.
 */
export function createReconciliationActivities({
  ledger,
  logger,
  subjectKeySecret,
  starter,
}: ReconciliationDependencies) {
  return {
    loadWatermark(system: ReconciledSystem): Promise<string | undefined> {
      return ledger.getWatermark(system);
    },

    async saveWatermark(input: { system: ReconciledSystem; value: string }): Promise<void> {
      await ledger.setWatermark(input.system, input.value);
    },

    async recordReconciliationRun(report: ReconciliationReport): Promise<void> {
      const { needsAttention, ...counts } = report;
      await ledger.recordRun({
        runId: report.runId,
        startedAt: report.startedAt,
        finishedAt: report.finishedAt,
        summary: { ...counts, needsAttention },
      });
      logger.info(
        { runId: report.runId, drift: report.drift, repairsStarted: report.repairsStarted },
        'reconciliation run recorded',
      );
    },

    async reconcilePeople(input: {
      runId: string;
      system: ReconciledSystem;
      people: ObservedPerson[];
    }): Promise<PeopleAssessment> {
      const drift: DriftItem[] = [];
      let repairsStarted = 0;
      const seen = new Set<string>();
      for (const person of input.people) {
        const subjectKey = subjectKeyFor(person.email, subjectKeySecret);
        if (seen.has(subjectKey)) continue;
        seen.add(subjectKey);
        const state = await consentStateFromLedger(ledger, subjectKey);
        if (state.erased) {
          const tombstone = await ledger.getTombstone(subjectKey);
          drift.push({ kind: 'erased_subject_reappeared', system: input.system, subjectKey });
          await starter.erase({
            email: person.email,
            reason: 'reappeared_after_erasure',
            reasonNote: `re-appeared in ${input.system}; first receipt ${tombstone?.firstRequestId}`,
            requestedBy: `reconciliation:${input.runId}`,
            requestedAt: new Date().toISOString(),
          });
          repairsStarted++;
          continue;
        }
        const observed = person.purposes.marketing_email;
        const inForce = state.purposes.marketing_email;
        if (observed === 'withdrawn' && inForce?.decision !== 'withdrawn') {
          drift.push({
            kind: 'opt_out_not_propagated',
            system: input.system,
            subjectKey,
            purpose: 'marketing_email',
          });
          await starter.changeConsent(
            {
              email: person.email,
              purpose: 'marketing_email',
              decision: 'withdrawn',
              occurredAt: person.changedAt ?? new Date().toISOString(),
              source: `reconciliation:${input.system}`,
              evidence: { channel: input.system, requestRef: `reconciliation:${input.runId}` },
            },
            stableUuid('reconciliation', input.runId, input.system, subjectKey, 'marketing_email'),
          );
          repairsStarted++;
        } else if (
          observed === 'granted' &&
          inForce?.decision === 'withdrawn' &&
          // Only once the hub has carried the withdrawal to this system is an opt-in there a contradiction;
          // before that it is a change still in flight.
          ['applied', 'already'].includes(state.outcomes.marketing_email?.[input.system] ?? '')
        ) {
          drift.push({
            kind: 'unexplained_opt_in',
            system: input.system,
            subjectKey,
            purpose: 'marketing_email',
          });
        }
      }
      return { drift, repairsStarted };
    },
  };
}

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
export type { ChangePage };
