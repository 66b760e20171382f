import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { type ConsentChangeRequest, consentChangeRequestSchema } from '../domain/consent.js';
import {
  type ConsentBatchItem,
  type ConsentBatchResult,
  consentBatchByteLimit,
  consentBatchBytes,
  consentBatchLimit,
  consentBatchWorkflowId,
} from '../domain/consent-batch.js';
import { redactSubject } from '../privacy/redaction.js';
import { adoptLegacySubjectKeys, subjectKeyFor } from '../privacy/subject-key.js';
import type { consentBatchWorkflow } from '../workflows/consent-batch.js';
import { consentWorkflowId } from '../workflows/consent-definitions.js';
import {
  consentBufferedChangesSignal,
  type consentIntakeBufferWorkflow,
  consentIntakeBufferWorkflowId,
} from '../workflows/consent-intake-buffer.js';
import {
  type ConsentClientContext,
  type ConsentIntakeLedger,
  isRekeyedAway,
  recordConsentChange,
} from './consent.js';
import { redactOperatorText } from './operator-text.js';
import { receiptTimes, registerDeadline } from './request-deadlines.js';
import { GrantRefusedAfterErasure } from './request-errors.js';

/** One change of a batch, accepted: where to follow it, as `recordConsentChange` answers for one. */
export interface BatchItemAccepted {
  index: number;
  eventId: string;
  subjectKey: string;
  receivedAt: string;
  dueAt: string;
}

/** One change of a batch, refused before anything was recorded: why, in words free of the address. */
export interface BatchItemRefused {
  index: number;
  refused: 'erased' | 'invalid';
  subjectKey?: string;
  reason: string;
}

export interface ConsentBatchAccepted {
  batchId: string;
  /** Absent when every change was refused: then nothing was started. */
  workflowId?: string;
  accepted: BatchItemAccepted[];
  refused: BatchItemRefused[];
}

/**
 * Thrown for a batch of more than `consentBatchLimit` changes, or whose changes pass `consentBatchByteLimit`
 * bytes (Temporal would refuse to start it), before anything is recorded.
 */
export class ConsentBatchTooLarge extends Error {
  override readonly name = 'ConsentBatchTooLarge';
  constructor(
    readonly size: number,
    readonly bytes?: number,
  ) {
    super(
      bytes === undefined
        ? `A consent batch holds at most ${consentBatchLimit} changes; this one has ${size}.`
        : `A consent batch carries at most ${consentBatchByteLimit} bytes of changes; these ${size} changes take ${bytes} (long evidence): send them in smaller batches. Nothing was recorded.`,
    );
  }
}

/**
 * Hands many consent changes (already parsed one by one, each with its position in the caller's list) to one
 * batch workflow (workflows/consent-batch.ts), which writes opt-outs with the vendors' batch calls and hands
 * everything else to the people's own workflows. Each change gets its event id and, with the ledger, its
 * registered deadline, as `recordConsentChange` gives one; with the ledger a grant for an erased person is
 * refused here (`refused: 'erased'`), as the single route refuses it. Throws ConsentBatchTooLarge past
 * 1,000 changes or `consentBatchByteLimit` bytes of changes. The batch id is new unless given (a caller that may repeat itself passes a stable one: the
 * workflow id is derived from it, so a repeat starts nothing twice).
 */
