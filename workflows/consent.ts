import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { ConsentChange, SubjectIdentifiers } from '../connectors/connector.js';
import type {
  ConsentApplicationOutcome,
  ConsentChangeSignal,
  ConsentStatusView,
  ConsentWorkflowInput,
  PurposeDecision,
  SystemConsentState,
} from '../domain/consent.js';
import type { Purpose } from '../domain/purposes.js';
import type { SystemName } from '../domain/systems.js';
import {
  closeConsentSystemUpdate,
  consentChangeSignal,
  consentStatusQuery,
  retryConsentSystemUpdate,
} from './consent-definitions.js';
import { supersedes } from './consent-ordering.js';
import { ledgerActivityOptions, systemActivityOptions } from './erasure-activity-options.js';
import { assertNeedsAttention, OperatorGate } from './operator-gate.js';
import { consentStatusAttribute } from './search-attribute-keys.js';

const systems: SystemName[] = ['dynamics', 'mailchimp', 'google'];
/** Batches handled before the history is carried into a fresh run. */
const batchesPerRun = 100;

/**
 * One workflow per person serialises their consent changes: it records each change with its evidence, and
 * carries the decision in force to every tool. Of two changes to a purpose, the later `occurredAt` wins
 * whatever the order of arrival (a withdrawal wins a tie); an older change arriving late is kept as
 * evidence and not applied. A person with a tombstone is refused. The workflow ends when the person has been
 * idle for `idleAfter`, and a new change starts a new run that reloads the state from the ledger.
 */
