import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../logging/logger.js';
import { dataConverterFor } from '../../privacy/data-converter.js';
import { encryptionKeysSchema } from '../../privacy/encryption-keys.js';
import { installTemporalRuntimeLogger } from '../../temporal/runtime-logger.js';
import { consentPatches } from '../../workflows/consent.js';
import { erasurePatches } from '../../workflows/erasure.js';
import { vendorWaitAfterProgressPatch } from '../../workflows/operator-gate.js';

// The SDK's own log lines go through the hub's logger; only errors are worth printing here.
installTemporalRuntimeLogger(createLogger({ level: 'error', format: 'json' }));

const folder = join(import.meta.dirname, 'histories');
const kinds = ['erasure', 'consent', 'reconciliation'];
const { EventType } = proto.api.enums.v1;

type History = proto.api.history.v1.IHistory;
type HistoryEvent = proto.api.history.v1.IHistoryEvent;
interface HistorySet {
  /** Where the histories lie, relative to histories/ ('' for the current code's main set). */
  name: string;
  keysFile: string;
  histories: { workflowId: string; history: History }[];
}

function loadFolder(path: string): HistorySet['histories'] {
  return readdirSync(path)
    .filter((name) => name.endsWith('.history.pb'))
    .map((name) => ({
      workflowId: name.replace(/\.history\.pb$/, ''),
      history: proto.api.history.v1.History.decode(readFileSync(join(path, name))),
    }));
}

/**
 * The main set (recorded by the current code, key in replay-keys.json) and every folder below histories/
 * that holds its own replay-keys.json: histories of one workflow change, recorded by the code of the time
 * (previous-versions/) or by the code that made the change, kept so that both paths stay replayable.
 */
function loadHistorySets(): HistorySet[] {
  const sets: HistorySet[] = [
    { name: '', keysFile: join(import.meta.dirname, 'replay-keys.json'), histories: loadFolder(folder) },
  ];
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(folder, relative), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const name = relative ? `${relative}/${entry.name}` : entry.name;
      const keysFile = join(folder, name, 'replay-keys.json');
      if (existsSync(keysFile)) sets.push({ name, keysFile, histories: loadFolder(join(folder, name)) });
      walk(name);
    }
  };
  walk('');
  return sets;
}

function loadHistories() {
  return loadHistorySets()[0]?.histories ?? [];
}

function replayOptions(keysFile = join(import.meta.dirname, 'replay-keys.json')) {
  const { encryptionKeys } = JSON.parse(readFileSync(keysFile, 'utf8')) as { encryptionKeys: string };
  return {
    // The same bundle the workers of this test run use: the current workflow code.
    workflowBundle: { codePath: inject('workflowBundlePath') },
    dataConverter: dataConverterFor(encryptionKeysSchema.parse(encryptionKeys)),
    replayName: 'consent-hub-replay',
  };
}

const eventName = (event: { eventType?: unknown }) => EventType[event.eventType as number] ?? '';
const activityNames = (history: History) =>
  (history.events ?? []).map(
    (e: HistoryEvent) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? '',
  );
const patchIds = (history: History) =>
  (history.events ?? []).flatMap((e: HistoryEvent) => {
    const details = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
    return details ? [JSON.parse(Buffer.from(details).toString('utf8')).id as string] : [];
  });
const upsertedKeys = (history: History) =>
  (history.events ?? []).flatMap((e: HistoryEvent) =>
    Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
  );

/**
 * Recorded histories of finished workflows (npm run record-replay-histories) replayed against the current
 * workflow code: a change that would break workflows already running (a reordered activity, a removed
 * timer, a new command without a patch) fails here, before it reaches a worker.
 */
