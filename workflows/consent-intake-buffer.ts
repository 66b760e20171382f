import {
  defineSignal,
  executeChild,
  proxyActivities,
  setHandler,
  sleep,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { ConsentTimings } from '../domain/consent.js';
import { type ConsentBatchItem, consentBatchWorkflowId } from '../domain/consent-batch.js';
import type { consentBatchWorkflow } from './consent-batch.js';
import { ledgerActivityOptions } from './erasure-activity-options.js';

/** One delivery's changes (a person's, each its own argument so the codec seals it with their data key). */
export const consentBufferedChangesSignal = defineSignal<ConsentBatchItem[]>('consentBufferedChanges');

export interface ConsentIntakeBufferInput {
  /** Who sends the changes (`mailchimp`): part of the workflow id, for the operator. */
  source: string;
  /** How long the window gathers changes before they go on, in milliseconds. */
  windowMs: number;
  /** People in a window from which the changes go through one batch workflow; fewer go person by person. */
  bulkFrom: number;
  timings: ConsentTimings;
}

/** The buffer of one source's window: deliveries in the same window meet in the same workflow. */
export const consentIntakeBufferWorkflowId = (source: string, windowMs: number, nowMs: number) =>
  `consent-intake-${source}-${Math.floor(nowMs / windowMs)}`;

/** Changes per batch workflow: within consentBatchLimit (1,000) with room for evidence. */
const changesPerBatch = 500;

/**
 * Gathers a burst of one bulk source's consent changes (Mailchimp's webhook deliveries) for a short window,
 * then sends them on (issue 21): `bulkFrom` people or more through batch workflows (child workflows of
 * workflows/consent-batch.ts, a person's changes kept in one batch), fewer each through the person's own
 * consent workflow, with the time the hub first recorded them. Each change keeps its own event id and
 * evidence. Changes that arrive while the window's changes go on are sent on in another round, never lost.
 */
export async function consentIntakeBufferWorkflow(input: ConsentIntakeBufferInput): Promise<number> {
  const arrived: ConsentBatchItem[] = [];
  setHandler(consentBufferedChangesSignal, (...items: ConsentBatchItem[]) => {
    arrived.push(...items);
  });
  const ledger = proxyActivities<Activities>({ ...ledgerActivityOptions, startToCloseTimeout: '10 minutes' });
  await sleep(input.windowMs);
  let sent = 0;
  for (;;) {
    const taken = arrived.splice(0);
    if (taken.length === 0) break;
    const people = new Map<string, ConsentBatchItem[]>();
    for (const item of taken) people.set(item.subjectKey, [...(people.get(item.subjectKey) ?? []), item]);
    if (people.size < input.bulkFrom) {
      // This history seals the changes: an erased person's shredding waits for it to close.
      await ledger.handConsentChangesToPeople(
        { source: input.source, holders: [workflowInfo().workflowId] },
        ...taken,
      );
    } else {
      const batches: ConsentBatchItem[][] = [];
      let current: ConsentBatchItem[] = [];
      for (const mine of people.values()) {
        if (current.length > 0 && current.length + mine.length > changesPerBatch) {
          batches.push(current);
          current = [];
        }
        current.push(...mine);
      }
      if (current.length > 0) batches.push(current);
      await Promise.all(
        batches.map((items) => {
          const batchId = uuid4();
          return executeChild<typeof consentBatchWorkflow>('consentBatchWorkflow', {
            workflowId: consentBatchWorkflowId(batchId),
            args: [{ batchId, timings: input.timings }, ...items],
          });
        }),
      );
    }
    sent += taken.length;
  }
  return sent;
}
