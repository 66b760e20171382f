import { msToNumber } from '@temporalio/common';
import {
  ActivityCancellationType,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { DecisionsInForce, SubjectIdentifiers } from '../connectors/connector.js';
import type {
  ConsentApplicationOutcome,
  ConsentChangeSignal,
  ConsentReapplySignal,
  ConsentRekeySignal,
  ConsentStatusView,
  ConsentWorkflowInput,
  PurposeDecision,
  SystemConsentState,
} from '../domain/consent.js';
import { supersedes } from '../domain/consent-ordering.js';
import type { Purpose } from '../domain/purposes.js';
import { maxRedactionNames, withheldTextMarker } from '../domain/redaction-names.js';
import type { SystemName } from '../domain/systems.js';
import { redactText } from '../domain/text-redaction.js';
import {
  closeConsentSystemUpdate,
  consentChangeSignal,
  consentChangeStateQuery,
  consentHandOverSignal,
  consentReapplySignal,
  consentRekeySignal,
  consentStatusQuery,
  retryConsentSystemUpdate,
} from './consent-definitions.js';
import {
  ledgerActivityOptions,
  nonRetryableErrorTypes,
  systemActivityOptions,
} from './erasure-activity-options.js';
import { assertNeedsAttention, assertOperatorAction, OperatorGate } from './operator-gate.js';
import { redactOperatorTextFor } from './operator-text.js';
import { consentStatusAttribute } from './search-attribute-keys.js';
import { sentPastCodec } from './signal-input.js';

const systems: SystemName[] = ['dynamics', 'mailchimp', 'google'];
/** Batches handled before the history is carried into a fresh run. */
const batchesPerRun = 100;
/** Event ids kept in the refused and superseded lists carried across runs. */
const listsKept = 100;
/**
 * Patch ids (Temporal's `patched`): each names a change to this workflow's commands. A worker with the new
 * code replays histories of runs started before the change along the old path (README: "Changing workflow
 * code safely"). Remove one only when no run started before it can still be open.
 */
export const consentPatches = {
  /** A withdrawal also supersedes a write waiting out a vendor's Retry-After. */
  supersedeVendorWait: 'consent-supersede-vendor-wait',
  /**
   * Issue 21's budget of Temporal actions per change: the ledger's state is read by a local activity (a
   * read, safe to repeat whole), a fresh run counts as running without saying so, and a run whose idle
   * period is 0 ends as soon as its writes are done, with no idle upsert and no timer.
   */
  fewerActions: 'consent-fewer-actions',
  /**
   * Issue 18: on `consentRekey` (an email change re-keyed the person) the run stops its lanes, hands its
   * pending changes and unwritten systems to the new key's workflow, and ends naming the new key.
   */
  rekeyHandOver: 'consent-rekey-handover',
  /**
   * Issue 16: before a change with an evidence note is recorded, the run reads the CRM's names for the
   * person once (a Dynamics find) and redacts the note of them, as the intake could not.
   */
  noteCrmNames: 'consent-note-crm-names',
  /**
   * Issue 15: the Google lane is one activity that reads the CRM's GA ids and submits them to Google in
   * pages, answering counts, a keyed digest and at most `maxRedactionNames` names. Before it: a Dynamics
   * find returned every record, name and GA id into the history, and Google's step took every id as input,
   * so an address on thousands of rows passed Temporal's payload limit.
   */
  googleLaneBounded: 'consent-google-lane-bounded',
  /**
   * Issue 15: the names read for redacting a note or an operator's text come from an activity that answers
   * only the names (at most `maxRedactionNames`). Before it: a Dynamics find answered every record and GA id
   * of the address too, into the history.
   */
  crmNamesBounded: 'consent-crm-names-bounded',
  /**
   * Issue 16: a name lookup that failed is asked again at the next note or operator text (before it, the
   * failure was kept for the rest of the run), and a note whose names could not be checked is withheld
   * (`withheldTextMarker`) instead of recorded as typed.
   */
  crmNamesRetry: 'consent-crm-names-retry',
  /**
   * Issue 16: a run that ends (not continued, not handed over) marks the changes it took in completed in the
   * ledger's request list, so a finished change cannot be extended though nobody read its state.
   */
  completesRequests: 'consent-completes-requests',
} as const;
const supersedeVendorWaitPatch = consentPatches.supersedeVendorWait;

/**
 * One system's lane: it writes the person's whole desired state to that system whenever the decisions it
 * carries move, independently of the other systems. Versions only grow: `wanted` is the newest state the
 * system should show, `done` the newest one a finished write (or a give-up) covered.
 */
interface Lane {
  state: SystemConsentState;
  wanted: number;
  done: number;
  /** Purposes whose decision moved since this system was last written, with the version they moved at. */
  dirty: Map<Purpose, number>;
  /** The write in flight: the purposes its snapshot withdrew, and the scope that cancels it. */
  inFlight?: { withdrawn: Set<Purpose>; scope: CancellationScope };
  /** Set when a newer withdrawal cancelled the write in flight, so the lane starts over at once. */
  superseding: boolean;
  /** The scope of the lane's current write (with its retries and operator wait), cancelled on a hand-over. */
  current?: CancellationScope;
  /** A withdrawal failed (or was closed) here and waits for reconciliation to ask again. */
  unresolved: boolean;
}

/**
 * One workflow per person serialises their consent changes and carries the *state* they call for, not the
 * changes one by one: for each system, the fields are computed from all decisions in force (a withdrawal of
 * any purpose sharing a field wins; connectors/consent-fields.ts), so a grant of one purpose never undoes
 * another's withdrawal.
 *
 * Each system is a lane inside this workflow rather than a child workflow: the lanes share the person's
 * decisions and workflow tasks (a child per system would cost its own start, tasks and completion events
 * for every change, against issue 21's budget of a handful of events per change), while each lane retries,
 * waits for an operator and is retried or closed on its own, so Dynamics needing attention never delays
 * Mailchimp. A lane always writes the newest state: a later withdrawal cancels a write still in flight or
 * retrying and starts over, and an operator's retry writes the state as it is then.
 *
 * Of two changes to a purpose, the later `occurredAt` wins whatever the order of arrival (a withdrawal wins a
 * tie). A tombstone refuses grants (the ledger decides, in the same statement that writes), never
 * withdrawals: an erased person still in a tool is still unsubscribed. The workflow ends after `idleAfter`
 * with nothing to do, and stays open (without timers) while a withdrawal failed somewhere, so that
 * reconciliation can ask for it again.
 */
export async function consentWorkflow(input: ConsentWorkflowInput): Promise<ConsentStatusView> {
  const carried = input.carried;
  const purposes: Partial<Record<Purpose, PurposeDecision>> = { ...carried?.purposes };
  const outcomes: Partial<Record<Purpose, Partial<Record<SystemName, ConsentApplicationOutcome>>>> = {
    ...carried?.outcomes,
  };
  const queue: ConsentChangeSignal[] = [...(carried?.pending ?? [])];
  const reapplies: ConsentReapplySignal[] = [...(carried?.reapply ?? [])];
  const refused = [...(carried?.refused ?? [])];
  const superseded = [...(carried?.superseded ?? [])];
  const seen = new Set<string>();
  /** Per change taken in by this run: the lane versions it waits for (none: it moves nothing). */
  const changeLanes = new Map<string, Partial<Record<SystemName, number>>>();
  let erased = carried?.erased ?? false;
  let version = 0;
  let stopping = false;
  /** Set by `consentRekey`: the person now has another key, and this run hands over to it. */
  let rekey: ConsentRekeySignal | undefined;
  let handingOver = false;
  const lean = patched(consentPatches.fewerActions);
  // A run without a status is running (nothing reads it before it is idle or needs an operator), so a
  // fresh run does not upsert "running" first; one carried into a new run keeps the status it had.
  let lastPublished = lean
    ? String(workflowInfo().typedSearchAttributes.get(consentStatusAttribute) ?? 'running')
    : '';
  const idleMs = msToNumber(input.timings.idleAfter);

  const lanes = Object.fromEntries(
    systems.map((system): [SystemName, Lane] => {
      const written = carried?.written?.[system];
      return [
        system,
        {
          state: { status: 'idle', attempts: 0, ...(written ? { written } : {}) },
          wanted: 0,
          done: 0,
          dirty: new Map(),
          superseding: false,
          unresolved: carried?.unresolved?.includes(system) ?? false,
        },
      ];
    }),
  ) as Record<SystemName, Lane>;
  const states = () =>
    Object.fromEntries(systems.map((s) => [s, lanes[s].state])) as Record<SystemName, SystemConsentState>;
  const behind = (system: SystemName) => lanes[system].wanted > lanes[system].done;
  const busy = () => systems.some(behind);
  const holdOpen = () => systems.some((s) => lanes[s].unresolved);

  const publishStatus = () => {
    const now = systems.some((s) => lanes[s].state.status === 'needs_attention')
      ? 'needs_attention'
      : queue.length > 0 || busy()
        ? 'running'
        : 'idle';
    if (now === lastPublished) return;
    // A run that ends as soon as it is idle closes instead: a closed run is done, whatever it last said.
    if (lean && now === 'idle' && idleMs === 0 && !holdOpen()) return;
    lastPublished = now;
    upsertSearchAttributes([{ key: consentStatusAttribute, value: now }]);
  };
  const view = (): ConsentStatusView => ({
    subjectKey: input.subjectKey,
    purposes: Object.fromEntries(
      Object.entries(purposes).map(([purpose, decision]) => [
        purpose,
        { ...decision, systems: outcomes[purpose as Purpose] ?? {} },
      ]),
    ),
    systems: Object.fromEntries(
      systems.map((s) => [s, { ...lanes[s].state, ...(behind(s) ? { behind: true } : {}) }]),
    ) as Record<SystemName, SystemConsentState>,
    inFlight: queue.length + systems.filter(behind).length,
    refused,
    superseded,
    erased,
    operatorActions: [...gate.log],
  });
  const gate = new OperatorGate(input.timings.operatorDeadline, publishStatus);

  // A change or repair sent past the hub (`temporal workflow signal` without the codec) is no request the
  // hub took in: its source and evidence, as typed, would go into the ledger unchecked (signal-input.ts).
  setHandler(consentChangeSignal, (change) => {
    if (!sentPastCodec(change)) queue.push(change);
  });
  setHandler(consentReapplySignal, (request) => {
    if (!sentPastCodec(request)) reapplies.push(request);
  });
  // The patch is asked where the signal lands: a history from before it never set `rekey`, so every later
  // step of such a run replays as it was recorded.
  setHandler(consentRekeySignal, (request) => {
    if (patched(consentPatches.rekeyHandOver)) rekey ??= request;
  });
  // Taken in like the changes and repairs it carries: the changes are recorded under this run's key, the
  // systems are written again with this run's address.
  setHandler(consentHandOverSignal, (handOver) => {
    if (sentPastCodec(handOver)) return;
    queue.push(...handOver.pending);
    if (handOver.systems.length > 0) {
      reapplies.push({
        systems: handOver.systems,
        reason: `handed over from subject ${handOver.fromSubjectKey} by rectification ${handOver.requestId}`,
      });
    }
  });
  setHandler(consentStatusQuery, view);
  setHandler(consentChangeStateQuery, (eventId) => {
    const needs = changeLanes.get(eventId);
    if (!needs) return 'unknown';
    const waiting = (Object.entries(needs) as [SystemName, number][]).some(
      ([system, wanted]) => lanes[system].done < wanted,
    );
    return waiting ? 'open' : 'done';
  });
  setHandler(
    retryConsentSystemUpdate,
    ({ system, operator }) => {
      gate.request(system, { kind: 'retry' }, operator);
      return view();
    },
    { validator: (update) => assertOperatorAction(states(), update) },
  );
  setHandler(
    closeConsentSystemUpdate,
    ({ system, reason, operator }) =>
      gate.close(system, reason, operator, () => assertNeedsAttention(states(), system), view),
    { validator: (update) => assertOperatorAction(states(), update) },
  );

  const ledger = proxyActivities<Activities>(ledgerActivityOptions);
  // Reading the ledger, and marking changes completed, are safe to repeat whole, so they run inside the
  // workflow task that needs them: no activity task, no extra workflow task.
  const ledgerLocal = proxyLocalActivities<Activities>({
    startToCloseTimeout: '1 minute',
    retry: ledgerActivityOptions.retry,
  });
  // A superseded write is cancelled, and the lane waits until the old attempt has really stopped before it
  // writes the newer state, so the two can never land in the wrong order.
  const vendor = (system: SystemName) =>
    proxyActivities<Activities>({
      ...systemActivityOptions(system, input.timings),
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    });
  const subject: SubjectIdentifiers = { email: input.email, gaClientIds: [], gaUserIds: [] };
  // The CRM's names for the person, once a lane looked them up: operator texts are redacted of them too.
  const crmNames: string[] = [];
  const redactionSubject = () => ({ email: subject.email, names: crmNames });
  /** Adds names the CRM holds for the person, keeping at most `maxRedactionNames` (the first learned). */
  const learnNames = (names: string[]) => {
    for (const name of names) if (!crmNames.includes(name)) crmNames.push(name);
    crmNames.splice(maxRedactionNames);
  };
  redactOperatorTextFor(gate, redactionSubject, learnCrmNames);
  /**
   * Reads the CRM's names for the person, once per run, for redacting a note before it is recorded (and an
   * operator's extension reason or close note, asked through `redactOperatorTextWithCrmNamesUpdate`). A quick
   * read: a CRM that does not answer within half a minute (or is not configured) leaves the note redacted of
   * the address and its name-like words only, rather than holding the change back.
   */
  // The one read of the run, shared: a note and an operator's text asking at once both wait for it.
  let namesRead: Promise<boolean> | undefined;
  const namesLookup = proxyActivities<Activities>({
    ...systemActivityOptions('dynamics', input.timings),
    scheduleToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes },
  });
  /** True once the names were read; false when the lookup failed (asked again next time, `crmNamesRetry`). */
  function learnCrmNames(): Promise<boolean> {
    namesRead ??= (async () => {
      try {
        const lookup = { system: 'dynamics' as const, subjectKey: input.subjectKey, subject };
        const found = patched(consentPatches.crmNamesBounded)
          ? await namesLookup.findCrmNames(lookup)
          : await namesLookup.findInSystem(lookup);
        learnNames(found.names ?? []);
        return true;
      } catch (error) {
        if (isCancellation(error)) throw error;
        log.warn('the CRM could not be asked for the names to redact from an operator text', {
          subjectKey: input.subjectKey,
        });
        // Forgotten, so the next note or text asks again instead of reusing this failure.
        if (patched(consentPatches.crmNamesRetry)) namesRead = undefined;
        return false;
      }
    })();
    return namesRead;
  }

  if (!carried) {
    // A new run picks up the decisions in force from the ledger, so ordering holds across runs.
    const loaded = await (lean ? ledgerLocal : ledger).loadConsentState(input.subjectKey);
    Object.assign(purposes, loaded.purposes);
    Object.assign(outcomes, loaded.outcomes);
    erased = loaded.erased;
    const anyWithdrawal = Object.values(purposes).some((d) => d?.decision === 'withdrawn');
    for (const system of systems) {
      const written = loaded.written[system];
      if (!written) continue;
      lanes[system].state.written = written;
      lanes[system].unresolved =
        anyWithdrawal && (written.outcome === 'failed' || written.outcome === 'closed_by_operator');
    }
  }

  /** What the tools should show: every decision in force; for an erased person, only the withdrawals. */
  const decisionsInForce = (): DecisionsInForce =>
    Object.fromEntries(
      Object.entries(purposes).flatMap(([purpose, d]) =>
        !d || (erased && d.decision === 'granted')
          ? []
          : [[purpose, { decision: d.decision, hasEvidence: d.hasEvidence ?? false }]],
      ),
    );
  const eventIdsInForce = (): Partial<Record<Purpose, string>> =>
    Object.fromEntries(Object.entries(purposes).map(([purpose, d]) => [purpose, d?.eventId]));

  function markDirty(system: SystemName, moved: Purpose[]): number {
    const lane = lanes[system];
    version += 1;
    lane.wanted = version;
    for (const purpose of moved) lane.dirty.set(purpose, version);
    // A later withdrawal supersedes an older state still being written, retried, or waiting out a vendor's
    // Retry-After (never one that waits for an operator: that wait ends only by the operator, who then gets
    // the newest state). Runs from before the vendor wait was superseded keep waiting it out on replay.
    const newlyWithdrawn = moved.some(
      (p) => purposes[p]?.decision === 'withdrawn' && !lane.inFlight?.withdrawn.has(p),
    );
    const retrying =
      lane.state.status === 'running' ||
      (lane.state.status === 'waiting_for_vendor' && patched(supersedeVendorWaitPatch));
    if (lane.inFlight && retrying && newlyWithdrawn) {
      lane.superseding = true;
      lane.inFlight.scope.cancel();
    }
    return version;
  }

  async function write(system: SystemName, scope: CancellationScope) {
    const lane = lanes[system];
    const decisions = decisionsInForce();
    lane.inFlight = {
      withdrawn: new Set(
        (Object.entries(decisions) as [Purpose, { decision: string }][])
          .filter(([, d]) => d.decision === 'withdrawn')
          .map(([p]) => p),
      ),
      scope,
    };
    const call = { system, subjectKey: input.subjectKey, eventIds: eventIdsInForce() };
    const request = { decisions, changed: [...lane.dirty.keys()] };
    if (system !== 'google') return vendor(system).applyConsentStateInSystem({ ...call, subject, request });
    // GA keeps no consent flag: a statistics withdrawal is a user deletion, for the ids the CRM knows.
    if (patched(consentPatches.googleLaneBounded)) {
      // The CRM is read, and Google written, inside one activity: no id reaches the history.
      const written = await vendor('google').applyGoogleConsentFromCrm({ ...call, subject, request });
      learnNames(written.names);
      return written;
    }
    const found = await vendor('dynamics').findInSystem({ ...call, system: 'dynamics', subject });
    learnNames(found.names ?? []);
    return vendor('google').applyConsentStateInSystem({
      ...call,
      subject: { ...subject, gaClientIds: found.gaClientIds, gaUserIds: found.gaUserIds },
      request,
    });
  }

  async function runLane(system: SystemName): Promise<void> {
    const lane = lanes[system];
    for (;;) {
      await condition(() => behind(system) || stopping);
      if (!behind(system) || handingOver) return;
      lane.superseding = false;
      let covered = lane.wanted;
      const scope = new CancellationScope();
      lane.current = scope;
      try {
        const result = await scope.run(() =>
          gate.run(system, lane.state, () => {
            // An operator's retry lands here again, and writes the newest state, not the one that failed.
            covered = lane.wanted;
            return write(system, scope);
          }),
        );
        lane.inFlight = undefined;
        if (result.done) {
          const { writtenAt, outcome, fields } = result.value;
          lane.state.status = 'idle';
          // A change this system does not carry wrote nothing there: its last written state, and a
          // withdrawal still unresolved there, stand.
          if (outcome !== 'not_applicable') {
            lane.state.written = { at: writtenAt, outcome, fields };
            lane.unresolved = false;
          }
          gate.finish(lane.state);
          for (const [purpose, answer] of Object.entries(result.value.purposes)) {
            outcomes[purpose as Purpose] = { ...outcomes[purpose as Purpose], [system]: answer };
          }
        } else {
          const outcome = lane.state.status as 'failed' | 'closed_by_operator';
          const reason = lane.state.closedReason ?? lane.state.failure?.reason;
          const eventIds = eventIdsInForce();
          const { at } = await ledger.recordSystemConsentFailure({
            subjectKey: input.subjectKey,
            system,
            outcome,
            reason,
            eventIds,
            previous: lane.state.written,
          });
          lane.state.written = { at, outcome, fields: lane.state.written?.fields ?? {}, reason };
          for (const purpose of Object.keys(eventIds) as Purpose[]) {
            outcomes[purpose] = { ...outcomes[purpose], [system]: outcome };
          }
          lane.unresolved = Object.values(purposes).some((d) => d?.decision === 'withdrawn');
        }
        lane.current = undefined;
        for (const [purpose, at] of lane.dirty) if (at <= covered) lane.dirty.delete(purpose);
        lane.done = Math.max(lane.done, covered);
      } catch (error) {
        lane.inFlight = undefined;
        lane.current = undefined;
        // Handed over: the new key's workflow writes this system's state, with the new address.
        if (isCancellation(error) && handingOver) {
          lane.state.status = 'idle';
          lane.state.resumesAt = undefined;
          return;
        }
        if (!(isCancellation(error) && lane.superseding)) throw error;
        // Superseded by a newer withdrawal: start over at once with the newest state.
        lane.state.status = 'idle';
        lane.state.resumesAt = undefined;
      }
      publishStatus();
    }
  }

  function handleReapplies(): void {
    for (const request of reapplies.splice(0)) {
      const decided = Object.keys(purposes) as Purpose[];
      for (const system of request.systems) {
        if (system === 'google') {
          if (purposes.statistics?.decision === 'withdrawn') markDirty('google', ['statistics']);
        } else if (decided.length > 0) {
          markDirty(system, decided);
        }
      }
    }
  }

  async function handleBatch(): Promise<void> {
    const batch = queue.splice(0).filter((change) => {
      // Copies of one change (a webhook delivered three times, a client's retried signal) count once.
      if (seen.has(change.eventId) || purposes[change.purpose]?.eventId === change.eventId) return false;
      seen.add(change.eventId);
      return true;
    });
    if (batch.length === 0) return;
    if (batch.some((change) => change.evidence.note) && patched(consentPatches.noteCrmNames)) {
      const checked = await learnCrmNames();
      // Names not checked: the note may hold them, so it is not kept (the change itself is, never refused).
      const withhold = !checked && patched(consentPatches.crmNamesRetry);
      for (const change of batch) {
        const { note } = change.evidence;
        if (note)
          change.evidence = {
            ...change.evidence,
            note: withhold ? withheldTextMarker : redactText(note, redactionSubject()),
          };
      }
    }
    // Issue 21: appending the changes is safe to repeat whole (each is kept once, by its event id), so a run
    // whose starter says so does it with a local activity inside the workflow task that took them in: one
    // marker, where the activity cost its task, three history events and one more workflow task. Versioned
    // by the start input (`localRecording`, as `localCompletion`), so replay needs no marker to tell the two
    // apart; a run started without it keeps the activity.
    const record = { subjectKey: input.subjectKey, changes: batch };
    const recorded = input.localRecording
      ? await ledgerLocal.recordConsentChanges(record)
      : await ledger.recordConsentChanges(record);
    erased = erased || recorded.erased;
    const accepted = batch.filter((change) => {
      // A grant is refused under a tombstone and while an erasure of the person runs.
      const skipped = recorded.results[change.eventId]?.skipped;
      if (skipped !== 'refused_after_erasure' && skipped !== 'refused_during_erasure') return true;
      refused.push(change.eventId);
      return false;
    });

    // Per purpose, only the change that wins over everything known so far moves the decision in force.
    const winners = new Map<Purpose, ConsentChangeSignal>();
    for (const change of accepted) {
      const best = winners.get(change.purpose) ?? purposes[change.purpose];
      if (supersedes(change, best)) {
        const previous = winners.get(change.purpose);
        if (previous) superseded.push(previous.eventId);
        winners.set(change.purpose, change);
      } else {
        superseded.push(change.eventId);
      }
    }
    const moved: Purpose[] = [];
    for (const change of winners.values()) {
      purposes[change.purpose] = {
        eventId: change.eventId,
        decision: change.decision,
        occurredAt: change.occurredAt,
        source: change.source,
        // The rule of domain/consent.ts's evidenceAllowsGrant (workflows import only types from outside).
        hasEvidence: Boolean(
          change.evidence.policyVersion || change.evidence.formId || change.evidence.requestRef,
        ),
      };
      moved.push(change.purpose);
    }
    // Every change taken in is settled at once unless it moved a decision: then once each lane it was
    // marked on has written (or withheld) that version.
    for (const change of batch) changeLanes.set(change.eventId, {});
    if (moved.length === 0) return;
    const needs: Partial<Record<SystemName, number>> = {
      dynamics: markDirty('dynamics', moved),
      mailchimp: markDirty('mailchimp', moved),
    };
    const google =
      moved.includes('statistics') && purposes.statistics?.decision === 'withdrawn'
        ? markDirty('google', ['statistics'])
        : undefined;
    for (const change of winners.values()) {
      changeLanes.set(change.eventId, {
        ...needs,
        ...(google !== undefined && change.purpose === 'statistics' ? { google } : {}),
      });
    }
  }

  const running = systems.map(runLane);
  let batches = 0;
  /** Something for the main loop: a change, a repair, or a re-key (which ends the loop). */
  const arrived = () => queue.length > 0 || reapplies.length > 0 || rekey !== undefined;
  for (;;) {
    if (rekey) break;
    if (lean) {
      // Ends at once when idle with an idle period of 0: a closed run needs no "idle" status, nor a timer.
      const endsNow =
        idleMs === 0 &&
        queue.length === 0 &&
        reapplies.length === 0 &&
        !busy() &&
        !holdOpen() &&
        batches < batchesPerRun &&
        !workflowInfo().continueAsNewSuggested;
      if (endsNow) break;
    }
    publishStatus();
    if (queue.length === 0 && reapplies.length === 0) {
      if (busy()) {
        await condition(() => arrived() || !busy());
        continue;
      }
      if (batches >= batchesPerRun || workflowInfo().continueAsNewSuggested) break;
      if (holdOpen()) {
        // No timer: nothing happens in the history until a change or reconciliation's repair arrives.
        await condition(arrived);
        continue;
      }
      const came = await condition(arrived, input.timings.idleAfter);
      if (!came) break;
      continue;
    }
    handleReapplies();
    await handleBatch();
    batches += 1;
  }

  if (rekey) return handOver(rekey);

  stopping = true;
  await Promise.all(running);
  await condition(allHandlersFinished);
  if (rekey) return handOver(rekey);
  // Work that arrived while the lanes stopped is carried into a fresh run, never dropped.
  const arrivedLate = queue.length > 0 || reapplies.length > 0;
  if (arrivedLate || batches >= batchesPerRun || workflowInfo().continueAsNewSuggested) {
    return continueAsNew<typeof consentWorkflow>({
      ...input,
      carried: {
        purposes,
        outcomes,
        pending: queue.splice(0),
        reapply: reapplies.splice(0),
        refused: refused.slice(-listsKept),
        superseded: superseded.slice(-listsKept),
        written: Object.fromEntries(
          systems.flatMap((s) => (lanes[s].state.written ? [[s, lanes[s].state.written]] : [])),
        ),
        unresolved: systems.filter((s) => lanes[s].unresolved),
        erased,
      },
    });
  }
  if (seen.size > 0) {
    const completion = { requestIds: [...seen], completedAt: new Date().toISOString() };
    // Issue 21: marking the changes completed is safe to repeat whole (the first time stays), so a run whose
    // starter says so does it with a local activity inside its last workflow task: one marker, where the
    // `completesRequests` patch cost its marker, Temporal's TemporalChangeVersion upsert, an activity task
    // and one more workflow task per change. The flag is in the start event, so replay needs no marker to
    // tell the two apart; a run started without it (before it, or by an older client) keeps the patch.
    if (input.localCompletion) await ledgerLocal.completeConsentRequests(completion);
    else if (patched(consentPatches.completesRequests)) await ledger.completeConsentRequests(completion);
  }
  return view();

  /**
   * Ends this run in favour of the person's new key (issue 18): every lane stops (a write in flight or an
   * operator's wait is cancelled: it would write the old address, which the systems no longer hold), then
   * one activity signals-with-start the new key's workflow with the changes not yet taken in and the
   * systems not yet written (or whose withdrawal failed and waits). Changes that reach this run meanwhile
   * are handed over too. The new run takes the decisions in force from the ledger, already re-keyed.
   */
  async function handOver(to: ConsentRekeySignal): Promise<ConsentStatusView> {
    handingOver = true;
    stopping = true;
    for (const system of systems) lanes[system].current?.cancel();
    await Promise.all(running);
    handleReapplies();
    let systemsLeft = systems.filter((s) => behind(s) || lanes[s].unresolved);
    for (;;) {
      const pending = queue.splice(0);
      reapplies.splice(0);
      await ledger.handOverConsent({
        fromSubjectKey: input.subjectKey,
        subjectKey: to.newSubjectKey,
        email: to.newEmail,
        requestId: to.requestId,
        timings: input.timings,
        pending,
        systems: systemsLeft,
      });
      systemsLeft = [];
      await condition(allHandlersFinished);
      if (queue.length === 0) break;
    }
    return {
      ...view(),
      inFlight: 0,
      rekeyedTo: { subjectKey: to.newSubjectKey, requestId: to.requestId, at: new Date().toISOString() },
    };
  }
}
