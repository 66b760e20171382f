/**
 * Records the histories the replay test (replay.test.ts) replays: one finished erasure, consent change and
 * reconciliation, run by the current workflow code against the vendor sandboxes and the real connectors.
 *
 *   npm run record-replay-histories
 *
 * Writes test/replay/histories/<kind>.history.pb (Temporal's History message, protobuf) and replay-keys.json, the
 * throwaway encryption key the histories' payloads are encrypted with (a test key, never a real one).
 * Re-record after a deliberate, incompatible workflow change (one that only affects new workflows, with
 * the old ones drained); a failing replay means running workflows would break.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal as proto } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withheldTextMarker } from '../../domain/redaction-names.js';
import { recordConsentChange } from '../../hub-client/consent.js';
import { consentBatchResult, recordConsentBatch } from '../../hub-client/consent-batch.js';
import {
  awaitReceipt,
  closeErasureSystem,
  lookupErasure,
  requestErasure,
} from '../../hub-client/erasures.js';
import { placeHold, releaseHold } from '../../hub-client/holds.js';
import { awaitRectification, requestRectification } from '../../hub-client/rectifications.js';
import { formatEncryptionKeys } from '../../privacy/encryption-keys.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { consentWorkflowId } from '../../workflows/consent-definitions.js';
import { redactOperatorTextWithCrmNamesUpdate } from '../../workflows/operator-text.js';
import { gatedLedger, type HeldCall } from '../support/gated-ledger.js';
import { shortGoogleDays } from '../support/google-quota-days.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

const folder = join(import.meta.dirname, 'histories');
/** Histories of one workflow change, with their own key (so they can be re-recorded on their own). */
const followUpFolder = join(folder, 'erasure-follow-up');
/**
 * An erasure whose Dynamics step is closed by an operator after a 403: the receipt's record list for a
 * closed system. `CONSENT_HUB_REPLAY_INTO` names the folder below histories/ (the previous code's history
 * went to previous-versions/before-unfinished-system-records/).
 */
const unfinishedFolder = join(folder, process.env.CONSENT_HUB_REPLAY_INTO ?? 'erasure-unfinished-system');
/** An erasure that a hold placed while it ran stopped, restricted and, after the release, finished. */
const holdDuringRunFolder = join(folder, 'erasure-hold-during-run');
/** The consent workflow after issue 21's fewer actions: `-t 'fewer actions'` records only these. */
const fewerActionsFolder = join(folder, 'consent-fewer-actions');
/** The bulk path's batch workflow (issue 21): `-t 'consent batch'` records only this. */
const batchFolder = join(folder, 'consent-batch');
/**
 * Issue 16's failed name lookup, asked again (patch consent-crm-names-retry): `-t 'names retry'` records
 * only this.
 */
const namesRetryFolder = join(folder, 'consent-crm-names-retry');
/**
 * Issue 15's Google paths: harvested GA ids paged through the ledger (erasure-ga-ids-paged), the consent
 * lane in one activity (consent-google-lane-bounded) with the CRM's names read bounded
 * (consent-crm-names-bounded), and Google's daily quota met on two days in a row with progress in between
 * (vendor-wait-after-progress). `-t 'Google daily quota'` records only these.
 */
const googleQuotaFolder = join(folder, 'google-daily-quota');

