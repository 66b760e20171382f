import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureStatusView } from '../../domain/erasure.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import {
  awaitReceipt,
  closeErasureSystem,
  type HubClientContext,
  lookupErasure,
  requestErasure,
} from '../../hub-client/erasures.js';
import { consentStateFromLedger } from '../../ledger/consent-state.js';
import { keyedVendorId } from '../../privacy/keyed-id.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import type { GoogleSandboxState } from '../../sandboxes/google/store.js';
import { consentWorkflowId } from '../../workflows/consent-definitions.js';
import { googleSandboxProperty, shortGoogleDays } from '../support/google-quota-days.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

/** The sandbox's daily quota of user deletions per property here: a test knob, Google's is 500. */
const dailyQuota = 3;
/** "Midnight Pacific" in this test: longer than the steps' attention deadline (3 s), so the workflow waits. */
const resetAfterMs = 4_000;
const property = googleSandboxProperty;

/**
 * Issue 15: Google's User Deletion API takes 500 deletions a day per property. A person with more GA ids
 * than that must be done in ceil(ids / quota) days, each day going on where the last one stopped, every id
 * sent exactly once. Here the quota is 3 and a day lasts 4 seconds: the Google connector's answer to a used-up
 * daily quota is told to come back after `resetAfterMs` (not at midnight Pacific), and the sandbox's count
 * of the day is reset one second after the refusal, as Google's is at midnight.
 */
