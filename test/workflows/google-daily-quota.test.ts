import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import { RetryableVendorError } from '../../connectors/connector-errors.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { consentStateFromLedger } from '../../ledger/consent-state.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { demoGa4PropertyIds } from '../../sandboxes/demo-people.js';
import type { GoogleSandboxState } from '../../sandboxes/google/store.js';
import { consentWorkflowId } from '../../workflows/consent-definitions.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

/** The sandbox's daily quota of user deletions per property here: a test knob, Google's is 500. */
const dailyQuota = 3;
/** "Midnight Pacific" in this test: longer than the steps' attention deadline (3 s), so the workflow waits. */
const resetAfterMs = 4_000;
const property = (demoGa4PropertyIds[0] ?? '').replace('properties/', '');

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

  const shortenQuotaWait = (
    connectors: ConnectorSet,
    vendors: Parameters<NonNullable<Parameters<typeof startHubWithVendors>[1]>['wrapConnectors'] & {}>[1],
  ): ConnectorSet => {
    const google = connectors.google;
    if (!google) throw new Error('the Google sandbox gave no connector');
    const newDay = <T>(work: () => Promise<T>) =>
      work().catch((error: unknown) => {
        if (error instanceof RetryableVendorError && /daily/i.test(error.reason)) {
          quotaRefusals.count++;
          Object.assign(error, { retryAfterMs: resetAfterMs });
          setTimeout(() => {
            void vendors.google.control.seed({ quotaUsed: { properties: { [property]: 0 } } });
          }, 1_000);
        }
        throw error;
      });
    return {
      ...connectors,
      google: {
        ...google,
        erase: (subject) => newDay(() => google.erase(subject)),
        applyConsentState: (subject, request) =>
          newDay(() => {
            if (!google.applyConsentState) throw new Error('no applyConsentState');
            return google.applyConsentState(subject, request);
          }),
      },
    };
  };

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
      wrapConnectors: shortenQuotaWait,
    });
    const base = hub.temporal.context();
    context = {
      ...base,
      consentTimings: { ...base.consentTimings, attentionAfter: '3 seconds', heartbeatTimeout: '2 seconds' },
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
});