describe('recording replay histories', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let hold: (method: 'recordReceipt') => HeldCall;
  const email = 'replay.person@example.com';

  beforeAll(async () => {
    hub = await startHubWithVendors('replay-record', {
      wrapLedger: (ledger) => {
        const gated = gatedLedger(ledger);
        hold = gated.hold;
        return gated.ledger;
      },
    });
    await hub.vendors.dynamics.control.seed({
      contacts: [
        { firstname: 'Replay', lastname: 'Person', emailaddress1: email, new_gaclientid: '42.4242' },
      ],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: 'replay-news', name: 'News', members: [{ email_address: email, status: 'subscribed' }] }],
    });
  });
  afterAll(() => hub?.close());

  const save = async (kind: string, workflowId: string, runId?: string, into = folder) => {
    const history = await hub.temporal.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const { History } = proto.api.history.v1;
    writeFileSync(join(into, `${kind}.history.pb`), History.encode(History.fromObject(history)).finish());
    return history;
  };

  it('records a finished consent change, reconciliation and erasure', { timeout: 300_000 }, async () => {
    const { temporal } = hub;
    const context = temporal.context();
    const keys = `${JSON.stringify({ encryptionKeys: formatEncryptionKeys(temporal.secrets.encryptionKeys) }, null, 2)}\n`;
    writeFileSync(join(import.meta.dirname, 'replay-keys.json'), keys);
    mkdirSync(followUpFolder, { recursive: true });
    writeFileSync(join(followUpFolder, 'replay-keys.json'), keys);

    await recordConsentChange(context, {
      email,
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'cli',
    });
    const consent = temporal.client.workflow.getHandle(
      consentWorkflowId(subjectKeyFor(email, temporal.secrets.subjectKeySecret)),
    );
    // The consent workflow ends once idle (5 s in tests).
    await consent.result();
    expect((await save('consent', consent.workflowId)).events?.length).toBeGreaterThan(5);

    const reconciliation = await temporal.client.workflow.start('reconciliationWorkflow', {
      taskQueue: temporal.taskQueue,
      workflowId: `replay-reconciliation-${Date.now()}`,
      args: [{ full: true, pageSize: 50 }],
    });
    await reconciliation.result();
    expect((await save('reconciliation', reconciliation.workflowId)).events?.length).toBeGreaterThan(5);

    const erasure = await requestErasure(context, {
      email,
      requestedBy: 'replay-recorder',
      requestedAt: new Date().toISOString(),
    });
    await awaitReceipt(context, erasure);
    const workflowId = `erasure-${subjectKeyFor(email, temporal.secrets.subjectKeySecret)}`;
    expect((await save('erasure', workflowId)).events?.length).toBeGreaterThan(5);

    // A second request for the same person that arrives while the first one's receipt is being written.
    const lateEmail = 'replay.late@example.com';
    const receiptWrite = hold('recordReceipt');
    const first = await requestErasure(context, {
      email: lateEmail,
      requestedBy: 'replay-recorder',
      requestedAt: new Date().toISOString(),
    });
    await receiptWrite.arrived;
    await requestErasure(context, {
      email: lateEmail,
      gaClientIds: ['77.7777'],
      requestedBy: 'replay-late-requester',
      requestedAt: new Date().toISOString(),
    });
    receiptWrite.release();
    await awaitReceipt(context, first);
    // The first run: its receipt, the patch marker, and the continue-as-new into the follow-up.
    const continued = await save('erasure-late-request', first.workflowId, first.requestId, followUpFolder);
    expect(continued.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
  });

  it('records an erasure whose Dynamics step an operator closed after a 403', {
    timeout: 300_000,
  }, async () => {
    const { temporal } = hub;
    const context = temporal.context();
    mkdirSync(unfinishedFolder, { recursive: true });
    const keys = `${JSON.stringify({ encryptionKeys: formatEncryptionKeys(temporal.secrets.encryptionKeys) }, null, 2)}\n`;
    writeFileSync(join(unfinishedFolder, 'replay-keys.json'), keys);
    const closedEmail = 'replay.closed@example.com';
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Replay', lastname: 'Closed', emailaddress1: closedEmail }],
    });
    await hub.vendors.dynamics.control.fail({
      method: 'DELETE',
      path: '^/api/data/v9.2/contacts',
      status: 403,
      count: 1,
    });
    const started = await requestErasure(context, {
      email: closedEmail,
      requestedBy: 'replay-recorder',
      requestedAt: new Date().toISOString(),
    });
    for (let i = 0; ; i++) {
      const found = await lookupErasure(context, started.requestId);
      if (found.state === 'open' && found.status.systems.dynamics.status === 'needs_attention') break;
      if (i > 400) throw new Error('Dynamics never needed attention');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await closeErasureSystem(context, started.requestId, {
      system: 'dynamics',
      reason: 'no delete rights',
      operator: 'replay-operator',
    });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.systems.dynamics.status).toBe('closed_by_operator');
    await save('erasure-closed-system', started.workflowId, started.requestId, unfinishedFolder);
  });

  it('records an erasure that a hold placed while it ran stopped, restricted, and finished after the release', {
    timeout: 300_000,
  }, async () => {
    const { temporal } = hub;
    const context = temporal.context();
    mkdirSync(holdDuringRunFolder, { recursive: true });
    const keys = `${JSON.stringify({ encryptionKeys: formatEncryptionKeys(temporal.secrets.encryptionKeys) }, null, 2)}\n`;
    writeFileSync(join(holdDuringRunFolder, 'replay-keys.json'), keys);
    const heldEmail = 'replay.held-during-run@example.com';
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Replay', lastname: 'Held', emailaddress1: heldEmail }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: 'replay-news', name: 'News', members: [{ email_address: heldEmail, status: 'subscribed' }] },
      ],
    });
    await hub.vendors.mailchimp.control.fail({ path: 'delete-permanent', status: 503, count: 10_000 });
    const started = await requestErasure(context, {
      email: heldEmail,
      requestedBy: 'replay-recorder',
      requestedAt: new Date().toISOString(),
    });
    const waitFor = async (
      test: (status: { status: string; systems: Record<string, { status: string }> }) => boolean,
    ) => {
      for (let i = 0; ; i++) {
        const found = await lookupErasure(context, started.requestId);
        if (found.state === 'open' && test(found.status)) return;
        if (i > 400) throw new Error('the erasure never reached the state');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    await waitFor((s) => s.systems.dynamics?.status === 'erased');
    await placeHold(context, hub.ledger, { email: heldEmail, reason: 'legal_claims', placedBy: 'replay' });
    await hub.vendors.mailchimp.control.clearFaults();
    await waitFor((s) => s.status === 'on_hold');
    await releaseHold(context, hub.ledger, { email: heldEmail, reason: 'resolved', releasedBy: 'replay' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.restriction?.arrivedDuringErasure?.deletedBefore.dynamics?.recordCount).toBe(1);
    expect(receipt.systems.mailchimp.status).toBe('erased');
    await save('erasure-hold-during-run', started.workflowId, started.requestId, holdDuringRunFolder);
  });

  it('records a consent change on the fewer actions path, ending as soon as its writes are done', {
    timeout: 120_000,
  }, async () => {
    const { temporal } = hub;
    mkdirSync(fewerActionsFolder, { recursive: true });
    const keys = `${JSON.stringify({ encryptionKeys: formatEncryptionKeys(temporal.secrets.encryptionKeys) }, null, 2)}\n`;
    writeFileSync(join(fewerActionsFolder, 'replay-keys.json'), keys);
    const context = temporal.context();
    const leanEmail = 'replay.lean@example.com';
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Replay', lastname: 'Lean', emailaddress1: leanEmail }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: 'replay-news', name: 'News', members: [{ email_address: leanEmail, status: 'subscribed' }] },
      ],
    });
    await recordConsentChange(
      { ...context, consentTimings: { ...context.consentTimings, idleAfter: '0' } },
      {
        email: leanEmail,
        purpose: 'marketing_email',
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        source: 'cli',
      },
    );
    const consent = temporal.client.workflow.getHandle(
      consentWorkflowId(subjectKeyFor(leanEmail, temporal.secrets.subjectKeySecret)),
    );
    await consent.result();
    expect(
      (await save('consent-ends-when-idle', consent.workflowId, undefined, fewerActionsFolder)).events
        ?.length,
    ).toBeGreaterThan(5);
  });
  it("records a consent change whose note came while Dynamics was down (names retry): the note withheld, the names read again for an operator's text", {
    timeout: 180_000,
  }, async () => {
    const { temporal } = hub;
    mkdirSync(namesRetryFolder, { recursive: true });
    const keys = `${JSON.stringify({ encryptionKeys: formatEncryptionKeys(temporal.secrets.encryptionKeys) }, null, 2)}\n`;
    writeFileSync(join(namesRetryFolder, 'replay-keys.json'), keys);
    const context = temporal.context();
    const retryEmail = 'replay.retry@example.com';
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Replay', lastname: 'Retry', emailaddress1: retryEmail }],
    });
    const consent = temporal.client.workflow.getHandle(
      consentWorkflowId(subjectKeyFor(retryEmail, temporal.secrets.subjectKeySecret)),
    );
    await hub.vendors.dynamics.control.outage(true);
    try {
      const accepted = await recordConsentChange(context, {
        email: retryEmail,
        purpose: 'phone',
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        source: 'cli',
        evidence: { note: 'Replay Retry called' },
      });
      let event: Awaited<ReturnType<typeof hub.ledger.getConsentEvent>>;
      for (let i = 0; i < 240 && !event; i++) {
        event = await hub.ledger.getConsentEvent(accepted.eventId);
        if (!event) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(event?.evidence.note).toBe(withheldTextMarker);
    } finally {
      await hub.vendors.dynamics.control.outage(false);
    }
    // The same run asks Dynamics again for an operator's text, and now it answers the names.
    expect(await consent.executeUpdate(redactOperatorTextWithCrmNamesUpdate)).toBe(2);
    await consent.result();
    expect(
      (await save('consent-names-retry', consent.workflowId, undefined, namesRetryFolder)).events?.length,
    ).toBeGreaterThan(5);
  });

  it('records a consent batch through the bulk path, with a person handed to their own workflow', {
    timeout: 120_000,
  }, async () => {
    const { temporal } = hub;
    mkdirSync(batchFolder, { recursive: true });
    const keys = `${JSON.stringify({ encryptionKeys: formatEncryptionKeys(temporal.secrets.encryptionKeys) }, null, 2)}\n`;
    writeFileSync(join(batchFolder, 'replay-keys.json'), keys);
    const context = temporal.context();
    const people = ['replay.batch.1@example.com', 'replay.batch.2@example.com'];
    await hub.vendors.dynamics.control.seed({
      contacts: people.map((email) => ({ firstname: 'Replay', lastname: 'Batch', emailaddress1: email })),
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        {
          id: 'replay-news',
          name: 'News',
          members: people.map((email) => ({ email_address: email, status: 'subscribed' })),
        },
      ],
    });
    const occurredAt = new Date().toISOString();
    const batch = await recordConsentBatch(context, [
      ...people.map((email, index) => ({
        index,
        change: {
          email,
          purpose: 'marketing_email' as const,
          decision: 'withdrawn' as const,
          occurredAt,
          source: 'replay',
          evidence: {},
        },
      })),
      {
        index: 2,
        change: {
          email: 'replay.batch.grant@example.com',
          purpose: 'marketing_email' as const,
          decision: 'granted' as const,
          occurredAt,
          source: 'replay',
          evidence: { policyVersion: '2026-01' },
        },
      },
    ]);
    const result = await consentBatchResult(context, batch.batchId);
    expect(result.results.map((r) => r.route).sort()).toEqual(['bulk', 'bulk', 'person']);
    expect(
      (await save('consent-batch', String(batch.workflowId), undefined, batchFolder)).events?.length,
    ).toBeGreaterThan(5);
  });
});

