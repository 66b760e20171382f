/**
 * One workflow history as a timeline for the benchmark's slowest people: each event's type and its seconds
 * since the wave started, with what explains a wait (which task queue a workflow task was scheduled on,
 * sticky or normal, its attempt; a timeout's kind; an activity's type, attempt and failure), and the gaps
 * between consecutive events longer than `gapSeconds`. Names and Temporal's own fields only: no payloads.
 */
import type { temporal } from '@temporalio/proto';
import proto from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = proto.temporal.api.enums.v1.EventType;
const TimeoutType = proto.temporal.api.enums.v1.TimeoutType;
const TaskQueueKind = proto.temporal.api.enums.v1.TaskQueueKind;

export interface TimelineEntry {
  /** Seconds since the wave started (the event's server time). */
  at: number;
  type: string;
  detail?: string;
}

export interface HistorySummary {
  events: TimelineEntry[];
  /** Waits longer than the threshold: the event that ended the wait, and the wait in seconds. */
  gaps: { after: TimelineEntry; before: TimelineEntry; seconds: number }[];
}

const millis = (time: HistoryEvent['eventTime']) =>
  time ? Number(time.seconds ?? 0) * 1000 + (time.nanos ?? 0) / 1e6 : Number.NaN;
const round2 = (value: number) => Math.round(value * 100) / 100;
const typeName = (type: HistoryEvent['eventType']) =>
  String((EventType as unknown as Record<number, string>)[Number(type)] ?? type).replace(/^EVENT_TYPE_/, '');
const timeoutName = (type: number | null | undefined) =>
  String((TimeoutType as unknown as Record<number, string>)[Number(type)] ?? type).replace(
    /^TIMEOUT_TYPE_/,
    '',
  );

function detailOf(event: HistoryEvent, activityTypes: Map<string, string>): string | undefined {
  const scheduled = event.workflowTaskScheduledEventAttributes;
  if (scheduled) {
    const kind = scheduled.taskQueue?.kind === TaskQueueKind.TASK_QUEUE_KIND_STICKY ? 'sticky' : 'normal';
    return `${kind} queue, attempt ${scheduled.attempt ?? 1}`;
  }
  const timedOut = event.workflowTaskTimedOutEventAttributes;
  if (timedOut) return timeoutName(timedOut.timeoutType);
  const failed = event.workflowTaskFailedEventAttributes;
  if (failed) return `cause ${failed.cause}`;
  const activity = event.activityTaskScheduledEventAttributes;
  if (activity) return `${activity.activityType?.name} on ${activity.taskQueue?.name}`;
  const started = event.activityTaskStartedEventAttributes;
  if (started)
    return `${activityTypes.get(String(started.scheduledEventId))} attempt ${started.attempt ?? 1}${
      started.lastFailure?.message ? ` after: ${started.lastFailure.message.slice(0, 120)}` : ''
    }`;
  const activityFailed = event.activityTaskFailedEventAttributes;
  if (activityFailed) return activityFailed.failure?.message?.slice(0, 120) ?? undefined;
  const activityTimedOut = event.activityTaskTimedOutEventAttributes;
  if (activityTimedOut) return activityTimedOut.failure?.message?.slice(0, 120) ?? undefined;
  const timer = event.timerStartedEventAttributes;
  if (timer) return `${Number(timer.startToFireTimeout?.seconds ?? 0)} s`;
  const signal = event.workflowExecutionSignaledEventAttributes;
  if (signal) return signal.signalName ?? undefined;
  const marker = event.markerRecordedEventAttributes;
  if (marker) return marker.markerName ?? undefined;
  return undefined;
}

/** The timeline of `events` relative to `waveStartedAt` (ms since the epoch), gaps over `gapSeconds`. */
export function summariseHistory(
  events: HistoryEvent[],
  waveStartedAt: number,
  gapSeconds = 5,
): HistorySummary {
  const activityTypes = new Map<string, string>();
  const timeline: TimelineEntry[] = [];
  for (const event of events) {
    const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) activityTypes.set(String(event.eventId), name);
    const detail = detailOf(event, activityTypes);
    timeline.push({
      at: round2((millis(event.eventTime) - waveStartedAt) / 1000),
      type: typeName(event.eventType),
      ...(detail ? { detail } : {}),
    });
  }
  const gaps: HistorySummary['gaps'] = [];
  for (let i = 1; i < timeline.length; i++) {
    const before = timeline[i - 1] as TimelineEntry;
    const after = timeline[i] as TimelineEntry;
    const seconds = round2(after.at - before.at);
    if (seconds > gapSeconds) gaps.push({ before, after, seconds });
  }
  return { events: timeline, gaps };
}

/** Lines for a terminal: the timeline, then the gaps. */
export function formatSummary(title: string, summary: HistorySummary): string[] {
  const line = (e: TimelineEntry) =>
    `${e.at.toFixed(2).padStart(8)} s  ${e.type}${e.detail ? `  (${e.detail})` : ''}`;
  return [
    title,
    ...summary.events.map((e) => `  ${line(e)}`),
    summary.gaps.length === 0
      ? '  no gap over the threshold'
      : `  gaps: ${summary.gaps.map((g) => `${g.seconds} s before ${g.after.type} at ${g.after.at} s`).join('; ')}`,
  ];
}
