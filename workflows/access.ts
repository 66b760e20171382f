import { msToNumber } from '@temporalio/common';
import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type {
  AccessExportFiles,
  AccessOverallStatus,
  AccessReceipt,
  AccessStatusView,
  AccessSystemState,
  AccessWithdrawal,
  AccessWorkflowInput,
} from '../domain/access.js';
import type { SystemName } from '../domain/systems.js';
import {
  accessStatusQuery,
  accessSubjectErasedSignal,
  closeAccessSystemUpdate,
  retryAccessSystemUpdate,
} from './access-definitions.js';
import { crmNamesReader } from './crm-names.js';
import { ledgerActivityOptions, systemActivityOptions } from './erasure-activity-options.js';
import { assertNeedsAttention, assertOperatorAction, OperatorGate } from './operator-gate.js';
import { redactOperatorTextFor } from './operator-text.js';
import { followRequestDeadline } from './request-deadline.js';

const systems: SystemName[] = ['dynamics', 'mailchimp', 'google'];

/** Patch ids (Temporal's `patched`) of changes to this workflow's commands; see erasurePatches. */
export const accessPatches = {
  /** The receipt is written to the ledger (access_receipts) once the export is deleted. */
  receiptInLedger: 'access-receipt-in-ledger',
  /**
   * The person's erasure ends the request (accessSubjectErasedSignal). Requests started before it ignore the
   * signal and run to their export's expiry; the shredding of the person's data key waits for them.
   */
  endsWithErasure: 'access-ends-with-erasure',
} as const;

/**
 * An access and portability request (GDPR Art. 15 and 20): reads what every system holds about one person,
 * in parallel, each system with its own retries and the operator gate (retry or close) when it fails for
 * good; then writes one portable JSON document and an HTML report, encrypted, to the export store.
 *
 * The data never enters the history: each system's activity writes its holdings to the store and returns
 * counts; the only personal data here is the request's address, inside the encrypted input. The export
 * can be fetched until `exportTtl` has passed; a durable timer in this workflow then deletes it, and the
 * receipt (the workflow's result) says when.
 *
 * The person's erasure ends it at any point (`subjectErased`): what it gathered is deleted, unread systems
 * are `withdrawn`, and the receipt says `withdrawn_subject_erased`. Its payloads are sealed with the person's
 * data key, which the shredding destroys only once this workflow is closed: no replay ever needs it after.
 */
