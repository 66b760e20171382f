import {
  condition,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { EraseResult, FindResult, SubjectIdentifiers } from '../connectors/connector.js';
import type {
  ErasureOverallStatus,
  ErasureReceipt,
  ErasureStatusView,
  ErasureWorkflowInput,
  SystemErasureState,
  SystemName,
} from '../domain/erasure.js';
import { ledgerActivityOptions, systemActivityOptions } from './erasure-activity-options.js';
import { closeSystemUpdate, erasureStatusQuery, retrySystemUpdate } from './erasure-definitions.js';
import { assertNeedsAttention, OperatorGate } from './operator-gate.js';
import { erasureStatusAttribute } from './search-attribute-keys.js';

const systems: SystemName[] = ['dynamics', 'mailchimp', 'google'];

/**
 * Erases one person from every system, durably, and returns a receipt that proves what happened.
 *
 * Identifiers are harvested first (GA client ids live on CRM records), then the three systems are erased in
 * parallel, each with its own retry policy. A system that fails for good, or keeps failing past
 * `attentionAfter`, waits for an operator (retry or close) while the others finish. The event history stays
 * small whatever the number of records: paging happens inside activities, and each system adds a handful of
 * events.
 */
export async function erasureWorkflow(input: ErasureWorkflowInput): Promise<ErasureReceipt> {
  const requestId = workflowInfo().firstExecutionRunId;
  const state = Object.fromEntries(
    systems.map((system): [SystemName, SystemErasureState] => [
      system,
      { status: 'pending', records: [], attempts: 0 },
    ]),
  ) as Record<SystemName, SystemErasureState>;
  let lastPublished: ErasureOverallStatus | undefined;

  const overall = (): ErasureOverallStatus => {
    const statuses = systems.map((system) => state[system].status);
    if (statuses.includes('needs_attention')) return 'needs_attention';
    return statuses.every((s) =>
      ['erased', 'not_found', 'submitted', 'failed', 'closed_by_operator'].includes(s),
    )
      ? 'completed'
      : 'running';
  };
  const publishStatus = () => {
    const now = overall();
    if (now === lastPublished) return;
    lastPublished = now;
    upsertSearchAttributes([{ key: erasureStatusAttribute, value: now }]);
  };
  const view = (): ErasureStatusView => ({
    requestId,
    subjectKey: input.subjectKey,
    status: overall(),
    requestedAt: input.request.requestedAt,
    systems: state,
    operatorActions: [...gate.log],
  });

  const gate = new OperatorGate(input.timings.operatorDeadline, publishStatus);
  const step = <T>(system: SystemName, work: () => Promise<T>) => gate.run(system, state[system], work);

  setHandler(erasureStatusQuery, view);
  setHandler(
    retrySystemUpdate,
    ({ system, operator }) => {
      gate.request(system, { kind: 'retry' }, operator);
      return view();
    },
    { validator: ({ system }) => assertNeedsAttention(state, system) },
  );
  setHandler(
    closeSystemUpdate,
    ({ system, reason, operator }) => {
      gate.request(system, { kind: 'close', reason }, operator);
      return view();
    },
    { validator: ({ system }) => assertNeedsAttention(state, system) },
  );
  publishStatus();

  const recordErasure = (system: SystemName, result: EraseResult) => {
    state[system].status = result.outcome;
    state[system].records = result.records.map(({ kind, id, container, result: outcome, vendorTime }) => ({
      kind,
      id,
      container,
      result: outcome,
      vendorTime,
    }));
    gate.finish(state[system]);
  };

  const activitiesFor = (system: SystemName) =>
    proxyActivities<Activities>(systemActivityOptions(system, input.timings));
  const subject: SubjectIdentifiers = {
    email: input.request.email,
    gaClientIds: input.request.gaClientIds,
    gaUserIds: input.request.gaUserIds,
  };
  const callInput = (system: SystemName, identifiers: SubjectIdentifiers = subject) => ({
    system,
    subjectKey: input.subjectKey,
    subject: identifiers,
  });

  // 1. Harvest before anything is deleted: the CRM holds GA client ids that Google's erasure needs.
  const harvest = step('dynamics', () => activitiesFor('dynamics').findInSystem(callInput('dynamics')));

  // 2. Erase everywhere in parallel; only Google and the CRM itself wait for the harvest.
  const dynamics = harvest.then(async (found) => {
    if (!found.done) return;
    const erased = await step('dynamics', () =>
      activitiesFor('dynamics').eraseInSystem(callInput('dynamics')),
    );
    if (erased.done) recordErasure('dynamics', erased.value);
  });
  const mailchimp = step('mailchimp', () =>
    activitiesFor('mailchimp').eraseInSystem(callInput('mailchimp')),
  ).then((erased) => {
    if (erased.done) recordErasure('mailchimp', erased.value);
  });
  const google = harvest.then(async (found) => {
    const identifiers = mergeIdentifiers(subject, found.done ? found.value : undefined);
    const erased = await step('google', () =>
      activitiesFor('google').eraseInSystem(callInput('google', identifiers)),
    );
    if (erased.done) recordErasure('google', erased.value);
  });
  await Promise.all([dynamics, mailchimp, google]);

  // Updates that arrived as the last system finished must not be lost mid-flight.
  await condition(() => true);
  const receipt: ErasureReceipt = {
    requestId,
    subjectKey: input.subjectKey,
    reason: input.request.reason,
    ...(input.request.reasonNote ? { reasonNote: input.request.reasonNote } : {}),
    requestedBy: input.request.requestedBy,
    requestedAt: input.request.requestedAt,
    completedAt: new Date().toISOString(),
    outcome: systems.every((s) => ['erased', 'not_found', 'submitted'].includes(state[s].status))
      ? 'completed'
      : 'completed_with_failures',
    systems: state,
    ...(gate.log.length > 0 ? { operatorActions: [...gate.log] } : {}),
  };
  await proxyActivities<Activities>(ledgerActivityOptions).recordErasureOutcome(receipt);
  return receipt;
}

function mergeIdentifiers(subject: SubjectIdentifiers, found: FindResult | undefined): SubjectIdentifiers {
  return {
    email: subject.email,
    gaClientIds: [...new Set([...subject.gaClientIds, ...(found?.gaClientIds ?? [])])],
    gaUserIds: [...new Set([...subject.gaUserIds, ...(found?.gaUserIds ?? [])])],
  };
}
