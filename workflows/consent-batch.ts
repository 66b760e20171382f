import { ActivityFailure, ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { ConsentApplicationOutcome } from '../domain/consent.js';
import {
  type BulkPersonOutcome,
  type BulkSystem,
  bulkSystems,
  type ConsentBatchHeader,
  type ConsentBatchItem,
  type ConsentBatchResult,
} from '../domain/consent-batch.js';
import { ledgerActivityOptions, systemActivityOptions } from './erasure-activity-options.js';

/** People per vendor activity unless the batch says otherwise: Mailchimp's batch call takes 500 members. */
const defaultChunkSize = 500;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

/** Why a vendor activity failed past its retries, from Temporal's failure (already free of personal data). */
function reasonOf(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure || cause instanceof Error) return cause.message;
  return 'the bulk write failed';
}

/**
 * The bulk path for many people's consent changes at once (issue 21): a wave of opt-outs shares a handful of
 * workflow tasks and activities instead of costing each person their own workflow, while each person's
 * evidence stays exact.
 *
 * 1. One activity takes every change in: it appends each to the ledger with its evidence and computes each
 *    person's decisions in force, or hands the person to their own consent workflow (a grant, a statistics
 *    withdrawal, an open consent workflow, a running erasure).
 * 2. Per system with a documented batch write (Dynamics, Mailchimp), per chunk of people, one activity reads
 *    and plans each person, writes them all in the vendor's batches and records each person's outcome in
 *    the ledger as the per-person path records it.
 * 3. Anyone a bulk write did not serve (a failed write, a record gone, a write the batch cannot express, a
 *    whole call that failed past its retries) is handed to their own consent workflow for those systems, so
 *    its retries and operator gate apply; the result says so.
 *
 * Each item is its own argument, sealed with its person's data key; the workflow id, its result and its
 * failures hold batch and subject keys only.
 */
export async function consentBatchWorkflow(
  header: ConsentBatchHeader,
  ...items: ConsentBatchItem[]
): Promise<ConsentBatchResult> {
  // The intake and the hand-over touch up to 1,000 people (ledger writes, workflow look-ups, signals): more
  // than the one minute a single ledger write gets; a retry repeats them whole, which is idempotent.
  const ledger = proxyActivities<Activities>({ ...ledgerActivityOptions, startToCloseTimeout: '10 minutes' });
  // The histories that seal the items (this one, and the buffer that started it): an erased person's data key
  // is shredded only once they have closed.
  const { workflowId, parent } = workflowInfo();
  const holders = [workflowId, ...(parent ? [parent.workflowId] : [])];
  const routes = await ledger.takeInConsentBatch({ batchId: header.batchId, holders }, ...items);
  const emailOf = new Map(items.map((item) => [item.subjectKey, item.email]));
  const bulk = routes.flatMap((r) => (r.route === 'bulk' ? [r] : []));
  const written = new Map<string, Partial<Record<BulkSystem, ConsentApplicationOutcome>>>();
  const handed = new Map<string, Partial<Record<BulkSystem, string>>>();
  const created: string[] = [];

  const record = (system: BulkSystem, answer: BulkPersonOutcome) => {
    if ('handOff' in answer) {
      handed.set(answer.subjectKey, { ...handed.get(answer.subjectKey), [system]: answer.handOff });
      if (answer.created) created.push(answer.subjectKey);
    } else {
      written.set(answer.subjectKey, { ...written.get(answer.subjectKey), [system]: answer.outcome });
    }
  };

  await Promise.all(
    bulkSystems.flatMap((system) => {
      const vendor = proxyActivities<Activities>(systemActivityOptions(system, header.timings));
      return chunks(bulk, header.chunkSize ?? defaultChunkSize).map(async (part) => {
        try {
          const answers = await vendor.applyConsentBatchInSystem(
            { batchId: header.batchId, system },
            ...part.map((person) => ({
              subjectKey: person.subjectKey,
              email: emailOf.get(person.subjectKey) ?? '',
              decisions: person.decisions,
              changed: person.changed,
              inForce: person.inForce,
            })),
          );
          for (const answer of answers) record(system, answer);
        } catch (error) {
          // Past its retries (or refused for good): nobody of the chunk is lost, each goes to their own
          // workflow for this system.
          const reason = `the bulk write to ${system} failed: ${reasonOf(error)}`;
          for (const person of part) record(system, { subjectKey: person.subjectKey, handOff: reason });
        }
      });
    }),
  );

  for (const part of chunks([...handed.keys()], defaultChunkSize)) {
    await ledger.handOffConsentBatch(
      {
        batchId: header.batchId,
        reason: `consent batch ${header.batchId}: the bulk write did not serve this person`,
        systems: Object.fromEntries(
          part.map((key) => [key, Object.keys(handed.get(key) ?? {}) as BulkSystem[]]),
        ),
      },
      ...part.map((subjectKey) => ({ subjectKey, email: emailOf.get(subjectKey) ?? '' })),
    );
  }

  return {
    batchId: header.batchId,
    people: routes.length,
    changes: items.length,
    results: routes.map((route) => {
      const systems = written.get(route.subjectKey);
      const handedOff = handed.get(route.subjectKey);
      return {
        subjectKey: route.subjectKey,
        eventIds: route.eventIds,
        route: route.route,
        ...(route.route === 'bulk' ? {} : { reason: route.reason }),
        ...(systems ? { systems } : {}),
        ...(handedOff ? { handedOff } : {}),
      };
    }),
    createdInMailchimp: created,
  };
}