describe('workflow histories replay against the current workflow code', () => {
  it('has a history of every kind of workflow', () => {
    expect(
      loadHistories()
        .map((h) => h.workflowId)
        .sort(),
    ).toEqual([...kinds].sort());
  });

  it('replays every recorded history without a nondeterminism error', { timeout: 120_000 }, async () => {
    const results: { set: string; workflowId: string; error?: string }[] = [];
    const expected: typeof results = [];
    for (const set of loadHistorySets()) {
      for await (const result of Worker.runReplayHistories(replayOptions(set.keysFile), set.histories))
        results.push({
          set: set.name,
          workflowId: result.workflowId,
          error: result.error && String(result.error),
        });
      expected.push(
        ...set.histories.map(({ workflowId }) => ({ set: set.name, workflowId, error: undefined })),
      );
    }
    const order = (a: { set: string; workflowId: string }, b: typeof a) =>
      `${a.set}/${a.workflowId}`.localeCompare(`${b.set}/${b.workflowId}`);
    expect(results.sort(order)).toEqual(expected.sort(order));
  });

  it("keeps the path of a failed name lookup asked again: the consent run's patch marker and two lookups, the first failed", () => {
    const found = loadHistorySets()
      .find((s) => s.name === 'consent-crm-names-retry')
      ?.histories.find((h) => h.workflowId === 'consent-names-retry');
    if (!found) throw new Error('no consent-names-retry history');
    const { history } = found;
    expect(patchIds(history)).toContain(consentPatches.crmNamesRetry);
    const events = history.events ?? [];
    const lookups = events.filter(
      (e: HistoryEvent) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'findCrmNames',
    );
    // Recorded with Dynamics down for the note, then up for the operator's text: the second is a new lookup.
    expect(lookups.length).toBeGreaterThanOrEqual(2);
    expect(
      events.some(
        (e: HistoryEvent) => e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes,
      ),
    ).toBe(true);
    // The histories recorded before the patch replay too (above), along the old path: no marker there.
    const before = loadHistories().find((h) => h.workflowId === 'consent');
    expect(before && patchIds(before.history)).not.toContain(consentPatches.crmNamesRetry);
  });

  it('keeps both paths of the late-request follow-up: an erasure from before it, and one after', () => {
    const sets = loadHistorySets();
    const history = (set: string) => {
      const found = sets
        .find((s) => s.name === set)
        ?.histories.find((h) => h.workflowId === 'erasure-late-request');
      if (!found) throw new Error(`no erasure-late-request history in ${set}`);
      return found.history;
    };
    // Recorded before the change: a request signalled while the receipt was written; the run completed
    // without a follow-up. Replayed above, it passes only because the new path is behind its patch.
    const before = history('previous-versions/before-late-request-follow-up');
    const events = before.events ?? [];
    const receiptAt = activityNames(before).indexOf('recordErasureOutcome');
    const lateSignal = events.findIndex(
      (e: HistoryEvent, i: number) =>
        i > receiptAt && e.workflowExecutionSignaledEventAttributes?.signalName === 'mergeErasureRequest',
    );
    expect(receiptAt).toBeGreaterThan(0);
    expect(lateSignal).toBeGreaterThan(receiptAt);
    expect(patchIds(before)).toEqual([]);
    expect(eventName(events.at(-1) ?? {})).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    // Recorded after: the same situation continues as a follow-up erasure, behind the patch's marker.
    const after = history('erasure-follow-up');
    expect(patchIds(after)).toEqual([erasurePatches.lateRequestFollowUp]);
    expect(eventName(after.events?.at(-1) ?? {})).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
  });

  it('keeps both paths of the records of a closed system: an erasure from before, and one after', () => {
    const sets = loadHistorySets();
    const history = (set: string) => {
      const found = sets
        .find((s) => s.name === set)
        ?.histories.find((h) => h.workflowId === 'erasure-closed-system');
      if (!found) throw new Error(`no erasure-closed-system history in ${set}`);
      return found.history;
    };
    const closedAt = (h: History) =>
      (h.events ?? []).findIndex(
        (e: HistoryEvent) =>
          e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'closeSystem',
      );
    // Recorded before the change: the operator closed Dynamics and no summary of its records followed.
    const before = history('previous-versions/before-unfinished-system-records');
    expect(closedAt(before)).toBeGreaterThan(0);
    expect(patchIds(before)).not.toContain(erasurePatches.unfinishedSystemRecords);
    const summariesBefore = activityNames(before).filter((name) => name === 'summariseErasureSystem');
    // Recorded after: the close is followed by the patch's marker and one more summary (the closed system's).
    const after = history('erasure-unfinished-system');
    expect(closedAt(after)).toBeGreaterThan(0);
    expect(patchIds(after)).toContain(erasurePatches.unfinishedSystemRecords);
    const summariesAfter = activityNames(after).filter((name) => name === 'summariseErasureSystem');
    expect(summariesAfter.length).toBe(summariesBefore.length + 1);
  });

  it('keeps the path of a hold placed while an erasure runs: its patch, the signal, restriction before the last deletes', () => {
    const found = loadHistorySets()
      .find((s) => s.name === 'erasure-hold-during-run')
      ?.histories.find((h) => h.workflowId === 'erasure-hold-during-run');
    if (!found) throw new Error('no erasure-hold-during-run history');
    const { history } = found;
    expect(patchIds(history)).toContain(erasurePatches.holdDuringRun);
    const events = history.events ?? [];
    const holdSignal = events.findIndex(
      (e: HistoryEvent) => e.workflowExecutionSignaledEventAttributes?.signalName === 'holdPlaced',
    );
    const releaseSignal = events.findIndex(
      (e: HistoryEvent) => e.workflowExecutionSignaledEventAttributes?.signalName === 'holdReleased',
    );
    expect(holdSignal).toBeGreaterThan(0);
    expect(releaseSignal).toBeGreaterThan(holdSignal);
    const names = activityNames(history);
    const firstRestrict = names.indexOf('restrictInSystem');
    // Restricted after the hold, then deleted again after the release (Mailchimp, stopped by the hold).
    expect(firstRestrict).toBeGreaterThan(holdSignal);
    expect(names.lastIndexOf('deleteErasurePage')).toBeGreaterThan(releaseSignal);
    expect(names.filter((name) => name === 'recordRestriction')).toHaveLength(2);
    // The histories recorded before the patch replay too (above) along the old path: no marker there.
    const before = loadHistories().find((h) => h.workflowId === 'erasure');
    expect(before && patchIds(before.history)).not.toContain(erasurePatches.holdDuringRun);
  });

  it('keeps both paths of the consent workflow’s fewer actions: a change from before it, and one after', () => {
    const sets = loadHistorySets();
    const history = (set: string, workflowId: string) => {
      const found = sets.find((s) => s.name === set)?.histories.find((h) => h.workflowId === workflowId);
      if (!found) throw new Error(`no ${workflowId} history in ${set}`);
      return found.history;
    };
    const count = (h: History, type: string) => (h.events ?? []).filter((e) => eventName(e) === type).length;
    // Recorded before the change: the ledger read as an activity, a "running" and an "idle" upsert, the
    // idle timer. Replayed above, it passes only because the new path is behind its patch.
    const before = history('previous-versions/before-consent-fewer-actions', 'consent');
    expect(patchIds(before)).not.toContain(consentPatches.fewerActions);
    expect(activityNames(before)).toContain('loadConsentState');
    expect(upsertedKeys(before)).toEqual(['ConsentStatus', 'ConsentStatus']);
    expect(count(before, 'EVENT_TYPE_TIMER_STARTED')).toBe(1);
    // Recorded after, with an idle period of 0: the read is a local activity (a marker), no upsert, no
    // timer; the change is recorded and written to both tools by activities as before.
    const after = history('consent-fewer-actions', 'consent-ends-when-idle');
    expect(patchIds(after)).toEqual([consentPatches.fewerActions]);
    expect(activityNames(after)).not.toContain('loadConsentState');
    expect(activityNames(after).filter(Boolean).sort()).toEqual([
      'applyConsentStateInSystem',
      'applyConsentStateInSystem',
      'recordConsentChanges',
    ]);
    expect(count(after, 'EVENT_TYPE_MARKER_RECORDED')).toBe(2);
    // The only upsert left is the SDK's own TemporalChangeVersion, which comes with the patch's marker.
    expect(upsertedKeys(after)).toEqual(['TemporalChangeVersion']);
    expect(count(after, 'EVENT_TYPE_TIMER_STARTED')).toBe(0);
    expect(eventName(after.events?.at(-1) ?? {})).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    expect((after.events ?? []).length).toBeLessThan((before.events ?? []).length);
  });

  it("keeps issue 15's Google paths: harvested ids paged, the bounded consent lane, and a quota met on two days with progress between", () => {
    const set = loadHistorySets().find((s) => s.name === 'google-daily-quota');
    const history = (workflowId: string) => {
      const found = set?.histories.find((h) => h.workflowId === workflowId);
      if (!found) throw new Error(`no ${workflowId} history in google-daily-quota`);
      return found.history;
    };
    const timers = (h: History) =>
      (h.events ?? []).filter((e) => eventName(e) === 'EVENT_TYPE_TIMER_STARTED');
    // Seven GA ids against a quota of three: two waits for the reset (durable timers), the second one after
    // a day that got ids accepted, behind its patch; the Google step ran on three days.
    const erasure = history('erasure-google-quota-days');
    expect(patchIds(erasure)).toEqual(
      expect.arrayContaining([erasurePatches.gaIdsPaged, vendorWaitAfterProgressPatch]),
    );
    expect(activityNames(erasure).filter((name) => name === 'submitErasure')).toHaveLength(3);
    expect(timers(erasure)).toHaveLength(2);
    const consent = history('consent-google-quota-days');
    expect(patchIds(consent)).toEqual(
      expect.arrayContaining([
        consentPatches.googleLaneBounded,
        consentPatches.crmNamesBounded,
        vendorWaitAfterProgressPatch,
      ]),
    );
    expect(activityNames(consent).filter((name) => name === 'applyGoogleConsentFromCrm')).toHaveLength(3);
    expect(activityNames(consent)).toContain('findCrmNames');
    expect(activityNames(consent)).not.toContain('findInSystem');
    // A rectification that harvested every system before writing (rectification-harvest-first).
    const rectification = history('rectification-harvest-first');
    expect(patchIds(rectification)).toContain('rectification-harvest-first');
    // The main set's histories come from before these patches and replay along the old paths (above).
    const before = loadHistories().find((h) => h.workflowId === 'erasure');
    expect(before && patchIds(before.history)).not.toContain(vendorWaitAfterProgressPatch);
  });

  it('fails a history that does not match the code (so the check above can fail)', {
    timeout: 60_000,
  }, async () => {
    const erasure = loadHistories().find((h) => h.workflowId === 'erasure');
    if (!erasure) throw new Error('no erasure history');
    // The erasure's events replayed as a consent workflow: its commands cannot match.
    const started = erasure.history.events?.[0]?.workflowExecutionStartedEventAttributes;
    if (!started?.workflowType) throw new Error('no start event');
    started.workflowType.name = 'consentWorkflow';
    await expect(Worker.runReplayHistory(replayOptions(), erasure.history, 'mismatch')).rejects.toThrow();
  });
});
