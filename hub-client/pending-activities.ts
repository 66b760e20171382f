import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  decodeFromPayloadsAtIndex,
  decodeOptionalFailureToOptionalError,
} from '@temporalio/common/lib/internal-non-workflow/index.js';
import { optionalTsToDate } from '@temporalio/common/lib/time.js';
import type { RetryState } from '../domain/operator.js';
import { type SystemName, systemNameSchema } from '../domain/systems.js';

/** Per system: its retry state while an attempt is pending, and the vendor call attempts of its current step. */
export interface SystemActivityStates {
  retrying: Partial<Record<SystemName, RetryState>>;
  /**
   * The vendor call attempts of each system's current (or last) step: Temporal's own attempt counter of
   * each activity (pending, or from its ActivityTaskStarted event once it closed), added up over the gate
   * rounds of that step (an operator's retry, a vendor's wait). Temporal keeps the counter on the server, so
   * it survives a worker killed mid-attempt. A never-failing system has 1.
   */
  attempts: Partial<Record<SystemName, number>>;
  /**
   * The retries of each system's activities still pending (attempt - 1 each): what a workflow that counts
   * the attempts its activities report (workflows/operator-gate.ts) has not heard of yet.
   */
  pendingRetries: Partial<Record<SystemName, number>>;
}

/** One connector activity of the history: its system, its type, its attempts so far and how it ended. */
interface VendorActivity {
  system: SystemName;
  type: string;
  attempts: number;
  ended: 'open' | 'completed' | 'failed' | 'cancelled';
}

/**
 * What the worker is doing right now, per system, from the workflow's pending activities and its history:
 * the attempt it is on, the last failure (status, reason, when), when the next attempt starts, and how many
 * vendor call attempts the system's step has taken. The workflow's own state only learns of a failure once
 * retries stop, so without this a vendor answering 503 looks like a system "running" on attempt 1 while the
 * worker is on attempt 17.
 *
 * Pending activities carry no input, so each is matched to its system through the history: the
 * ActivityTaskScheduled event with the same activity id holds the call's input, whose `system` names it.
 * Connector activities are those whose input has a `subject` (activities/create-activities.ts's
 * ConnectorActivityInput); ledger activities naming a system are not vendor calls. A step's gate rounds are
 * the activities of one type for one system that follow a failed one; a success, a cancellation (a newer
 * consent change superseding) or another activity type starts a new step.
 */
export async function retryStatesOf(client: Client, handle: WorkflowHandle): Promise<SystemActivityStates> {
  const [description, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
  const pending = description.raw.pendingActivities ?? [];
  const converter = client.options.loadedDataConverter;
  const byActivityId = new Map<string, VendorActivity>();
  const byScheduledEvent = new Map<string, VendorActivity>();
  const activities: VendorActivity[] = [];
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityId) {
      const input = await decodeFromPayloadsAtIndex<{ system?: unknown; subject?: unknown }>(
        converter,
        0,
        scheduled.input?.payloads,
      ).catch(() => undefined); // An input this client cannot decode (another key): its system stays unknown.
      const system = systemNameSchema.safeParse(input?.system);
      if (!system.success || typeof input?.subject !== 'object' || input.subject === null) continue;
      const activity: VendorActivity = {
        system: system.data,
        type: scheduled.activityType?.name ?? 'unknown',
        attempts: 1,
        ended: 'open',
      };
      activities.push(activity);
      byActivityId.set(scheduled.activityId, activity);
      byScheduledEvent.set(String(event.eventId), activity);
      continue;
    }
    const started = event.activityTaskStartedEventAttributes;
    const startedOf = started && byScheduledEvent.get(String(started.scheduledEventId));
    if (startedOf) startedOf.attempts = Math.max(1, started.attempt ?? 1);
    const closed =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    const closedOf = closed && byScheduledEvent.get(String(closed.scheduledEventId));
    if (closedOf) {
      closedOf.ended = event.activityTaskCompletedEventAttributes
        ? 'completed'
        : event.activityTaskCanceledEventAttributes
          ? 'cancelled'
          : 'failed';
    }
  }
  const pendingRetries: Partial<Record<SystemName, number>> = {};
  for (const activity of pending) {
    const known = byActivityId.get(activity.activityId ?? '');
    if (!known) continue;
    known.attempts = Math.max(1, activity.attempt ?? 1);
    pendingRetries[known.system] = (pendingRetries[known.system] ?? 0) + known.attempts - 1;
  }
  const attempts: Partial<Record<SystemName, number>> = {};
  const last = new Map<SystemName, VendorActivity>();
  for (const activity of activities) {
    const previous = last.get(activity.system);
    const sameStep = previous?.ended === 'failed' && previous.type === activity.type;
    attempts[activity.system] = (sameStep ? (attempts[activity.system] ?? 0) : 0) + activity.attempts;
    last.set(activity.system, activity);
  }

  const retrying: Partial<Record<SystemName, RetryState>> = {};
  for (const activity of pending) {
    const system = byActivityId.get(activity.activityId ?? '')?.system;
    if (!system) continue;
    const failure = activity.lastFailure
      ? await decodeOptionalFailureToOptionalError(converter, activity.lastFailure).catch(() => undefined)
      : undefined;
    const details = failureDetails(failure);
    const lastFailureAt = optionalTsToDate(activity.lastAttemptCompleteTime);
    const nextRetryAt = optionalTsToDate(activity.nextAttemptScheduleTime);
    retrying[system] = {
      activity: activity.activityType?.name ?? 'unknown',
      // The step's attempts, as `attempts` says: the same number in every view.
      attempt: attempts[system] ?? activity.attempt ?? 1,
      ...(failure
        ? {
            lastFailure: {
              reason: details.reason ?? failure.message,
              ...(details.status === undefined ? {} : { status: details.status }),
              ...(lastFailureAt ? { at: lastFailureAt.toISOString() } : {}),
            },
          }
        : {}),
      ...(nextRetryAt ? { nextRetryAt: nextRetryAt.toISOString() } : {}),
    };
  }
  return { retrying, attempts, pendingRetries };
}

/** The connectors put `{reason, status}` in an ApplicationFailure's first detail (connectors/*-errors.ts). */
function failureDetails(error: Error | undefined): { reason?: string; status?: number } {
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    const details = (current as { details?: unknown[] }).details?.[0] as
      | { reason?: unknown; status?: unknown }
      | undefined;
    if (details && typeof details === 'object') {
      return {
        reason: typeof details.reason === 'string' ? details.reason : undefined,
        status: typeof details.status === 'number' ? details.status : undefined,
      };
    }
    current = (current as { cause?: unknown }).cause;
  }
  return {};
}
