import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { consentStateFromLedger } from '../../ledger/consent-state.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { consentWorkflowId } from '../../workflows/consent-definitions.js';
import { activityInputs, largestPayload } from '../support/history.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

/** Bytes a consent workflow's largest payload may take, whatever the number of CRM rows of the address. */
const payloadBound = 8 * 1024;

/**
 * Issue 15: a statistics withdrawal of an address shared by many CRM rows (a role address on thousands of
 * leads) deletes every GA id those rows hold, yet no activity result or input of the person's consent
 * workflow grows with the rows: the Google lane reads the CRM and submits the ids inside one activity, in
 * pages, and answers counts and a keyed digest.
 */
describe('consent: the Google lane of an address on many CRM rows', { timeout: 300_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: ConsentClientContext;
  let counter = 0;

  beforeAll(async () => {
    // Google's documented pace (1.5 deletions a second per property) and daily quota (500) would make 650
    // ids a test of the vendor's waiting: both lifted, in the sandbox and in the connector's own pace.
    hub = await startHubWithVendors('consent-google-lane-size', {
      subjectKeys: true,
      vendors: {
        google: { requestsPerSecond: 100, dailyQuotaPerProperty: 1_000_000, dailyQuotaPerProject: 1_000_000 },
      },
      env: { GA_REQUESTS_PER_SECOND: '100' },
    });
    context = hub.temporal.context();
  });
  afterAll(() => hub?.close());

  /** Plants `rows` leads on one address, each with its own GA client id, withdraws statistics, waits. */
  async function withdrawStatisticsOfSharedAddress(rows: number) {
    const run = counter++;
    const email = `info.${Date.now()}.${run}@shared.example.com`;
    const gaIds = Array.from({ length: rows }, (_, i) => `${3000 + run}${i}.${1650000000 + i}`);
    // The control API takes seeds in slices (a request body has a size limit).
    for (let start = 0; start < rows; start += 200) {
      await hub.vendors.dynamics.control.seed({
        leads: gaIds.slice(start, start + 200).map((id, i) => ({
          firstname: `Role${(start + i) % 30}`,
          lastname: `Lead${start + i}`,
          emailaddress1: email,
          new_gaclientid: id,
        })),
      });
    }
    await recordConsentChange(context, {
      email,
      purpose: 'statistics',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'test',
      // A note makes the run read the CRM's names to redact it: that read must not grow with the rows either.
      evidence: { channel: 'test', note: 'asked by phone' },
    });
    const subjectKey = subjectKeyFor(email, context.subjectKeySecret);
    const workflowId = consentWorkflowId(subjectKey);
    // The run ends once idle: every lane has written by then.
    await hub.temporal.client.workflow.getHandle(workflowId).result();
    return { gaIds, subjectKey, workflowId };
  }

  it('deletes every GA id the CRM rows hold while the largest payload stays under a bound independent of the rows (50 vs 600)', async () => {
    const sizes: number[] = [];
    for (const rows of [50, 600]) {
      const { gaIds, subjectKey, workflowId } = await withdrawStatisticsOfSharedAddress(rows);

      // Google received every id, and the ledger holds the lane's evidence as before.
      const sentToGoogle = JSON.stringify(await hub.vendors.google.control.state());
      expect(gaIds.filter((id) => !sentToGoogle.includes(id))).toEqual([]);
      const state = await consentStateFromLedger(hub.ledger, subjectKey);
      expect(state.outcomes.statistics?.google).toBe('applied');
      expect(state.written.google?.outcome).toBe('applied');
      expect(state.written.google?.fields.userDeletion).toMatch(/^\d{4}-\d{2}-\d{2}T/);

      // No activity input carries a GA id, and the one Google step did the whole lane.
      const inputs = await activityInputs(hub.temporal.client, workflowId, hub.temporal.dataConverter);
      const carrying = inputs.filter((i) => gaIds.some((id) => JSON.stringify(i.input).includes(id)));
      expect(carrying.map((i) => i.activityType)).toEqual([]);
      expect(inputs.filter((i) => i.activityType === 'applyGoogleConsentFromCrm')).toHaveLength(1);
      expect(inputs.filter((i) => i.activityType === 'findInSystem')).toEqual([]);
      expect(inputs.filter((i) => i.activityType === 'findCrmNames')).toHaveLength(1);

      const largest = await largestPayload(hub.temporal.client, workflowId);
      expect(largest.bytes, `largest payload in ${largest.eventType} with ${rows} rows`).toBeLessThan(
        payloadBound,
      );
      sizes.push(largest.bytes);
    }
    // Twelve times the rows, about the same history: nothing in it grows with them (names are capped at 20).
    const [small = 0, large = 0] = sizes;
    expect(Math.abs(large - small)).toBeLessThan(512);
  });

  it('reaches every id when Google answers 503 mid-way: the retried step reads the CRM again, sends what Google has not accepted, and the ledger records the lane as applied', async () => {
    await hub.vendors.google.control.fail({
      method: 'POST',
      path: 'userDeletionRequests',
      status: 503,
      count: 1,
    });
    const { gaIds, subjectKey, workflowId } = await withdrawStatisticsOfSharedAddress(5);

    const sentToGoogle = JSON.stringify(await hub.vendors.google.control.state());
    expect(gaIds.filter((id) => !sentToGoogle.includes(id))).toEqual([]);
    const state = await consentStateFromLedger(hub.ledger, subjectKey);
    expect(state.outcomes.statistics?.google).toBe('applied');
    expect(state.written.google?.outcome).toBe('applied');
    // The one Google step of the lane ran more than once: the 503 was retried by Temporal, not given up.
    const history = await hub.temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = (history.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'applyGoogleConsentFromCrm',
    );
    expect(scheduled).toHaveLength(1);
    const attempts = (history.events ?? []).flatMap((e) =>
      e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled[0]?.eventId?.toString()
        ? [e.activityTaskStartedEventAttributes?.attempt ?? 0]
        : [],
    );
    expect(Math.max(...attempts)).toBeGreaterThan(1);
  });
});