describe('recording replay histories: Google daily quota', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  beforeAll(async () => {
    // A quota of 3 deletions a day and a four-second day (test/support/google-quota-days.ts).
    hub = await startHubWithVendors('replay-record-google', {
      vendors: {
        google: { requestsPerSecond: 100, dailyQuotaPerProperty: 3, dailyQuotaPerProject: 1_000_000 },
      },
      env: { GA_REQUESTS_PER_SECOND: '100' },
      wrapConnectors: shortGoogleDays({ resetAfterMs: 4_000 }),
    });
  });
  afterAll(() => hub?.close());

  const save = async (kind: string, workflowId: string, runId?: string) => {
    const history = await hub.temporal.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const { History } = proto.api.history.v1;
    writeFileSync(
      join(googleQuotaFolder, `${kind}.history.pb`),
      History.encode(History.fromObject(history)).finish(),
    );
    return history;
  };

  it('records a statistics withdrawal and an erasure of 7 GA ids over three days of a quota of 3', {
    timeout: 300_000,
  }, async () => {
    const { temporal } = hub;
    mkdirSync(googleQuotaFolder, { recursive: true });
    const keys = `${JSON.stringify({ encryptionKeys: formatEncryptionKeys(temporal.secrets.encryptionKeys) }, null, 2)}\n`;
    writeFileSync(join(googleQuotaFolder, 'replay-keys.json'), keys);
    const base = temporal.context();
    const short = { attentionAfter: '3 seconds', heartbeatTimeout: '2 seconds' };
    const context = {
      ...base,
      timings: { ...base.timings, ...short },
      consentTimings: { ...base.consentTimings, ...short },
    };
    const withdrawing = 'replay.statistics@example.com';
    const erased = 'replay.ga-ids@example.com';
    await hub.vendors.dynamics.control.seed({
      leads: [
        ...Array.from({ length: 7 }, (_, i) => ({
          firstname: 'Replay',
          lastname: `Stats${i}`,
          emailaddress1: withdrawing,
          new_gaclientid: `${9100 + i}.${1650000000 + i}`,
        })),
        ...Array.from({ length: 5 }, (_, i) => ({
          firstname: 'Replay',
          lastname: `Ga${i}`,
          emailaddress1: erased,
          new_gaclientid: `GA1.1.${9200 + i}.${1660000000 + i}`,
        })),
      ],
    });
    await recordConsentChange(context, {
      email: withdrawing,
      purpose: 'statistics',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'cli',
      // A note makes the run read the CRM's names (bounded) to redact it.
      evidence: { channel: 'cli', note: 'asked by phone' },
    });
    const consent = temporal.client.workflow.getHandle(
      consentWorkflowId(subjectKeyFor(withdrawing, temporal.secrets.subjectKeySecret)),
    );
    await consent.result();
    await save('consent-google-quota-days', consent.workflowId);

    const started = await requestErasure(context, {
      email: erased,
      gaClientIds: ['9200.1660000000', '9300.1670000000', '9301.1670000001'],
      requestedBy: 'replay-recorder',
      requestedAt: new Date().toISOString(),
    });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.systems.google.status).toBe('submitted');
    expect(receipt.systems.google.recordCount).toBe(7);
    await save('erasure-google-quota-days', started.workflowId, started.requestId);
  });

  it('records a rectification that harvests every system first (patch rectification-harvest-first)', {
    timeout: 120_000,
  }, async () => {
    const { temporal } = hub;
    mkdirSync(googleQuotaFolder, { recursive: true });
    const context = {
      ...temporal.context(),
      timings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes', heartbeatTimeout: '10 seconds' },
    };
    const oldEmail = 'replay.rectify@example.com';
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Replay', lastname: 'Rectify', emailaddress1: oldEmail }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [
        { id: 'replay-news', name: 'News', members: [{ email_address: oldEmail, status: 'subscribed' }] },
      ],
    });
    const started = await requestRectification(
      context,
      {
        email: oldEmail,
        set: { email: 'replay.rectified@example.com', firstname: 'Replayed' },
        requestedBy: 'replay-recorder',
        requestedAt: new Date().toISOString(),
      },
      { ledger: hub.ledger },
    );
    await awaitRectification(context, started);
    await save('rectification-harvest-first', started.workflowId);
  });
});
