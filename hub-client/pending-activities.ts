import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  decodeFromPayloadsAtIndex,
  decodeOptionalFailureToOptionalError,
} from '@temporalio/common/lib/internal-non-workflow/index.js';
import { optionalTsToDate } from '@temporalio/common/lib/time.js';
import type { RetryState } from '../domain/operator.js';
import { type SystemName, systemNameSchema } from '../domain/systems.js';

/**
 * What the worker is doing right now, per system, from the workflow's pending activities: the attempt it is
 * on, the last failure (status, reason, when) and when the next attempt starts. The workflow's own state
 * only learns of a failure once retries stop, so without this a vendor answering 503 looks like a system
 * "running" on attempt 1 while the worker is on attempt 17.
 *
 * Pending activities carry no input, so each is matched to its system through the history: the
 * ActivityTaskScheduled event with the same activity id holds the call's input, whose `system` names it.
 * The history is read only when something is pending, and only until every pending activity is matched.
 */
export async function retryStatesOf(
  client: Client,
  handle: WorkflowHandle,
): Promise<Partial<Record<SystemName, RetryState>>> {
  const description = await handle.describe();
  const pending = description.raw.pendingActivities ?? [];
  if (pending.length === 0) return {};
  const converter = client.options.loadedDataConverter;
  const systemOf = new Map<string, SystemName>();
  const wanted = new Set(pending.map((activity) => activity.activityId ?? ''));
  const history = await handle.fetchHistory();
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    const id = scheduled?.activityId;
    if (!scheduled || !id || !wanted.has(id)) continue;
    try {
      const input = await decodeFromPayloadsAtIndex<{ system?: unknown }>(
        converter,
        0,
        scheduled.input?.payloads,
      );
      const system = systemNameSchema.safeParse(input?.system);
      if (system.success) systemOf.set(id, system.data);
    } catch {
      // An input this client cannot decode (another key): that activity's system stays unknown.
    }
  }
  const states: Partial<Record<SystemName, RetryState>> = {};
  for (const activity of pending) {
    const system = systemOf.get(activity.activityId ?? '');
    if (!system) continue;
    const failure = activity.lastFailure
      ? await decodeOptionalFailureToOptionalError(converter, activity.lastFailure).catch(() => undefined)
      : undefined;
    const details = failureDetails(failure);
    const lastFailureAt = optionalTsToDate(activity.lastAttemptCompleteTime);
    const nextRetryAt = optionalTsToDate(activity.nextAttemptScheduleTime);
    states[system] = {
      activity: activity.activityType?.name ?? 'unknown',
      attempt: activity.attempt ?? 1,
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
  return states;
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
