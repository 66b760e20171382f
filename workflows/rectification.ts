import {
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { SubjectIdentifiers, VendorRecordRef } from '../connectors/connector.js';
import type { SystemName } from '../domain/erasure.js';
import type {
  RectifiableField,
  RectificationReceipt,
  RectificationRefusalCode,
  RectificationStatusView,
  RectificationWorkflowInput,
  SystemRectificationState,
  SystemRectificationStatus,
} from '../domain/rectification.js';
import { maxRectificationRecords } from '../domain/rectification-bound.js';
import { consentRekeySignal, consentWorkflowId } from './consent-definitions.js';
import { crmNamesReader } from './crm-names.js';
import { ledgerActivityOptions, systemActivityOptions } from './erasure-activity-options.js';
import { closeSystemUpdate, retrySystemUpdate } from './erasure-definitions.js';
import { assertNeedsAttention, assertOperatorAction, OperatorGate } from './operator-gate.js';
import { redactOperatorTextFor } from './operator-text.js';
import { rectificationStatusQuery } from './rectification-definitions.js';
import { followRequestDeadline } from './request-deadline.js';

const systems: SystemName[] = ['dynamics', 'mailchimp', 'google'];

/** Patch ids (Temporal's `patched`) of changes to this workflow's commands; see consent.ts's. */
export const rectificationPatches = {
  /** Issue 18: after the ledger's re-key, the consent workflow still running under the old key hands over. */
  consentHandOver: 'rectification-consent-handover',
  /**
   * An erased person's ledger stays under the erased address: a rectification after (or racing) their erasure
   * re-keys nothing, so the tombstone keeps refusing grants for, and re-erasing, the address vendors held.
   */
  keepErasedKey: 'rectification-keeps-erased-key',
  /**
   * Issue 18: every system's records are harvested under the old address, and the new address checked
   * against everyone else's records in every system, before anything is written anywhere; every attempt
   * then writes exactly the harvested records, so a retry or a conflict cannot make two people one.
   */
  harvestFirst: 'rectification-harvest-first',
  /**
   * Issue 18: a rectification of a person whose erasure runs writes nothing (refused, as a conflict is), and
   * one whose erasure began while it wrote re-keys nothing and asks for the erasure of the new address too,
   * so the records it moved there are not missed by the erasure searching the old one.
   */
  refuseDuringErasure: 'rectification-refuses-during-erasure',
} as const;

/** Who started a rectification for an address Mailchimp already moved (api/routes/mailchimp-webhook-routes.ts). */
const mailchimpAddressChange = 'mailchimp:upemail';

/**
 * Tells the consent workflow running under the old key (if any) that the person is now `newSubjectKey`: it
 * hands its pending work to the new key's workflow and ends (consent.ts). A signal from the workflow itself,
 * so it is sent once, in order after the re-key; Temporal refuses it when no such workflow is running.
 */
async function handOverConsent(
  oldSubjectKey: string,
  signal: { newSubjectKey: string; newEmail: string; requestId: string },
): Promise<'handed_over' | 'none_running'> {
  try {
    await getExternalWorkflowHandle(consentWorkflowId(oldSubjectKey)).signal(consentRekeySignal, signal);
    return 'handed_over';
  } catch (error) {
    if (isCancellation(error)) throw error;
    // The only refusal of a signal to an existing namespace: no open run with that id.
    return 'none_running';
  }
}
const reached: readonly SystemRectificationStatus[] = ['rectified', 'not_found', 'not_applicable'];

/**
 * Rectifies a person's data (GDPR Art. 16) in every system, each through the operator gate (a Mailchimp
 * "Member Exists" waits for an operator), and keeps a receipt of the fields changed where, with keyed
 * hashes of the values before. An email change then re-keys the person in the ledger (consent events,
 * decisions, tombstone, receipts and holds follow the new address), once no system still holds the old one.
 */
export async function rectificationWorkflow(
  input: RectificationWorkflowInput,
): Promise<RectificationReceipt> {
  // Chosen at intake since the workflow id follows from it; a rectification started before that is known by
  // its first run id.
  const requestId = input.requestId ?? workflowInfo().firstExecutionRunId;
  const state = Object.fromEntries(
    systems.map((system): [SystemName, SystemRectificationState] => [
      system,
      { status: 'pending', records: [], attempts: 0 },
    ]),
  ) as Record<SystemName, SystemRectificationState>;
  const gate = new OperatorGate(input.timings.operatorDeadline, () => {});
  const view = (): RectificationStatusView => ({
    requestId,
    subjectKey: input.subjectKey,
    requestedAt: input.request.requestedAt,
    requestedBy: input.request.requestedBy,
    status: systems.some((s) => state[s].status === 'needs_attention') ? 'needs_attention' : 'running',
    fields: (Object.keys(input.request.set) as RectifiableField[]).filter(
      (field) => input.request.set[field] !== undefined,
    ),
    systems: state,
    ...(gate.log.length > 0 ? { operatorActions: [...gate.log] } : {}),
  });
  setHandler(rectificationStatusQuery, view);
  setHandler(
    retrySystemUpdate,
    ({ system, operator }) => {
      gate.request(system, { kind: 'retry' }, operator);
      return view() as never;
    },
    { validator: (update) => assertOperatorAction(state, update) },
  );
  setHandler(
    closeSystemUpdate,
    ({ system, reason, operator }) =>
      gate.close(
        system,
        reason,
        operator,
        () => assertNeedsAttention(state, system),
        () => view() as never,
      ),
    { validator: (update) => assertOperatorAction(state, update) },
  );
  followRequestDeadline();

  const { set } = input.request;
  const subject: SubjectIdentifiers = { email: input.request.email, gaClientIds: [], gaUserIds: [] };
  // The person as they were and as they are to be: the old and the new address, the new names and the names
  // the systems held before (known once a system has answered), each redacted with either address.
  const newNames = [set.firstname, set.lastname].filter((name): name is string => Boolean(name));
  const oldNames: string[] = [];
  // Read only when an operator's text is to be redacted and Dynamics has not answered with them: the
  // person's row is found by the address it had (the one the request names).
  const readOldNames = crmNamesReader({
    subjectKey: input.subjectKey,
    subject: () => subject,
    timings: input.timings,
    into: oldNames,
  });
  // The harvest: each system's records of the person (kept here, so every attempt writes those and no
  // other) and whether anyone else already holds the new address, anywhere, before any write.
  const harvested: Partial<Record<SystemName, VendorRecordRef[]>> = {};
  let refusal: string | undefined;
  let refusalCode: RectificationRefusalCode | undefined;
  const harvestFirst = patched(rectificationPatches.harvestFirst);
  // With the harvest first, Dynamics is `running` from its harvest until its write answers with the names.
  let dynamicsNamesRead = false;
  redactOperatorTextFor(
    gate,
    () => {
      const names = [...newNames, ...oldNames];
      return [{ email: input.request.email, names }, ...(set.email ? [{ email: set.email, names }] : [])];
    },
    async () => {
      if (
        state.dynamics.status === 'pending' ||
        state.dynamics.status === 'needs_attention' ||
        (harvestFirst && !dynamicsNamesRead)
      )
        return readOldNames();
      return true;
    },
  );
  const ledger = proxyActivities<Activities>(ledgerActivityOptions);
  const guardErasure = harvestFirst && patched(rectificationPatches.refuseDuringErasure);
  if (harvestFirst) {
    const conflicted: SystemName[] = [];
    const tooMany: string[] = [];
    await Promise.all(
      systems.map(async (system) => {
        const activities = proxyActivities<Activities>(systemActivityOptions(system, input.timings));
        const outcome = await gate.run(system, state[system], () =>
          activities.planRectification({
            system,
            requestId,
            subjectKey: input.subjectKey,
            subject,
            ...(set.email ? { newEmail: set.email } : {}),
            newAddressIsTheirs:
              system === 'mailchimp' && input.request.requestedBy === mailchimpAddressChange,
          }),
        );
        if (!outcome.done) return;
        harvested[system] = outcome.value.own;
        if (outcome.value.conflicts > 0) conflicted.push(system);
        // Harvests recorded before the bound never carry `tooMany`: they replay as they ran.
        if (outcome.value.tooMany) tooMany.push(`${outcome.value.tooMany} records in ${system}`);
      }),
    );
    const refuseAll = (type: string, code: RectificationRefusalCode, reason: string) => {
      refusal = reason;
      refusalCode = code;
      for (const system of systems) {
        if (harvested[system] === undefined) continue;
        Object.assign(state[system], { status: 'failed', failure: { type, reason } });
        gate.finish(state[system]);
      }
    };
    if (tooMany.length > 0) {
      refuseAll(
        'RectificationTooLarge',
        'too_many_records',
        `refused: the person holds ${tooMany.join(' and ')}, more than the ${maxRectificationRecords} a rectification changes in one system; nothing was changed in any system and the ledger was not re-keyed (merge or clean up those records first, then rectify again)`,
      );
    } else if (conflicted.length > 0) {
      const names = systems.filter((s) => conflicted.includes(s)).join(' and ');
      refuseAll(
        'RectificationConflict',
        'vendor_conflict',
        `refused: the new address is already held by another person's record(s) in ${names}; nothing was changed in any system and the ledger was not re-keyed (merge or correct those records first)`,
      );
    } else if (guardErasure && (await ledger.erasureRunningFor(input.subjectKey))) {
      refuseAll(
        'ErasureRunning',
        'erasure_running',
        'refused: an erasure of this person is running; nothing was changed in any system and the ledger was not re-keyed (the erasure deletes the records at the address it searched; rectify afterwards only what a hold or a failure kept)',
      );
    }
  }
  await Promise.all(
    systems.map(async (system) => {
      if (harvestFirst && (refusal || harvested[system] === undefined)) return;
      const activities = proxyActivities<Activities>(systemActivityOptions(system, input.timings));
      const own = harvested[system];
      const outcome = await gate.run(system, state[system], () =>
        activities.rectifyInSystem({
          system,
          requestId,
          subjectKey: input.subjectKey,
          subject,
          changes: set,
          ...(own ? { own } : {}),
        }),
      );
      if (!outcome.done) return;
      for (const name of outcome.value.namesBefore ?? []) if (!oldNames.includes(name)) oldNames.push(name);
      if (system === 'dynamics') dynamicsNamesRead = true;
      Object.assign(state[system], {
        status: outcome.value.outcome,
        records: outcome.value.records,
        recordCount: outcome.value.recordCount,
        ...(outcome.value.note ? { note: outcome.value.note } : {}),
      });
      gate.finish(state[system]);
    }),
  );

  const allReached = systems.every((s) => reached.includes(state[s].status));
  let rekeyed: RectificationReceipt['rekeyed'];
  let rekeyNote: string | undefined;
  if (refusal) {
    rekeyNote = refusal;
  } else if (input.newSubjectKey && input.newSubjectKey !== input.subjectKey) {
    const erased =
      allReached && patched(rectificationPatches.keepErasedKey)
        ? await ledger.loadTombstone(input.subjectKey)
        : undefined;
    const erasureBegan =
      !erased && guardErasure && set.email && systems.some((s) => state[s].status === 'rectified')
        ? await ledger.erasureRunningFor(input.subjectKey)
        : false;
    if (erasureBegan && set.email) {
      const erasure = await ledger.eraseMovedRecords({ requestId, newEmail: set.email });
      rekeyNote = `an erasure of the person began while their records were rectified, so the ledger was not re-keyed (the erasure's tombstone and receipts stay with the address it erases) and the records moved to the new address are erased too (request ${erasure.requestId})`;
    } else if (erased) {
      rekeyNote = `the person was erased (request ${erased.firstRequestId}), so the ledger was not re-keyed: the tombstone stays with the erased address, where it refuses grants and re-erases what reappears`;
    } else if (allReached) {
      const at = new Date().toISOString();
      const moved = await ledger.rekeySubject({
        from: input.subjectKey,
        to: input.newSubjectKey,
        requestId,
        at,
      });
      rekeyed = { from: input.subjectKey, to: input.newSubjectKey, at, moved };
      if (set.email && patched(rectificationPatches.consentHandOver)) {
        rekeyed.consentWorkflow = await handOverConsent(input.subjectKey, {
          newSubjectKey: input.newSubjectKey,
          newEmail: set.email,
          requestId,
        });
      }
    } else {
      rekeyNote =
        'a system still holds the old address, so the ledger was not re-keyed; rectify again once it is fixed';
    }
  }
  const receipt: RectificationReceipt = {
    requestId,
    subjectKey: input.subjectKey,
    requestedBy: input.request.requestedBy,
    requestedAt: input.request.requestedAt,
    completedAt: new Date().toISOString(),
    fields: (Object.keys(set) as RectifiableField[]).filter((field) => set[field] !== undefined),
    // A refusal wrote nothing anywhere: not a completion, and not the partial one a failure is.
    outcome: refusalCode ? 'refused' : allReached ? 'completed' : 'completed_with_failures',
    ...(refusalCode ? { refusal: refusalCode } : {}),
    ...(input.newSubjectKey && input.newSubjectKey !== input.subjectKey
      ? { newSubjectKey: input.newSubjectKey }
      : {}),
    systems: state,
    ...(rekeyed ? { rekeyed } : {}),
    ...(rekeyNote ? { rekeyNote } : {}),
    ...(gate.log.length > 0 ? { operatorActions: [...gate.log] } : {}),
  };
  await ledger.recordRectification(receipt);
  return receipt;
}