export async function accessWorkflow(input: AccessWorkflowInput): Promise<AccessReceipt> {
  const { requestId } = input;
  const endsWithErasure = patched(accessPatches.endsWithErasure);
  let erasure: { erasureRequestId: string; at: string } | undefined;
  let withdrawn: AccessWithdrawal | undefined;
  setHandler(accessSubjectErasedSignal, ({ erasureRequestId }) => {
    erasure ??= { erasureRequestId, at: new Date().toISOString() };
  });
  const state = Object.fromEntries(
    systems.map((system): [SystemName, AccessSystemState] => [system, { status: 'pending', attempts: 0 }]),
  ) as Record<SystemName, AccessSystemState>;
  let exportFiles: AccessExportFiles | undefined;
  let expiresAt: string | undefined;
  let deletedAt: string | undefined;

  const overall = (): AccessOverallStatus => {
    if (withdrawn) return 'withdrawn';
    if (deletedAt) return 'expired';
    if (exportFiles) return 'ready';
    return systems.some((s) => state[s].status === 'needs_attention') ? 'needs_attention' : 'running';
  };
  const view = (): AccessStatusView => ({
    requestId,
    subjectKey: input.subjectKey,
    status: overall(),
    requestedAt: input.request.requestedAt,
    requestedBy: input.request.requestedBy,
    ...(input.request.receivedAt ? { receivedAt: input.request.receivedAt } : {}),
    systems: state,
    ...(exportFiles ? { export: exportFiles } : {}),
    ...(expiresAt ? { expiresAt } : {}),
    ...(deletedAt ? { deletedAt } : {}),
    operatorActions: [...gate.log],
    ...(withdrawn ? { withdrawn } : {}),
    ...(input.requestedUnder ? { requestedUnder: input.requestedUnder } : {}),
  });
  const gate = new OperatorGate(input.timings.operatorDeadline, () => {});

  setHandler(accessStatusQuery, view);
  followRequestDeadline();
  setHandler(
    retryAccessSystemUpdate,
    ({ system, operator }) => {
      gate.request(system, { kind: 'retry' }, operator);
      return view();
    },
    { validator: (update) => assertOperatorAction(state, update) },
  );
  setHandler(
    closeAccessSystemUpdate,
    ({ system, reason, operator }) =>
      gate.close(system, reason, operator, () => assertNeedsAttention(state, system), view),
    { validator: (update) => assertOperatorAction(state, update) },
  );

  const subject = {
    email: input.request.email,
    gaClientIds: [...input.request.gaClientIds],
    gaUserIds: [...input.request.gaUserIds],
  };
  // The CRM's names for the person, read only when an operator's text is to be redacted of them: an
  // access request reads the CRM for its export, but that export never passes through the workflow.
  const crmNames: string[] = [];
  redactOperatorTextFor(
    gate,
    () => ({
      email: subject.email,
      names: crmNames,
      identifiers: [...subject.gaClientIds, ...subject.gaUserIds],
    }),
    crmNamesReader({
      subjectKey: input.subjectKey,
      subject: () => subject,
      timings: input.timings,
      into: crmNames,
    }),
  );
  // Cancelled (erasure), an activity is waited for until it has stopped: no file is written after the
  // export was deleted.
  const untilStopped = { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };
  const local = proxyActivities<Activities>({ ...ledgerActivityOptions, ...untilStopped });
  let readyAt: string | undefined;

  const work = new CancellationScope();
  const answered = work.run(async () => {
    await Promise.all(
      systems.map(async (system) => {
        const acts = proxyActivities<Activities>({
          ...systemActivityOptions(system, input.timings),
          ...untilStopped,
        });
        const outcome = await gate.run(system, state[system], () =>
          acts.collectAccessInSystem({ system, subjectKey: input.subjectKey, subject, requestId }),
        );
        if (!outcome.done) return;
        state[system].status = 'collected';
        state[system].counts = outcome.value.counts;
        state[system].recordCount = outcome.value.recordCount;
        gate.finish(state[system]);
      }),
    );

    exportFiles = await local.assembleAccessExport({
      requestId,
      subjectKey: input.subjectKey,
      subject,
      requestedAt: input.request.requestedAt,
      systems: Object.fromEntries(
        systems.map((system) => {
          const { status, failure, closedReason } = state[system];
          const reason = failure?.reason ?? closedReason;
          return [system, { status, ...(reason ? { reason } : {}) }];
        }),
      ) as Record<SystemName, { status: string; reason?: string }>,
    });
    // A system's counts are what the export holds from it: Google's include the GA client and user ids the
    // hub knows (from the request and the CRM), which only the assembly puts together.
    for (const system of systems) {
      const counts = exportFiles.counts[system];
      if (state[system].status !== 'collected' || !counts) continue;
      state[system].counts = counts;
      state[system].recordCount = Object.values(counts).reduce((sum, n) => sum + n, 0);
    }
    const ttlMs = msToNumber(input.timings.exportTtl as '1s');
    expiresAt = new Date(Date.now() + ttlMs).toISOString();
    readyAt = new Date().toISOString();
    // The person's request is answered once the copy can be fetched: it leaves the deadline queue now, though
    // this workflow stays open until the copy is deleted.
    await local.completeAccessRequest({ requestId, completedAt: readyAt });

    // A durable timer: the export is deleted when its time is up, even across worker restarts.
    await sleep(ttlMs);
  });

  if (endsWithErasure) {
    const erased = condition(() => erasure !== undefined).then(() => true);
    if (await Promise.race([answered.then(() => false), erased])) {
      work.cancel();
      await answered.catch((error: unknown) => {
        if (!isCancellation(error)) throw error;
      });
      return endWithErasure(erasure as NonNullable<typeof erasure>);
    }
  } else await answered;

  const deleted = await local.deleteAccessExport({ requestId, subjectKey: input.subjectKey });
  deletedAt = deleted.at;

  const failed = systems.some((s) => state[s].status !== 'collected');
  const receipt: AccessReceipt = {
    kind: 'access',
    ...view(),
    outcome: failed ? 'completed_with_failures' : 'completed',
    // Set once the export was written, which the timer that got here follows.
    completedAt: readyAt ?? deleted.at,
  };
  // The receipt outlives the workflow's history in the ledger; histories from before this replay without it.
  if (patched(accessPatches.receiptInLedger)) await local.recordAccessReceipt(receipt);
  return receipt;

  /**
   * The person was erased: what was gathered goes (a fetch answers that it went with the erasure), systems
   * not read yet are `withdrawn`, the request leaves the deadline queue, and the receipt records why.
   */
  async function endWithErasure({ erasureRequestId, at }: { erasureRequestId: string; at: string }) {
    const erased = await local.eraseAccessExportOfErased({ requestId, subjectKey: input.subjectKey });
    if (exportFiles) deletedAt = erased.at;
    for (const system of systems) {
      if (!['collected', 'failed', 'closed_by_operator'].includes(state[system].status)) {
        state[system].status = 'withdrawn';
        state[system].resumesAt = undefined;
      }
    }
    withdrawn = { reason: 'subject_erased', at, erasureRequestId };
    if (!readyAt) await local.completeAccessRequest({ requestId, completedAt: at });
    const receipt: AccessReceipt = {
      kind: 'access',
      ...view(),
      outcome: 'withdrawn_subject_erased',
      completedAt: readyAt ?? at,
    };
    await local.recordAccessReceipt(receipt);
    return receipt;
  }
}