export async function recordConsentBatch(
  context: ConsentClientContext,
  /** `eventId`: a stable id from a caller that may repeat itself (reconciliation), so a repeat is a no-op. */
  changes: { index: number; change: ConsentChangeRequest; eventId?: string }[],
  options: {
    ledger?: ConsentIntakeLedger;
    batchId?: string;
  } = {},
): Promise<ConsentBatchAccepted> {
  if (changes.length > consentBatchLimit) throw new ConsentBatchTooLarge(changes.length);
  const batchId = options.batchId ?? randomUUID();
  const accepted: (BatchItemAccepted & { times: { receivedAt: string; dueAt: string } })[] = [];
  const refused: BatchItemRefused[] = [];
  const items: ConsentBatchItem[] = [];
  const adopted = new Set<string>();
  /** Changes the single route took (a re-keyed person's), already registered. */
  const direct: BatchItemAccepted[] = [];
  const recordedAt = new Date().toISOString();
  for (const { index, change: raw, eventId: stableEventId } of changes) {
    const change = consentChangeRequestSchema.parse(raw);
    const subjectKey = subjectKeyFor(change.email, context.subjectKeySecret);
    let times: { receivedAt: string; dueAt: string };
    try {
      times = receiptTimes(context, change.receivedAt);
    } catch (error) {
      refused.push({
        index,
        refused: 'invalid',
        reason: error instanceof Error ? error.message : 'receivedAt',
      });
      continue;
    }
    if (options.ledger && (await isRekeyedAway(options.ledger, subjectKey))) {
      // An address a rectification moved away from: the change is the person's under their key now, and the
      // single route (rekeyedSubject) finds that key and their address now.
      try {
        const one = await recordConsentChange(context, change, stableEventId, {
          ledger: options.ledger,
          recordedAt,
        });
        direct.push({
          index,
          eventId: one.eventId,
          subjectKey: one.subjectKey,
          receivedAt: one.receivedAt,
          dueAt: one.dueAt,
        });
      } catch (error) {
        if (!(error instanceof GrantRefusedAfterErasure)) throw error;
        refused.push({ index, refused: 'erased', reason: error.message });
      }
      continue;
    }
    if (options.ledger && !adopted.has(subjectKey)) {
      // A tombstone (or evidence) recorded under another spelling's older key is moved to this key first.
      await adoptLegacySubjectKeys(options.ledger, change.email, context.subjectKeySecret);
      adopted.add(subjectKey);
    }
    if (change.decision === 'granted' && options.ledger) {
      const tombstone = await options.ledger.getTombstone(subjectKey);
      if (tombstone) {
        refused.push({
          index,
          refused: 'erased',
          subjectKey,
          reason: `The grant is refused: subject ${subjectKey} was erased at ${tombstone.erasedAt}, and an erased person's grants are refused (withdrawals still apply). Nothing was recorded.`,
        });
        continue;
      }
    }
    const eventId = stableEventId ?? randomUUID();
    const note = change.evidence.note
      ? await redactOperatorText(
          context.client.workflow.getHandle(consentWorkflowId(subjectKey)),
          redactSubject(change.evidence.note, { email: change.email }),
        )
      : undefined;
    items.push({
      subjectKey,
      email: change.email,
      change: {
        eventId,
        purpose: change.purpose,
        decision: change.decision,
        occurredAt: new Date(change.occurredAt).toISOString(),
        recordedAt,
        source: change.source,
        evidence: note ? { ...change.evidence, note } : change.evidence,
      },
    });
    accepted.push({ index, eventId, subjectKey, ...times, times });
  }
  if (items.length === 0) return { batchId, accepted: direct, refused };
  // Checked before the start, which Temporal would refuse past its blob limit with an error a retry repeats.
  const bytes = items.reduce((sum, item) => sum + consentBatchBytes(item), 0);
  if (bytes > consentBatchByteLimit) throw new ConsentBatchTooLarge(items.length, bytes);
  const workflowId = consentBatchWorkflowId(batchId);
  await context.client.workflow.start<typeof consentBatchWorkflow>('consentBatchWorkflow', {
    taskQueue: context.taskQueue,
    workflowId,
    args: [{ batchId, timings: context.consentTimings }, ...items],
  });
  const registered: BatchItemAccepted[] = [];
  for (const { times, ...item } of accepted) {
    const deadline = await registerDeadline(
      options.ledger,
      { requestId: item.eventId, kind: 'consent', subjectKey: item.subjectKey },
      times,
    );
    registered.push({ ...item, receivedAt: deadline.receivedAt, dueAt: deadline.dueAt });
  }
  const acceptedAll = [...registered, ...direct].sort((a, b) => a.index - b.index);
  return { batchId, workflowId, accepted: acceptedAll, refused };
}

/**
 * How a bulk source's deliveries are gathered by default (issue 21): a window of this many milliseconds, and
 * from how many people in it they go through a batch workflow rather than each person's own. A process's
 * own come from CONSENT_HUB_INTAKE_BUFFER_WINDOW and CONSENT_HUB_WEBHOOK_BULK_FROM (its client context).
 */
export const intakeBuffer = { windowMs: 2_000, bulkFrom: 5 } as const;

/**
 * Hands one delivery's changes of a bulk source (a Mailchimp webhook) to the source's buffer for the current
 * window (workflows/consent-intake-buffer.ts) with signal-with-start, so that a burst of deliveries is
 * written together through the bulk path. Durable once this returns. The changes keep their event ids
 * (stable ones from a caller that may repeat itself) and `recordedAt`.
 */
export async function bufferConsentChanges(
  context: ConsentClientContext,
  source: string,
  items: ConsentBatchItem[],
  options: { windowMs: number; bulkFrom: number } = context.intakeBuffer ?? intakeBuffer,
): Promise<void> {
  if (items.length === 0) return;
  await context.client.workflow.signalWithStart<typeof consentIntakeBufferWorkflow, ConsentBatchItem[]>(
    'consentIntakeBufferWorkflow',
    {
      taskQueue: context.taskQueue,
      workflowId: consentIntakeBufferWorkflowId(source, options.windowMs, Date.now()),
      args: [{ source, ...options, timings: context.consentTimings }],
      signal: consentBufferedChangesSignal,
      signalArgs: items,
    },
  );
}

/** Where a batch stands: `running`, or `completed` with its result; undefined when there is no such batch. */
export async function consentBatchState(
  context: Pick<ConsentClientContext, 'client'>,
  batchId: string,
): Promise<
  | { batchId: string; state: 'running' }
  | { batchId: string; state: 'completed'; result: ConsentBatchResult }
  | { batchId: string; state: 'failed'; reason: string }
  | undefined
> {
  const handle = context.client.workflow.getHandle<typeof consentBatchWorkflow>(
    consentBatchWorkflowId(batchId),
  );
  let status: string;
  try {
    status = (await handle.describe()).status.name;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
  if (status === 'RUNNING') return { batchId, state: 'running' };
  if (status === 'COMPLETED') return { batchId, state: 'completed', result: await handle.result() };
  return { batchId, state: 'failed', reason: `the batch workflow ended ${status.toLowerCase()}` };
}

/** Waits for a batch's workflow and answers its result (per person: bulk, handed over, or settled). */
export async function consentBatchResult(
  context: Pick<ConsentClientContext, 'client'>,
  batchId: string,
): Promise<ConsentBatchResult> {
  return context.client.workflow
    .getHandle<typeof consentBatchWorkflow>(consentBatchWorkflowId(batchId))
    .result();
}