export async function consentWorkflow(input: ConsentWorkflowInput): Promise<ConsentStatusView> {
  const carried = input.carried;
  const purposes: Partial<Record<Purpose, PurposeDecision>> = { ...carried?.purposes };
  const outcomes: Partial<Record<Purpose, Partial<Record<SystemName, ConsentApplicationOutcome>>>> = {
    ...carried?.outcomes,
  };
  const queue: ConsentChangeSignal[] = [...(carried?.pending ?? [])];
  const refused = [...(carried?.refused ?? [])];
  const superseded = [...(carried?.superseded ?? [])];
  const state = Object.fromEntries(
    systems.map((system): [SystemName, SystemConsentState] => [system, { status: 'idle', attempts: 0 }]),
  ) as Record<SystemName, SystemConsentState>;
  let inFlight = 0;
  let erased = false;
  let lastPublished = '';

  const publishStatus = () => {
    const statuses = systems.map((s) => state[s].status);
    const now = statuses.includes('needs_attention')
      ? 'needs_attention'
      : inFlight + queue.length > 0
        ? 'running'
        : 'idle';
    if (now === lastPublished) return;
    lastPublished = now;
    upsertSearchAttributes([{ key: consentStatusAttribute, value: now }]);
  };
  const view = (): ConsentStatusView => ({
    subjectKey: input.subjectKey,
    purposes: Object.fromEntries(
      Object.entries(purposes).map(([purpose, decision]) => [
        purpose,
        { ...decision, systems: outcomes[purpose as Purpose] ?? {} },
      ]),
    ),
    systems: state,
    inFlight: inFlight + queue.length,
    refused,
    superseded,
    erased,
    operatorActions: [...gate.log],
  });
  const gate = new OperatorGate(input.timings.operatorDeadline, publishStatus);

  setHandler(consentChangeSignal, (change) => {
    queue.push(change);
  });
  setHandler(consentStatusQuery, view);
  setHandler(
    retryConsentSystemUpdate,
    ({ system, operator }) => {
      gate.request(system, { kind: 'retry' }, operator);
      return view();
    },
    { validator: ({ system }) => assertNeedsAttention(state, system) },
  );
  setHandler(
    closeConsentSystemUpdate,
    ({ system, reason, operator }) => {
      gate.request(system, { kind: 'close', reason }, operator);
      return view();
    },
    { validator: ({ system }) => assertNeedsAttention(state, system) },
  );

  const ledger = proxyActivities<Activities>(ledgerActivityOptions);
  const vendor = (system: SystemName) =>
    proxyActivities<Activities>(systemActivityOptions(system, input.timings));
  const subject: SubjectIdentifiers = { email: input.email, gaClientIds: [], gaUserIds: [] };

  if (!carried) {
    // A new run picks up the decisions in force from the ledger, so ordering holds across runs.
    const loaded = await ledger.loadConsentState(input.subjectKey);
    Object.assign(purposes, loaded.purposes);
    Object.assign(outcomes, loaded.outcomes);
    erased = loaded.erased;
  }

  async function applyToSystem(system: SystemName, change: ConsentChangeSignal): Promise<void> {
    const connectorChange: ConsentChange = {
      purpose: change.purpose,
      decision: change.decision,
      occurredAt: change.occurredAt,
      hasEvidence: Boolean(
        change.evidence.policyVersion || change.evidence.formId || change.evidence.requestRef,
      ),
    };
    const call = { system, subjectKey: input.subjectKey, subject };
    const result = await gate.run(system, state[system], async () => {
      if (system !== 'google')
        return vendor(system).applyConsentInSystem({ ...call, change: connectorChange });
      // GA keeps no consent flag: a statistics withdrawal is a user deletion, for the ids the CRM knows.
      const found = await vendor('dynamics').findInSystem({ ...call, system: 'dynamics' });
      return vendor('google').applyConsentInSystem({
        ...call,
        subject: { ...subject, gaClientIds: found.gaClientIds, gaUserIds: found.gaUserIds },
        change: connectorChange,
      });
    });
    const outcome: ConsentApplicationOutcome = result.done
      ? result.value.outcome
      : (state[system].status as 'failed' | 'closed_by_operator');
    if (result.done) {
      state[system].status = 'idle';
      gate.finish(state[system]);
    }
    state[system].last = {
      eventId: change.eventId,
      purpose: change.purpose,
      decision: change.decision,
      outcome,
    };
    outcomes[change.purpose] = { ...outcomes[change.purpose], [system]: outcome };
    await ledger.recordConsentOutcome({
      subjectKey: input.subjectKey,
      eventId: change.eventId,
      system,
      outcome,
      reason: result.done ? undefined : (state[system].closedReason ?? state[system].failure?.reason),
    });
  }

  for (let batches = 0; ; batches++) {
    publishStatus();
    const arrived = await condition(() => queue.length > 0, input.timings.idleAfter);
    if (!arrived) break;
    const batch = queue.splice(0);
    inFlight = batch.length;
    publishStatus();
    // An erasure may have finished since the last batch; it wins over any consent change.
    erased = erased || (await ledger.loadConsentState(input.subjectKey)).erased;
    if (erased) {
      await ledger.refuseConsentChanges({
        subjectKey: input.subjectKey,
        eventIds: batch.map((c) => c.eventId),
      });
      refused.push(...batch.map((c) => c.eventId));
      inFlight = 0;
      continue;
    }
    for (const change of batch) await ledger.recordConsentEvent({ subjectKey: input.subjectKey, change });

    // Per purpose, only the change that wins over everything known so far is carried to the tools.
    const winners = new Map<Purpose, ConsentChangeSignal>();
    for (const change of batch) {
      const best = winners.get(change.purpose) ?? purposes[change.purpose];
      if (supersedes(change, best)) {
        const previous = winners.get(change.purpose);
        if (previous) superseded.push(previous.eventId);
        winners.set(change.purpose, change);
      } else {
        superseded.push(change.eventId);
      }
    }
    for (const change of winners.values()) {
      purposes[change.purpose] = {
        eventId: change.eventId,
        decision: change.decision,
        occurredAt: change.occurredAt,
        source: change.source,
      };
      const targets =
        change.purpose === 'statistics' && change.decision === 'withdrawn' ? systems : systems.slice(0, 2);
      await Promise.all(targets.map((system) => applyToSystem(system, change)));
    }
    inFlight = 0;

    if (batches + 1 >= batchesPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof consentWorkflow>({
        ...input,
        carried: { purposes, outcomes, pending: queue.splice(0), refused, superseded },
      });
    }
  }
  await condition(allHandlersFinished);
  return view();
}
