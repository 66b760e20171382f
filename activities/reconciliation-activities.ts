import { ZodError } from 'zod';
import type { ChangePage, DecisionsInForce, ObservedPerson } from '../connectors/connector.js';
import { sharedFieldState } from '../connectors/consent-fields.js';
import type {
  ConsentApplicationOutcome,
  ConsentChangeRequestInput,
  ConsentHandOverSignal,
  ConsentTimings,
} from '../domain/consent.js';
import { parseEmail } from '../domain/email.js';
import type { ErasureRequestInput } from '../domain/erasure.js';
import type { Purpose } from '../domain/purposes.js';
import type {
  DriftItem,
  ReconciledSystem,
  ReconciliationReport,
  RecordError,
} from '../domain/reconciliation.js';
import type { RequestKind } from '../domain/request-deadline.js';
import type { SystemName } from '../domain/systems.js';
import { consentStateFromLedger, type LedgerConsentState } from '../ledger/consent-state.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import { protectRecordIds } from '../privacy/keyed-id.js';
import { stableUuid } from '../privacy/stable-id.js';
import { adoptLegacySubjectKeys, subjectKeyFor } from '../privacy/subject-key.js';

/**
 * How reconciliation starts repairs: through the same erasure and consent workflows a person's request
 * would start, never around them. The worker binds these to its own Temporal client.
 */
export interface WorkStarter {
  erase(input: ErasureRequestInput): Promise<{ requestId: string }>;
  /** `recordedAt`: when the hub first recorded a change it hands over (kept as the ledger's time). */
  changeConsent(
    input: ConsentChangeRequestInput,
    stableEventId: string,
    /** `holders`: workflows that carried the change (a batch, its buffer), see recordConsentChange. */
    options?: { recordedAt?: string; holders?: string[] },
  ): Promise<{ eventId: string }>;
  /**
   * Many people's consent changes through one batch workflow (workflows/consent-batch.ts), each with its
   * stable event id; `batchId` is stable too, so a repeat of the caller starts no second batch. Each change
   * is recorded as `changeConsent` records it (its own evidence, its own ledger event); people the batch
   * cannot serve go to their own workflow.
   */
  changeConsentBatch?(input: {
    batchId: string;
    changes: { input: ConsentChangeRequestInput; eventId: string }[];
  }): Promise<{ started: boolean }>;
  /**
   * Asks the person's consent workflow to write their state to `systems` again. With the email it starts
   * the workflow if needed; without it only a running workflow can be asked (`delivered: false` otherwise).
   */
  reapplyConsent(input: {
    subjectKey: string;
    email?: string;
    systems: SystemName[];
    reason: string;
  }): Promise<{ delivered: boolean }>;
  /** Starts the workflow that destroys the subject's data keys once their workflows are closed. */
  shredWhenClosed?(input: {
    subjectKey: string;
    requestId: string;
    before: string;
    /** Workflows that carry the subject's payloads without their `SubjectKey` (a batch): waited for too. */
    holders?: string[];
  }): Promise<void>;
  /** Whether a workflow with this id is running. */
  isRunning?(workflowId: string): Promise<boolean>;
  /**
   * The key an older version gave another spelling of this address, when the person's consent (or erasure)
   * workflow still runs under it (started before an upgrade); undefined when none does.
   */
  runningUnderLegacyKey?(input: { email: string; kind: 'consent' | 'erasure' }): Promise<string | undefined>;
  /**
   * The ids of the subject's running workflows of every kind but the shredding (the ledger's requests of
   * theirs are asked by id, the rest found by their `SubjectKey`).
   */
  openSubjectWorkflows?(input: {
    subjectKey: string;
    requests: { kind: RequestKind; requestId: string }[];
  }): Promise<string[]>;
  /** Tells the erased subject's running access requests to end; answers how many were told. */
  endAccessRequestsOfErased?(input: {
    subjectKey: string;
    erasureRequestId: string;
    accessRequestIds: string[];
  }): Promise<number>;
  /**
   * Hands a re-keyed person's pending consent work to the consent workflow of their new key, starting it
   * (with `email` and `timings`) when it is not running: signal-with-start of `consentHandOver`.
   */
  handOverConsent?(input: ConsentHandOverInput): Promise<void>;
}

/** What an old key's consent workflow hands to the new key's (workflows/consent.ts, `handOver`). */
export interface ConsentHandOverInput extends ConsentHandOverSignal {
  /** The new key, whose workflow takes over. */
  subjectKey: string;
  /** The new address; it reaches Temporal only encrypted. */
  email: string;
  timings: ConsentTimings;
}

