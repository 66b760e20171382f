import { TypedSearchAttributes } from '@temporalio/common';
import {
  ApplicationFailure,
  condition,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { SubjectIdentifiers } from '../connectors/connector.js';
import type {
  ErasureAddressChange,
  ErasureMerge,
  ErasureOverallStatus,
  ErasureReceipt,
  ErasureStatusView,
  ErasureWorkflowInput,
  JoinedRequest,
  MovedRecordsErasure,
  SystemErasureState,
  SystemName,
} from '../domain/erasure.js';
import type { HeldNow, HoldArrivedDuringErasure } from '../domain/hold.js';
import { maxRedactionNames, withheldTextMarker } from '../domain/redaction-names.js';
import { crmNamesReader } from './crm-names.js';
import { ledgerActivityOptions, systemActivityOptions } from './erasure-activity-options.js';
import {
  closeSystemUpdate,
  erasureAddressChangedSignal,
  erasureStatusQuery,
  mergeErasureRequestSignal,
  retrySystemUpdate,
} from './erasure-definitions.js';
import { LegalHoldPhase } from './legal-hold.js';
import {
  assertNeedsAttention,
  assertOperatorAction,
  counted,
  OperatorGate,
  type StepOutcome,
} from './operator-gate.js';
import { redactOperatorTextFor } from './operator-text.js';
import { followRequestDeadline } from './request-deadline.js';
import { erasureStatusAttribute, subjectKeyAttribute } from './search-attribute-keys.js';
import { checkedMerge, instantOr, isHubAddressChange, sentPastCodec } from './signal-input.js';

type ErasureSystemSummary = Awaited<ReturnType<Activities['summariseErasureSystem']>>;
type PlannedErasure = Awaited<ReturnType<Activities['planErasure']>>;

const systems: SystemName[] = ['dynamics', 'mailchimp', 'google'];
/** Statuses of a system whose erasure reached it: nothing of it is left to restrict when a hold comes. */
const reachedStatuses: readonly SystemErasureState['status'][] = ['erased', 'not_found', 'submitted'];
/** What a delete step answers when a hold stopped it before it was done. */
const stoppedForHold = 'stopped_for_hold' as const;
/** Deletion passes (delete every planned record, then search again) before records that keep coming back go to an operator. */
const maxDeletionPasses = 3;
const defaultDeletePageSize = 500;

/**
 * Patch ids (Temporal's `patched`): each names a change to this workflow's commands. A worker with the new
 * code replays histories of erasures started before the change along the old path (README: "Changing
 * workflow code safely"). Remove one only when no erasure started before it can still be running.
 */
export const erasurePatches = {
  /** A request that arrives while the receipt is written starts a follow-up erasure (continue-as-new). */
  lateRequestFollowUp: 'erasure-late-request-follow-up',
  /** A person on legal hold is restricted first, and erased once the hold is released (legal-hold.ts). */
  legalHoldRestriction: 'legal-hold-restriction',
  /**
   * A follow-up erasure registers the deadline of the late requests it carries under its own request id, so
   * that deadline completes with the follow-up's receipt, not with the receipt of the erasure before it.
   */
  followUpDeadline: 'erasure-follow-up-deadline',
  /**
   * A system that ends failed or closed by an operator lists every record it planned in the receipt, the
   * ones left as `not_deleted` with why (one more activity per such system). Before it: no records.
   */
  unfinishedSystemRecords: 'erasure-unfinished-system-records',
  /**
   * A hold placed while the erasure runs (its `holdPlaced` signal, or a delete step that finds it in the
   * ledger) stops the deleting: every system not yet erased is restricted, the receipt says what was
   * deleted before, and the rest is erased once the hold is released. Before it: the erasure went on.
   */
  holdDuringRun: 'erasure-hold-during-run',
  /**
   * GA client ids harvested from the CRM are stored sealed in the ledger by the harvest, which returns only
   * their count; Google's step submits them from there, page by page. Before it: every id travelled in the
   * harvest's result and in every later step's input, so the history grew with the CRM's rows.
   */
  gaIdsPaged: 'erasure-ga-ids-paged',
  /**
   * Issue 16: the reason notes of the erasure's requests (its own, those that joined it) are kept in the
   * receipt only once the CRM's names for the person were read (the harvest, or a read of its own when the
   * harvest did not answer); when they cannot be, each note is withheld (`withheldTextMarker`). Before it,
   * a note was kept redacted of the names known so far: with Dynamics down, of the address alone. Asked
   * only when a request has a note.
   */
  reasonNotesNamesChecked: 'erasure-reason-notes-names-checked',
  /**
   * Issue 16: Mailchimp's step starts once the CRM's names for the person are known: the harvest answered,
   * or, when it failed or waits (for an operator, for the vendor), a read of their own; a read that fails
   * lets Mailchimp go on, its failures' words then withheld by the gate (`vendorFailureNamesCheckedPatch`).
   * So every Mailchimp call redacts a message that names the person of the names before a failure, a log
   * line or the state keeps it. Before it: Mailchimp ran alongside the harvest, with the address alone.
   */
  mailchimpAfterCrmNames: 'erasure-mailchimp-after-crm-names',
  /**
   * Issue 18: a hold placed once every system's deletes had completed (before the receipt) is looked up in
   * the ledger as the receipt is written, and the receipt records it (`holdAfterDeletes`): nothing was left
   * to restrict. Before it: such a hold left no trace in the receipt.
   */
  holdAfterDeletes: 'erasure-hold-after-deletes',
} as const;

/**
 * Erases one person from every system, durably, and returns a receipt that proves what happened.
 *
 * Identifiers are harvested first (GA client ids live on CRM records), then the three systems are erased in
 * parallel, each with its own retry policy. A system that fails for good, or keeps failing past
 * `attentionAfter`, waits for an operator (retry or close) while the others finish. The event history stays
 * small whatever the number of records: the activities write every record to the ledger and delete them in
 * pages of `deletePageSize`, one activity per page, and the workflow keeps counts, a digest and the first
 * records only. A request for the same person while this runs is merged in (`mergeErasureRequest`).
 */
export async function erasureWorkflow(input: ErasureWorkflowInput): Promise<ErasureReceipt> {
  // A follow-up continues the run of the erasure it follows, so it shares that run's first execution id:
  // its own run id tells the two apart.
  const requestId = input.followUpOf ? workflowInfo().runId : workflowInfo().firstExecutionRunId;
  const state = Object.fromEntries(
    systems.map((system): [SystemName, SystemErasureState] => [
      system,
      { status: 'pending', records: [], attempts: 0 },
    ]),
  ) as Record<SystemName, SystemErasureState>;
  let lastPublished: ErasureOverallStatus | undefined;
  let receiptStored = false;
  let closing = false;

  // `completed` only once the receipt is in the ledger: a listing by status never shows an erasure as done
  // whose proof could still be lost.
  const overall = (): ErasureOverallStatus => {
    const statuses = [
      ...systems.map((system) => state[system].status),
      ...Object.values(hold.states).map((restricting) => restricting.status),
    ];
    if (statuses.includes('needs_attention')) return 'needs_attention';
    if (hold.waiting) return 'on_hold';
    return receiptStored ? 'completed' : 'running';
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
    ...(hold.evidence ? { restriction: hold.evidence } : {}),
    ...(addressChanges.length > 0 ? { addressChanges: [...addressChanges] } : {}),
  });

  const gate = new OperatorGate(input.timings.operatorDeadline, publishStatus);
  // Erasures started after the hold-during-run patch stop for a hold placed while they run (holdArrived).
  const watchHold = patched(erasurePatches.holdDuringRun);
  const holdArrived = () => watchHold && hold.arrived !== undefined;
  /** What delete steps are given: on the new path, they delete nothing while the person is on hold. */
  const destructive = watchHold ? { stopIfHeld: true } : {};
  // Erasures started after the ga-ids-paged patch keep harvested GA ids out of their history.
  const pageGaIds = patched(erasurePatches.gaIdsPaged);
  /** Harvested GA ids the ledger holds (sealed) that Google has not been sent yet. */
  let harvestedPending = false;
  const step = <T>(system: SystemName, work: () => Promise<T>) =>
    gate.run(system, state[system], work, watchHold ? holdArrived : undefined);

  // The identifiers grow as requests join and as the CRM yields GA ids.
  const names: string[] = [];
  const subject: SubjectIdentifiers = {
    email: input.request.email,
    gaClientIds: [...input.request.gaClientIds],
    gaUserIds: [...input.request.gaUserIds],
    // The CRM's names for the person, once harvested: every later call redacts them from errors and logs.
    names,
  };
  // Whether the harvest has answered the CRM's names: until then an operator's text asks the CRM itself.
  let crmNamesHarvested = false;
  const readCrmNames = crmNamesReader({
    subjectKey: input.subjectKey,
    subject: () => subject,
    timings: input.timings,
    into: names,
  });
  // An operator's words are redacted for the person, with the names the CRM holds once harvested (or read
  // for the text, through `redactOperatorTextWithCrmNamesUpdate`, while the harvest has not answered).
  redactOperatorTextFor(
    gate,
    () => ({
      email: subject.email,
      names,
      identifiers: [...subject.gaClientIds, ...subject.gaUserIds],
    }),
    async () => crmNamesHarvested || readCrmNames(),
  );
  const joinedRequests: JoinedRequest[] = [];
  // Other addresses of the person a half-done rectification moved records between (intake's, and joins').
  const movedRecords: MovedRecordsErasure[] = [...(input.movedRecords ?? [])];
  const hold = new LegalHoldPhase({
    requestId,
    subjectKey: input.subjectKey,
    subject,
    timings: input.timings,
    gate,
    onChange: publishStatus,
  });
  // A vendor that moved the person to another address while this runs (Mailchimp's upemail, during a hold
  // most of all): recorded, and the new address searched too, so the moved records are erased, not missed.
  const addressChanges: ErasureAddressChange[] = [];
  setHandler(erasureAddressChangedSignal, (sent) => {
    if (!isHubAddressChange(sent)) return;
    const { source, newSubjectKey, newEmail } = sent;
    const changedAt = instantOr(sent.changedAt, new Date().toISOString());
    if (addressChanges.some((known) => known.newSubjectKey === newSubjectKey && known.source === source))
      return;
    addressChanges.push({ source, changedAt, newSubjectKey });
    if (newEmail !== subject.email && !subject.otherEmails?.includes(newEmail)) {
      subject.otherEmails = [...(subject.otherEmails ?? []), newEmail];
    }
  });
  // While a held person's systems are restricted, operator actions apply to the restriction's states.
  const gatedStates = () => (hold.active ? hold.states : state);
  const addNew = (into: string[], ids: string[]) => {
    const fresh = [...new Set(ids)].filter((id) => !into.includes(id));
    into.push(...fresh);
    return fresh.length;
  };

  setHandler(erasureStatusQuery, view);
  setHandler(
    retrySystemUpdate,
    ({ system, operator }) => {
      gate.request(system, { kind: 'retry' }, operator);
      return view();
    },
    { validator: (update) => assertOperatorAction(gatedStates(), update) },
  );
  setHandler(
    closeSystemUpdate,
    ({ system, reason, operator }) =>
      gate.close(system, reason, operator, () => assertNeedsAttention(gatedStates(), system), view),
    { validator: (update) => assertOperatorAction(gatedStates(), update) },
  );
  followRequestDeadline();
  // Requests that arrived once the receipt was being written: too late for it, carried by a follow-up.
  const lateRequests: ErasureMerge[] = [];
  const join = (merge: ErasureMerge) => {
    joinedRequests.push({
      reason: merge.reason,
      ...(merge.reasonNote ? { reasonNote: merge.reasonNote } : {}),
      requestedBy: merge.requestedBy,
      requestedAt: merge.requestedAt,
      gaClientIdsAdded: addNew(subject.gaClientIds, merge.gaClientIds),
      gaUserIdsAdded: addNew(subject.gaUserIds, merge.gaUserIds),
      ...(merge.requestedUnder ? { requestedUnder: merge.requestedUnder } : {}),
    });
    for (const moved of merge.movedRecords ?? []) {
      const known = movedRecords.some(
        (m) => m.subjectKey === moved.subjectKey && m.rectificationRequestId === moved.rectificationRequestId,
      );
      if (!known) movedRecords.push(moved);
    }
  };
  for (const merge of input.joinedAtStart ?? []) join(merge);
  setHandler(mergeErasureRequestSignal, (signal) => {
    const { token, subjectKey: _subjectKey, ...sent } = signal;
    // The start's own request is already in the input.
    if (token === input.startToken) return;
    // Sent past the hub's client, its fields are as typed: held to the client's shapes (signal-input.ts).
    const merge = checkedMerge(sent, new Date().toISOString(), sentPastCodec(signal));
    if (closing) lateRequests.push(merge);
    else join(merge);
  });
  publishStatus();

  const ledger = proxyActivities<Activities>(ledgerActivityOptions);
  // Each vendor activity's result names the attempt it succeeded on: counted into the system's attempts.
  const activitiesFor = (system: SystemName): Activities => {
    const activities = proxyActivities<Activities>(systemActivityOptions(system, input.timings));
    return new Proxy(activities, {
      get: (target, name) => {
        const activity = Reflect.get(target, name) as (...args: unknown[]) => Promise<unknown>;
        return (...args: unknown[]) => counted(state[system], activity(...args));
      },
    });
  };
  const stepInput = (system: SystemName, identifiers: SubjectIdentifiers = subject) => ({
    system,
    requestId,
    subjectKey: input.subjectKey,
    subject: identifiers,
  });
  const pageSize = input.timings.deletePageSize ?? defaultDeletePageSize;

  const finish = (
    system: SystemName,
    summary: ErasureSystemSummary,
    reachedStatus: 'erased' | 'submitted',
  ) => {
    const touched = summary.recordCount > 0;
    Object.assign(state[system], {
      status: touched ? reachedStatus : 'not_found',
      records: summary.records,
      recordCount: summary.recordCount,
      recordsDigest: summary.recordsDigest,
      recordsTruncated: summary.recordsTruncated,
    });
    gate.finish(state[system]);
  };

  /**
   * A system that ended failed or closed still names every record it planned, each with its outcome: the
   * ones left are `not_deleted`, with the vendor's refusal or the system's end as the reason. The ledger's
   * list and the digest cover them too.
   */
  const summariseUnfinished = async (system: SystemName) => {
    if (!patched(erasurePatches.unfinishedSystemRecords)) return;
    const summary = await ledger.summariseErasureSystem({
      requestId,
      system,
      notDeleted:
        state[system].status === 'closed_by_operator' ? 'closed_by_operator' : 'operator_deadline_passed',
    });
    Object.assign(state[system], {
      records: summary.records,
      recordCount: summary.recordCount,
      recordsDigest: summary.recordsDigest,
      recordsTruncated: summary.recordsTruncated,
    });
  };

  /**
   * Deletes every planned record page by page, then searches again: rows created since the harvest are
   * planned and deleted in the next pass. Records harvested and then found gone (404) count as erased by
   * this request, so a crash after deleting never turns into `not_found`.
   */
  const deleteAll = async (system: SystemName): Promise<ErasureSystemSummary | typeof stoppedForHold> => {
    const activities = activitiesFor(system);
    for (let pass = 1; ; pass++) {
      for (let more = true; more; ) {
        if (holdArrived()) return stoppedForHold;
        const page = await activities.deleteErasurePage({ ...stepInput(system), pageSize, ...destructive });
        if (page.held) {
          hold.holdFound(page.held);
          return stoppedForHold;
        }
        ({ more } = page);
      }
      const again = await activities.planErasure(stepInput(system));
      if (again.found === 0) break;
      if (pass >= maxDeletionPasses) {
        throw ApplicationFailure.create({
          type: 'RecordsKeepReappearing',
          nonRetryable: true,
          message: `${system} still holds ${again.found} records for the subject after ${pass} passes of deletion`,
        });
      }
    }
    return activities.summariseErasureSystem({ requestId, system });
  };

  if (input.followUpOf && patched(erasurePatches.followUpDeadline)) {
    const carried = [input.request, ...(input.joinedAtStart ?? [])].map((r) => r.receivedAt ?? r.requestedAt);
    await ledger.registerFollowUpDeadline({
      requestId,
      subjectKey: input.subjectKey,
      receivedAt: carried.reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a)),
    });
  }

  // A person on legal hold is restricted first; the erasure goes on once the hold is released.
  if (patched(erasurePatches.legalHoldRestriction)) await hold.restrictIfHeld();

  // With the address, rows older versions keyed by another spelling of it are found too.
  const tombstone = await ledger.loadTombstone({
    subjectKey: input.subjectKey,
    email: input.request.email,
  });

  // Google is submitted for every identifier known, and again for ids that joined after a submission.
  const submitted = { gaClientIds: [] as string[], gaUserIds: [] as string[] };
  const googlePending = () =>
    harvestedPending ||
    subject.gaClientIds.some((id) => !submitted.gaClientIds.includes(id)) ||
    subject.gaUserIds.some((id) => !submitted.gaUserIds.includes(id));
  const takeHarvest = (found: PlannedErasure) => {
    addNew(subject.gaClientIds, found.gaClientIds);
    if (found.harvestedGaIds && found.harvestedGaIds.count > 0) harvestedPending = true;
    addNew(subject.gaUserIds, found.gaUserIds);
    // Harvests recorded before names were harvested have none; those recorded before the bound carry every
    // name of every row: only the first `maxRedactionNames` go on, so no later input grows with the rows.
    addNew(names, found.names ?? []);
    names.splice(maxRedactionNames);
    crmNamesHarvested = true;
    if (found.unusableIdentifiers.length > 0) state.google.unusableIdentifiers = found.unusableIdentifiers;
    // Counted by this harvest, before any delete: what the CRM deletes with the rows (activities regarding them).
    if (found.dependents) state.dynamics.deletedWithRecords = found.dependents;
  };

  /**
   * Erases `which` systems (all of them, or after a hold's release those it interrupted) and answers the
   * systems a hold placed meanwhile stopped before they were done: their state is back to `pending`.
   */
  const eraseSystems = async (which: readonly SystemName[]): Promise<SystemName[]> => {
    const interrupted: SystemName[] = [];
    const settle = async (
      system: SystemName,
      outcome: StepOutcome<ErasureSystemSummary | typeof stoppedForHold>,
      reachedStatus: 'erased' | 'submitted',
    ) => {
      if (outcome.done && outcome.value !== stoppedForHold) finish(system, outcome.value, reachedStatus);
      else if (outcome.done || outcome.interrupted) {
        state[system].status = 'pending';
        interrupted.push(system);
        publishStatus();
      } else await summariseUnfinished(system);
    };

    // 1. Harvest before anything is deleted: the CRM holds GA client ids that Google's erasure needs.
    // What it found (GA ids, the CRM's names for the person) is taken before any other step starts from it.
    const harvest = which.includes('dynamics')
      ? step('dynamics', () =>
          activitiesFor('dynamics').planErasure({
            ...stepInput('dynamics'),
            ...(pageGaIds ? { pageGaIds: true } : {}),
          }),
        ).then((found) => {
          if (found.done) takeHarvest(found.value);
          return found;
        })
      : Promise.resolve(undefined);

    let harvestAnswered = !which.includes('dynamics');
    void harvest.then(() => {
      harvestAnswered = true;
    });
    /**
     * Whether the CRM's names for the person are known before a step meets a text that may name them: the
     * harvest's, or, while the harvest fails or waits, a lookup of their own (false when that fails too).
     */
    const crmNamesKnown = async (): Promise<boolean> => {
      await condition(
        () =>
          crmNamesHarvested ||
          harvestAnswered ||
          state.dynamics.status === 'needs_attention' ||
          state.dynamics.status === 'waiting_for_vendor',
      );
      return crmNamesHarvested || readCrmNames();
    };

    // 2. Erase everywhere in parallel; Google and the CRM itself wait for the harvest, Mailchimp for the
    // names it found (or a lookup of them).
    const dynamics = harvest.then(async (found) => {
      if (!found) return;
      if (!found.done) return settle('dynamics', found, 'erased');
      await settle('dynamics', await step('dynamics', () => deleteAll('dynamics')), 'erased');
    });
    const eraseMailchimp = () =>
      step('mailchimp', async () => {
        // After a restriction that planned the members it restricted (by contact id), those are deleted
        // first; deleteAll's search afterwards still finds any member added at the address since.
        if (!hold.plannedForErasure.has('mailchimp')) {
          await activitiesFor('mailchimp').planErasure(stepInput('mailchimp'));
        }
        return deleteAll('mailchimp');
      }).then((erased) => settle('mailchimp', erased, 'erased'));
    const mailchimp = which.includes('mailchimp')
      ? patched(erasurePatches.mailchimpAfterCrmNames)
        ? crmNamesKnown().then(eraseMailchimp)
        : eraseMailchimp()
      : undefined;

    const eraseGoogle = async () => {
      const erased = await step('google', async () => {
        do {
          if (holdArrived()) return stoppedForHold;
          const identifiers = {
            ...subject,
            gaClientIds: [...subject.gaClientIds],
            gaUserIds: [...subject.gaUserIds],
          };
          const withHarvested = harvestedPending;
          const sent = await activitiesFor('google').submitErasure({
            ...stepInput('google', identifiers),
            ...destructive,
            ...(withHarvested ? { harvestedGaIds: true } : {}),
          });
          if (sent.held) {
            hold.holdFound(sent.held);
            return stoppedForHold;
          }
          if (withHarvested) harvestedPending = false;
          addNew(submitted.gaClientIds, identifiers.gaClientIds);
          addNew(submitted.gaUserIds, identifiers.gaUserIds);
        } while (googlePending());
        return activitiesFor('google').summariseErasureSystem({ requestId, system: 'google' });
      });
      await settle('google', erased, 'submitted');
    };
    const google = which.includes('google') ? harvest.then(() => eraseGoogle()) : undefined;
    await Promise.all([dynamics, mailchimp, google]);

    // Requests that joined after Google's submission brought ids it has not seen yet.
    for (;;) {
      // Updates that arrived as the last system finished must not be lost mid-flight.
      await condition(() => true);
      const googleReachable = !['failed', 'closed_by_operator'].includes(state.google.status);
      if (!googleReachable || !googlePending() || holdArrived() || interrupted.includes('google')) break;
      await eraseGoogle();
    }
    return interrupted;
  };

  // A hold placed while the systems are erased stops the erasure where it is: what is not erased yet is
  // restricted, and erased once the hold is released (legal-hold.ts).
  for (let remaining: readonly SystemName[] = systems; ; ) {
    const interrupted = await eraseSystems(remaining);
    if (interrupted.length === 0) break;
    remaining = interrupted;
    // Stopped by a hold the ledger held that a release this erasure was told of has ended since: go on.
    if (!hold.arrived) continue;
    const erasedBefore = (system: SystemName) => reachedStatuses.includes(state[system].status);
    const deletedBefore: HoldArrivedDuringErasure['deletedBefore'] = {};
    for (const system of systems) {
      const done = erasedBefore(system)
        ? state[system]
        : interrupted.includes(system)
          ? await ledger.summariseErasureSystem({ requestId, system })
          : undefined;
      if (!done?.recordCount) continue;
      deletedBefore[system] = {
        recordCount: done.recordCount,
        records: done.records,
        recordsTruncated: done.recordsTruncated ?? false,
      };
    }
    await hold.restrictDuringErasure(
      systems.filter((system) => !erasedBefore(system)),
      deletedBefore,
    );
  }
  // A hold placed after the last delete step looked for one: every system was reached before it, so there
  // is nothing to restrict; the receipt says it came, and when, rather than leaving no trace.
  let holdAfterDeletes: HeldNow | undefined;
  if (watchHold && patched(erasurePatches.holdAfterDeletes)) {
    if (!hold.arrived) {
      const now = await ledger.loadHold(input.subjectKey);
      if (now && !now.releasedAt) hold.holdFound({ reason: now.reason, placedAt: now.placedAt });
    }
    holdAfterDeletes = hold.arrived;
  }
  closing = true;

  // A note may name the person: it is kept redacted of the CRM's names, or withheld when they cannot be read.
  const hasNotes = Boolean(input.request.reasonNote) || joinedRequests.some((joined) => joined.reasonNote);
  const notesChecked =
    hasNotes && patched(erasurePatches.reasonNotesNamesChecked)
      ? crmNamesHarvested || (await readCrmNames())
      : true;
  const keptNote = (note: string) => (notesChecked ? gate.redactText(note) : withheldTextMarker);
  const receipt: ErasureReceipt = {
    requestId,
    subjectKey: input.subjectKey,
    reason: input.request.reason,
    // Notes were redacted at intake of the address alone: the CRM's names for the person go now, before the
    // receipt reaches the ledger.
    ...(input.request.reasonNote ? { reasonNote: keptNote(input.request.reasonNote) } : {}),
    requestedBy: input.request.requestedBy,
    requestedAt: input.request.requestedAt,
    completedAt: new Date().toISOString(),
    outcome: systems.every((s) => ['erased', 'not_found', 'submitted'].includes(state[s].status))
      ? 'completed'
      : 'completed_with_failures',
    systems: state,
    ...(gate.log.length > 0 ? { operatorActions: [...gate.log] } : {}),
    ...(tombstone ? { reErasureOf: tombstone.firstRequestId } : {}),
    ...(joinedRequests.length > 0
      ? {
          joinedRequests: joinedRequests.map((joined) =>
            joined.reasonNote ? { ...joined, reasonNote: keptNote(joined.reasonNote) } : joined,
          ),
        }
      : {}),
    ...(input.followUpOf ? { followUpOf: input.followUpOf } : {}),
    ...(hold.evidence ? { restriction: hold.evidence } : {}),
    ...(addressChanges.length > 0 ? { addressChanges: [...addressChanges] } : {}),
    ...(input.requestedUnder ? { requestedUnder: input.requestedUnder } : {}),
    ...(movedRecords.length > 0 ? { movedRecords } : {}),
    ...(holdAfterDeletes
      ? {
          holdAfterDeletes: {
            ...holdAfterDeletes,
            note: 'the hold arrived after every system’s deletes had completed: nothing was left to restrict',
          },
        }
      : {}),
  };
  await ledger.recordErasureOutcome(receipt);
  receiptStored = true;
  // Signals cannot be refused, and Temporal delivers every signal that arrives before the run closes to the
  // handler before this line runs (a close with a signal still unseen is rejected and tried again). So a
  // request that came while the receipt was written is here, and is carried out by a follow-up erasure of
  // the same person, which continues this run and names this receipt in its own.
  if (lateRequests.length > 0 && patched(erasurePatches.lateRequestFollowUp)) {
    publishStatus();
    const [first, ...rest] = lateRequests as [ErasureMerge, ...ErasureMerge[]];
    const followUp: ErasureWorkflowInput = {
      subjectKey: input.subjectKey,
      request: {
        email: input.request.email,
        gaClientIds: first.gaClientIds,
        gaUserIds: first.gaUserIds,
        reason: first.reason,
        ...(first.reasonNote ? { reasonNote: first.reasonNote } : {}),
        requestedBy: first.requestedBy,
        requestedAt: first.requestedAt,
        ...(first.receivedAt ? { receivedAt: first.receivedAt } : {}),
      },
      ...(first.requestedUnder ? { requestedUnder: first.requestedUnder } : {}),
      timings: input.timings,
      followUpOf: requestId,
      ...(rest.length > 0 ? { joinedAtStart: rest } : {}),
    };
    log.info('requests arrived while the receipt was written; a follow-up erasure carries them out', {
      lateRequests: lateRequests.length,
    });
    return continueAsNewWithAttributes(followUp);
  }
  if (lateRequests.length > 0) {
    // Replaying an erasure started before follow-ups existed: it closed with this warning.
    log.warn('requests for this subject arrived while its receipt was written; they were not merged', {
      lateMerges: lateRequests.length,
    });
  }
  publishStatus();
  return receipt;
}

/**
 * Continues as a follow-up with this run's search attributes (subject key, deadline: no personal data) and a
 * running status. Temporal's own (`TemporalChangeVersion`) are the server's to set, so they are left out.
 */
function continueAsNewWithAttributes(followUp: ErasureWorkflowInput): Promise<never> {
  const carried = workflowInfo()
    .typedSearchAttributes.getAll()
    .filter((pair) => !pair.key.name.startsWith('Temporal'));
  return makeContinueAsNewFunc<typeof erasureWorkflow>({
    typedSearchAttributes: new TypedSearchAttributes(carried).updateCopy([
      { key: subjectKeyAttribute, value: followUp.subjectKey },
      { key: erasureStatusAttribute, value: 'running' },
    ]),
  })(followUp);
}