describe('Google daily quota: progress kept across days', { timeout: 240_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: ConsentClientContext;
  let counter = 0;
  const quotaRefusals = { count: 0 };
  /** Whether "midnight" comes after a refusal: off, the quota stays used up, as on a day others used it. */
  const midnight = { comes: true };
  let erasureContext: HubClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('google-daily-quota', {
      subjectKeys: true,
      vendors: {
        google: {
          requestsPerSecond: 100,
          dailyQuotaPerProperty: dailyQuota,
          dailyQuotaPerProject: 1_000_000,
        },
      },
      env: { GA_REQUESTS_PER_SECOND: '100' },
      wrapConnectors: shortGoogleDays({ resetAfterMs, midnight, refusals: quotaRefusals }),
    });
    const base = hub.temporal.context();
    context = {
      ...base,
      consentTimings: { ...base.consentTimings, attentionAfter: '3 seconds', heartbeatTimeout: '2 seconds' },
    };
    erasureContext = {
      ...base,
      timings: { attentionAfter: '3 seconds', operatorDeadline: '5 minutes', heartbeatTimeout: '2 seconds' },
    };
  });
  afterAll(() => hub?.close());

  const googleRecords = async () => {
    const state = (await hub.vendors.google.control.state()) as GoogleSandboxState;
    return Object.values(state.deletionRequests).flat();
  };

  async function withdrawStatistics(crmGaIds: string[]) {
    const email = `quota.${Date.now()}.${counter++}@example.com`;
    await hub.vendors.dynamics.control.seed({
      leads: crmGaIds.map((id, i) => ({
        firstname: 'Quo',
        lastname: `Ta${i}`,
        emailaddress1: email,
        new_gaclientid: id,
      })),
    });
    await recordConsentChange(context, {
      email,
      purpose: 'statistics',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'test',
    });
    const subjectKey = subjectKeyFor(email, context.subjectKeySecret);
    await hub.temporal.client.workflow.getHandle(consentWorkflowId(subjectKey)).result();
    return { subjectKey };
  }

  it('consent: 7 GA ids with a quota of 3 a day are all deleted in 3 days, each sent once, with no operator', async () => {
    const gaIds = Array.from({ length: 7 }, (_, i) => `${5100 + i}.${1610000000 + i}`);
    const refusalsBefore = quotaRefusals.count;
    const { subjectKey } = await withdrawStatistics(gaIds);

    const records = await googleRecords();
    for (const id of gaIds) {
      expect(records.filter((r) => r.identifier === id).map((r) => r.submissions)).toEqual([1]);
    }
    // Two days ran out of quota (3 + 3), the third day finished the lane.
    expect(quotaRefusals.count - refusalsBefore).toBe(2);
    const state = await consentStateFromLedger(hub.ledger, subjectKey);
    expect(state.outcomes.statistics?.google).toBe('applied');
    expect(state.written.google?.outcome).toBe('applied');
  });

  it('consent: a _ga cookie in the CRM is sent as its client id, once with the same id elsewhere, and garbage is reported, not sent or applied', async () => {
    await hub.vendors.google.control.seed({ quotaUsed: { properties: { [property]: 0 } } });
    const { subjectKey } = await withdrawStatistics([
      'GA1.1.6200.1620000000',
      '6200.1620000000',
      'not a client id',
    ]);
    const records = await googleRecords();
    expect(records.filter((r) => r.identifier === '6200.1620000000').map((r) => r.submissions)).toEqual([1]);
    expect(records.some((r) => r.identifier.startsWith('GA1.') || r.identifier.includes('not a'))).toBe(
      false,
    );
    const state = await consentStateFromLedger(hub.ledger, subjectKey);
    expect(state.written.google?.outcome).toBe('applied');
    expect(state.written.google?.fields.unusableGaClientIds).toMatch(/^1 from dynamics: /);
  });

  it('consent: a CRM holding only unusable GA ids is not reported as applied', async () => {
    const before = (await googleRecords()).length;
    const { subjectKey } = await withdrawStatistics(['GA1.1.garbage', 'x']);
    expect((await googleRecords()).length).toBe(before);
    const state = await consentStateFromLedger(hub.ledger, subjectKey);
    expect(state.outcomes.statistics?.google).not.toBe('applied');
    expect(state.written.google?.outcome).not.toBe('applied');
    expect(state.written.google?.fields.unusableGaClientIds).toMatch(/^2 from dynamics: /);
  });
  const keyed = (id: string) => keyedVendorId(hub.temporal.secrets.subjectKeySecret, 'google', id);

  async function waitForStatus(requestId: string, test: (s: ErasureStatusView) => boolean) {
    for (let i = 0; i < 240; i++) {
      const found = await lookupErasure(erasureContext, requestId);
      if (found.state === 'open' && test(found.status)) return found.status;
      await delay(250);
    }
    throw new Error('status never matched');
  }

  it('erasure: 3 ids given and 5 harvested (one of them also given) with a quota of 3 a day are each sent once, over 3 days, with no operator', async () => {
    midnight.comes = true;
    await hub.vendors.google.control.seed({ quotaUsed: { properties: { [property]: 0 } } });
    const email = `erase.quota.${Date.now()}.${counter++}@example.com`;
    const given = ['7300.1700000000', '7301.1700000001', '7302.1700000002'];
    // The CRM holds one of the given ids as a _ga cookie: the same id after the parser, sent once.
    const harvested = [
      'GA1.2.7302.1700000002',
      '7303.1700000003',
      '7304.1700000004',
      '7305.1700000005',
      '7306.1700000006',
    ];
    const distinct = [...given, '7303.1700000003', '7304.1700000004', '7305.1700000005', '7306.1700000006'];
    await hub.vendors.dynamics.control.seed({
      leads: harvested.map((id, i) => ({
        firstname: 'Era',
        lastname: `Se${i}`,
        emailaddress1: email,
        new_gaclientid: id,
      })),
    });
    const refusalsBefore = quotaRefusals.count;
    const started = await requestErasure(erasureContext, {
      email,
      gaClientIds: given,
      requestedBy: 'test',
      requestedAt: new Date().toISOString(),
    });
    const receipt = await awaitReceipt(erasureContext, started);

    expect(receipt.systems.google.status).toBe('submitted');
    expect(receipt.operatorActions ?? []).toEqual([]);
    const records = await googleRecords();
    for (const id of distinct) {
      expect(
        records.filter((r) => r.identifier === id).map((r) => r.submissions),
        id,
      ).toEqual([1]);
    }
    expect(quotaRefusals.count - refusalsBefore).toBe(2);
    expect(receipt.systems.google.recordCount).toBe(distinct.length);
    expect(receipt.systems.google.records.map((r) => `${r.id}:${r.result}`).sort()).toEqual(
      distinct.map((id) => `${keyed(id)}:submitted`).sort(),
    );
  });

  it('erasure: a day after the reset that gets an id accepted, then a 503, then the quota again on the retry waits for the next day, not an operator', async () => {
    // Today's quota is used up and no reset comes yet: the erasure's first answer is a wait.
    midnight.comes = false;
    await hub.vendors.google.control.seed({ quotaUsed: { properties: { [property]: dailyQuota } } });
    const email = `erase.retry503.${Date.now()}.${counter++}@example.com`;
    const given = ['7500.1700000000', '7501.1700000001'];
    const refusalsBefore = quotaRefusals.count;
    const started = await requestErasure(erasureContext, {
      email,
      gaClientIds: given,
      requestedBy: 'test',
      requestedAt: new Date().toISOString(),
    });
    await waitForStatus(started.requestId, (s) => s.systems.google.status === 'waiting_for_vendor');
    // "Midnight": the new day has room for one deletion, and the first request of the day gets a 503. The
    // attempt after the wait sends both ids: one is refused with the 503, the other accepted (the quota is
    // met); its retry sends the refused id and meets the quota. Progress was made since the wait.
    await hub.vendors.google.control.seed({ quotaUsed: { properties: { [property]: dailyQuota - 1 } } });
    await hub.vendors.google.control.fail({
      method: 'POST',
      path: 'userDeletionRequests:upsert',
      status: 503,
      count: 1,
    });
    midnight.comes = true;
    const receipt = await awaitReceipt(erasureContext, started);

    expect(receipt.systems.google.status).toBe('submitted');
    expect(receipt.operatorActions ?? []).toEqual([]);
    const records = await googleRecords();
    for (const id of given) {
      expect(
        records.filter((r) => r.identifier === id).map((r) => r.submissions),
        id,
      ).toEqual([1]);
    }
    // The first day's refusal, the day of the 503 met the quota too, then the last day finished.
    expect(quotaRefusals.count - refusalsBefore).toBe(2);
    expect(receipt.systems.google.records.map((r) => `${r.id}:${r.result}`).sort()).toEqual(
      given.map((id) => `${keyed(id)}:submitted`).sort(),
    );
  });

  it('erasure: the ids Google accepted before a mid-call 429 are reported submitted, exactly, and the rest not deleted', async () => {
    midnight.comes = false;
    // Two deletions left today; no reset comes, so the wait ends with an operator, who closes Google.
    await hub.vendors.google.control.seed({ quotaUsed: { properties: { [property]: dailyQuota - 2 } } });
    const email = `erase.partial.${Date.now()}.${counter++}@example.com`;
    const given = ['7400.1700000000', '7401.1700000001', '7402.1700000002', '7403.1700000003'];
    const started = await requestErasure(erasureContext, {
      email,
      gaClientIds: given,
      requestedBy: 'test',
      requestedAt: new Date().toISOString(),
    });
    const stuck = await waitForStatus(
      started.requestId,
      (s) => s.systems.google.status === 'needs_attention',
    );
    expect(stuck.systems.google.failure?.reason).toMatch(/still refused after the wait/);
    await closeErasureSystem(erasureContext, started.requestId, { system: 'google', reason: 'quota' });
    const receipt = await awaitReceipt(erasureContext, started);

    const acceptedByGoogle = (await googleRecords())
      .filter((r) => given.includes(r.identifier))
      .map((r) => r.identifier);
    expect(acceptedByGoogle).toHaveLength(2);
    expect(receipt.systems.google.status).toBe('closed_by_operator');
    expect(receipt.systems.google.records.map((r) => `${r.id}:${r.result}`).sort()).toEqual(
      given.map((id) => `${keyed(id)}:${acceptedByGoogle.includes(id) ? 'submitted' : 'not_deleted'}`).sort(),
    );
    midnight.comes = true;
  });
});