export interface ReconciliationDependencies {
  ledger: Ledger;
  logger: Logger;
  subjectKeySecret: string;
  starter: WorkStarter;
  /** People on a page from which withdrawals go through batch workflows (CONSENT_HUB_RECONCILE_BULK_FROM). */
  bulkFrom?: number;
}

export interface PeopleAssessment {
  drift: DriftItem[];
  repairsStarted: number;
  /** Records skipped, with why: the run reports them and goes on. */
  recordErrors?: RecordError[];
}

/**
 * Compares what one page of a vendor says with the ledger and starts the repairs it may start on its own:
 * an opt-out the hub has not recorded is recorded and carried everywhere (with that vendor as its source),
 * and an erased person who exists again is erased again, pointing back to the first receipt. An opt-in that
 * contradicts an opt-out the hub already carried to that very system is reported for a person to decide.
 * A person the hub restricted (legal hold: a restriction receipt names them, or their erasure runs while
 * they are held) is left alone: the unsubscribes and `donot*` flags are the hub's own writes, not theirs.
 */
export function createReconciliationActivities({
  ledger,
  logger,
  subjectKeySecret,
  starter,
  bulkFrom = bulkRepairsFrom,
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

    /**
     * Withdrawals whose last write to `system` failed or was closed by an operator are written again, now
     * that the system answered a whole reconciliation read; one page of subjects per call, `next` naming
     * where the next page starts, so every unresolved subject is attempted in every run. The person's workflow stays open while such a
     * withdrawal is unresolved, so it can be asked without the address; one that has ended is reported.
     */
    async repairFailedWithdrawals(input: {
      runId: string;
      system: ReconciledSystem;
      /** The last subject key of the previous page; absent on the first. */
      after?: string;
      /** Subjects per call (default 500). */
      pageSize?: number;
    }): Promise<PeopleAssessment & { next?: string }> {
      const drift: DriftItem[] = [];
      let repairsStarted = 0;
      const pageSize = input.pageSize ?? 500;
      const page = await ledger.listUnresolvedConsentSubjects(input.system, pageSize, input.after);
      for (const subjectKey of page) {
        const state = await consentStateFromLedger(ledger, subjectKey);
        if (!Object.values(state.purposes).some((d) => d?.decision === 'withdrawn')) continue;
        const { delivered } = await starter.reapplyConsent({
          subjectKey,
          systems: [input.system],
          reason: `reconciliation ${input.runId}: ${input.system} answers again`,
        });
        if (delivered) {
          drift.push({ kind: 'failed_withdrawal_reapplied', system: input.system, subjectKey });
          repairsStarted++;
        } else {
          drift.push({ kind: 'failed_withdrawal_unreachable', system: input.system, subjectKey });
        }
      }
      if (drift.length > 0) {
        logger.info({ runId: input.runId, system: input.system, drift: drift.length }, 'failed withdrawals');
      }
      // A full page may have more after it: the caller asks again from its last key.
      const last = page.at(-1);
      return { drift, repairsStarted, ...(page.length === pageSize && last ? { next: last } : {}) };
    },

    async reconcilePeople(input: {
      runId: string;
      system: ReconciledSystem;
      people: ObservedPerson[];
      /**
       * When the page was asked for (ISO 8601, the workflow's clock before it scheduled the read): a person
       * the hub wrote to in that system since then may show the tool as it was before that write.
       */
      observedAt?: string;
    }): Promise<PeopleAssessment> {
      const recordError = recordErrorFor(subjectKeySecret);
      /** Withdrawals found on this page, per person, sent together once the page is read. */
      const withdrawals = new Map<string, { input: ConsentChangeRequestInput; eventId: string }[]>();
      const drift: DriftItem[] = [];
      const recordErrors: RecordError[] = [];
      let repairsStarted = 0;
      const seen = new Set<string>();
      const handle = async (person: ObservedPerson): Promise<void> => {
        const subjectKey = subjectKeyFor(person.email, subjectKeySecret);
        if (seen.has(subjectKey)) return;
        seen.add(subjectKey);
        // The person may be in the ledger under an older key of another spelling of the address.
        await adoptLegacySubjectKeys(ledger, person.email, subjectKeySecret);
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
          return;
        }
        // A held person's erasure restricted them (unsubscribed and tagged, every donot* set and the rows
        // deactivated): the tools show the hub's own write, which is no consent decision of the person's.
        // Nothing is recorded and nothing is repaired; the erasure deletes the records once the hold ends.
        if (await restrictedByHub(subjectKey)) return;
        await compareFields(person, subjectKey, state);
      };
      /**
       * A restriction receipt names the subject, or the subject is on hold and their erasure runs (it may be
       * restricting now, before its receipt is written).
       */
      const restrictedByHub = async (subjectKey: string): Promise<boolean> => {
        if (await ledger.hasRestriction(subjectKey)) return true;
        const hold = await ledger.getHold(subjectKey);
        if (!hold || hold.releasedAt) return false;
        return (await starter.isRunning?.(`erasure-${subjectKey}`)) ?? false;
      };
      /**
       * Each field the tool holds against the state all decisions in force call for (the rule writes use,
       * connectors/consent-fields.ts): a field withdrawn because another purpose sharing it is withdrawn
       * agrees, and is no withdrawal of the others.
       */
      const compareFields = async (
        person: ObservedPerson,
        subjectKey: string,
        state: LedgerConsentState,
      ): Promise<void> => {
        // The tool was read before the hub's last write there ended: what the page shows may be the state
        // that write replaced (a batch writing the very opt-outs this run recorded), so it is neither an
        // opt-in to revert nor a withdrawal to record. The next run reads the tool as it is.
        // A write that changed nothing there (failed, closed by an operator, nothing found, already so)
        // leaves the observation as current as it was. The times compare the server's clock (the workflow's
        // time before it asked for the page) with the worker's (after the write returned): hosts kept by NTP
        // differ by far less than a write takes, and a write misjudged as older is only repaired once more.
        const lastWrite = state.written[input.system];
        if (
          input.observedAt &&
          lastWrite &&
          !unchangedByWrite.has(lastWrite.outcome) &&
          Date.parse(lastWrite.at) > Date.parse(input.observedAt)
        ) {
          return;
        }
        const decisions = decisionsInForce(state);
        const written = state.written[input.system]?.fields ?? {};
        const mine: { input: ConsentChangeRequestInput; eventId: string }[] = [];
        const recorded = new Set<Purpose>();
        let reverted = false;
        let reported = false;
        for (const observed of person.fields) {
          const desired = sharedFieldState(observed.purposes, decisions);
          if (observed.state === 'withdrawn' && desired !== 'withdrawn') {
            // The tool still holds the hub's own last write (a newer grant is on its way, or failed there):
            // nothing the person did.
            if (written[observed.field] === observed.value) continue;
            // The person (or someone in the tool) withdrew the field: a withdrawal of every purpose it
            // carries, as the tool's own unsubscribe webhook records it.
            for (const purpose of observed.purposes) {
              if (recorded.has(purpose)) continue;
              recorded.add(purpose);
              drift.push({ kind: 'opt_out_not_propagated', system: input.system, subjectKey, purpose });
              mine.push({
                input: {
                  email: person.email,
                  purpose,
                  decision: 'withdrawn',
                  occurredAt: person.changedAt ?? new Date().toISOString(),
                  source: `reconciliation:${input.system}`,
                  evidence: { channel: input.system, requestRef: `reconciliation:${input.runId}` },
                },
                eventId: stableUuid('reconciliation', input.runId, input.system, subjectKey, purpose),
              });
              repairsStarted++;
            }
          } else if (observed.state === 'granted' && desired === 'withdrawn') {
            const withdrawn = observed.purposes.filter((p) => decisions[p]?.decision === 'withdrawn');
            const answers = withdrawn.map((p) => state.outcomes[p]?.[input.system]);
            const purpose = withdrawn[0];
            if (answers.some((a) => a === 'applied' || a === 'already')) {
              if (reverted) continue;
              reverted = true;
              // The hub wrote this withdrawal there, so the opt-in came from outside and the state in force
              // is written again, through the person's workflow.
              await starter.reapplyConsent({
                subjectKey,
                email: person.email,
                systems: [input.system],
                reason: `reconciliation ${input.runId}: opt-in contradicts a withdrawal applied there`,
              });
              drift.push({ kind: 'opt_in_reverted', system: input.system, subjectKey, purpose });
              repairsStarted++;
            } else if (answers.some((a) => a !== undefined)) {
              if (reported) continue;
              reported = true;
              // The hub never got the withdrawal there (failed, closed, not found): a person must decide.
              drift.push({ kind: 'unexplained_opt_in', system: input.system, subjectKey, purpose });
            }
            // No answer yet: the withdrawal is still on its way there.
          }
        }
        if (mine.length === 0) return;
        // A person whose opt-in was also reverted has a repair in their own workflow already: their
        // withdrawals follow it there, so one workflow serialises both.
        if (reverted) await sendToPeople(mine);
        else withdrawals.set(subjectKey, [...(withdrawals.get(subjectKey) ?? []), ...mine]);
      };
      const sendToPeople = async (changes: { input: ConsentChangeRequestInput; eventId: string }[]) => {
        for (const change of changes) await starter.changeConsent(change.input, change.eventId);
      };
      for (const person of input.people) {
        // The hub's one address parser decides, per record: one unusable address is reported, not fatal.
        const parsed = parseEmail(person.email);
        if (!parsed.ok) {
          recordErrors.push(recordError(input.system, person, `the address ${parsed.reason}`));
          continue;
        }
        try {
          await handle({ ...person, email: parsed.email });
        } catch (error) {
          // Input a schema refuses cannot improve by retrying; anything else (the ledger, Temporal) is retried.
          if (!(error instanceof ZodError)) throw error;
          const fields = error.issues.map(
            (issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`,
          );
          recordErrors.push(recordError(input.system, person, `refused: ${fields.join('; ')}`));
        }
      }
      await sendWithdrawals(input.runId, input.system, [...withdrawals.values()], sendToPeople);
      return { drift, repairsStarted, recordErrors };
    },
  };

  /**
   * A page's withdrawals: for `bulkFrom` people or more (CONSENT_HUB_RECONCILE_BULK_FROM, default 10),
   * through batch workflows (a person's changes stay together in one batch, each batch at most
   * `repairsPerBatch` changes, its id derived from the run, the system and its event ids, so a retried page
   * starts nothing twice); for fewer, each through the person's own workflow, as before.
   */
  async function sendWithdrawals(
    runId: string,
    system: ReconciledSystem,
    people: { input: ConsentChangeRequestInput; eventId: string }[][],
    sendToPeople: (changes: { input: ConsentChangeRequestInput; eventId: string }[]) => Promise<void>,
  ): Promise<void> {
    if (people.length < bulkFrom || !starter.changeConsentBatch) {
      for (const changes of people) await sendToPeople(changes);
      return;
    }
    const batches: { input: ConsentChangeRequestInput; eventId: string }[][] = [];
    let current: { input: ConsentChangeRequestInput; eventId: string }[] = [];
    for (const changes of people) {
      if (current.length > 0 && current.length + changes.length > repairsPerBatch) {
        batches.push(current);
        current = [];
      }
      current.push(...changes);
    }
    if (current.length > 0) batches.push(current);
    for (const changes of batches) {
      const batchId = stableUuid('reconciliation-batch', runId, system, ...changes.map((c) => c.eventId));
      await starter.changeConsentBatch({ batchId, changes });
    }
    logger.info(
      { runId, system, people: people.length, batches: batches.length },
      'reconciliation withdrawals sent through the bulk path',
    );
  }
}

/** Outcomes of a write that left the tool as it was. */
const unchangedByWrite: ReadonlySet<ConsentApplicationOutcome> = new Set([
  'already',
  'not_found',
  'not_applicable',
  'failed',
  'closed_by_operator',
]);

/**
 * By default, people on one page with withdrawals to carry from which reconciliation uses the bulk path
 * (workflows/consent-batch.ts) rather than a workflow per person (issue 21); CONSENT_HUB_RECONCILE_BULK_FROM.
 */
export const bulkRepairsFrom = 10;
/** Changes per batch workflow: within consentBatchLimit (1,000) with room for long evidence. */
const repairsPerBatch = 500;

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
export type { ChangePage };

/** A record error as the report keeps it: system, the record id (keyed when person-derived), the reason. */
function recordErrorFor(secret: string) {
  return (system: ReconciledSystem, person: ObservedPerson, reason: string): RecordError => {
    const [keyed] = person.recordId ? protectRecordIds(secret, system, [{ id: person.recordId }]) : [];
    return { system, ...(keyed ? { recordId: keyed.id } : {}), reason };
  };
}

/** What the tools should show: every decision in force (the consent workflow's rule; erased people end earlier). */
function decisionsInForce(state: LedgerConsentState): DecisionsInForce {
  return Object.fromEntries(
    Object.entries(state.purposes).flatMap(([purpose, d]) =>
      d ? [[purpose, { decision: d.decision, hasEvidence: d.hasEvidence ?? false }]] : [],
    ),
  );
}
