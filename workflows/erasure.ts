import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  TimeoutFailure,
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
  SystemFailure,
  SystemName,
} from '../domain/erasure.js';
import { ledgerActivityOptions, systemActivityOptions } from './erasure-activity-options.js';
import { closeSystemUpdate, erasureStatusQuery, retrySystemUpdate } from './erasure-definitions.js';
import { erasureStatusAttribute } from './search-attribute-keys.js';

const systems: SystemName[] = ['dynamics', 'mailchimp', 'google'];

type OperatorAction = { kind: 'retry' } | { kind: 'close'; reason: string };
type StepOutcome<T> = { done: true; value: T } | { done: false };

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
  const pendingActions = new Map<SystemName, OperatorAction>();
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
  });

  setHandler(erasureStatusQuery, view);
  setHandler(
    retrySystemUpdate,
    ({ system }) => {
      pendingActions.set(system, { kind: 'retry' });
      return view();
    },
    { validator: ({ system }) => assertNeedsAttention(state, system) },
  );
  setHandler(
    closeSystemUpdate,
    ({ system, reason }) => {
      pendingActions.set(system, { kind: 'close', reason });
      return view();
    },
    { validator: ({ system }) => assertNeedsAttention(state, system) },
  );
  publishStatus();

  /** Runs one step for a system until it succeeds, or an operator closes it, or nobody acts in time. */
  async function step<T>(system: SystemName, work: () => Promise<T>): Promise<StepOutcome<T>> {
    for (;;) {
      state[system].status = 'running';
      state[system].attempts += 1;
      publishStatus();
      try {
        const value = await work();
        state[system].failure = undefined;
        return { done: true, value };
      } catch (error) {
        if (isCancellation(error)) throw error;
        state[system].status = 'needs_attention';
        state[system].failure = describeFailure(error);
        publishStatus();
        const acted = await condition(() => pendingActions.has(system), input.timings.operatorDeadline);
        const action = pendingActions.get(system);
        pendingActions.delete(system);
        if (!acted || !action) {
          state[system].status = 'failed';
          finish(system);
          return { done: false };
        }
        if (action.kind === 'close') {
          state[system].status = 'closed_by_operator';
          state[system].closedReason = action.reason;
          finish(system);
          return { done: false };
        }
      }
    }
  }

  const finish = (system: SystemName) => {
    state[system].completedAt = new Date().toISOString();
    publishStatus();
  };

  const recordErasure = (system: SystemName, result: EraseResult) => {
    state[system].status = result.outcome;
    state[system].records = result.records.map(({ kind, id, container, result: outcome, vendorTime }) => ({
      kind,
      id,
      container,
      result: outcome,
      vendorTime,
    }));
    finish(system);
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
    requestedBy: input.request.requestedBy,
    requestedAt: input.request.requestedAt,
    completedAt: new Date().toISOString(),
    outcome: systems.every((s) => ['erased', 'not_found', 'submitted'].includes(state[s].status))
      ? 'completed'
      : 'completed_with_failures',
    systems: state,
  };
  await proxyActivities<Activities>(ledgerActivityOptions).recordErasureOutcome(receipt);
  return receipt;
}

function assertNeedsAttention(state: Record<SystemName, SystemErasureState>, system: SystemName): void {
  if (!(system in state)) throw new Error(`unknown system ${JSON.stringify(system)}`);
  if (state[system].status !== 'needs_attention') {
    throw new Error(`${system} does not need attention (its status is ${state[system].status})`);
  }
}

function mergeIdentifiers(subject: SubjectIdentifiers, found: FindResult | undefined): SubjectIdentifiers {
  return {
    email: subject.email,
    gaClientIds: [...new Set([...subject.gaClientIds, ...(found?.gaClientIds ?? [])])],
    gaUserIds: [...new Set([...subject.gaUserIds, ...(found?.gaUserIds ?? [])])],
  };
}

/** What an operator needs to act: the vendor's reason and status, or that retries ran out of time. */
function describeFailure(error: unknown): SystemFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as { reason?: string; status?: number; vendorCode?: string };
    const reason = details.reason ?? cause.message;
    // A retryable failure reaching the workflow means the retries ran out of time (scheduleToClose).
    const outlasted = !cause.nonRetryable && cause.type === 'RetryableVendorError';
    return {
      type: outlasted ? 'RetriesOutlastedDeadline' : (cause.type ?? 'ApplicationFailure'),
      reason: outlasted ? `still failing after the attention deadline; last error: ${reason}` : reason,
      status: details.status,
      vendorCode: details.vendorCode,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { type: 'RetriesOutlastedDeadline', reason: `timed out (${String(cause.timeoutType)})` };
  }
  return { type: 'Unknown', reason: error instanceof Error ? error.message : String(error) };
}
