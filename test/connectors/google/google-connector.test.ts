import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  NonRetryableVendorError,
  RetryableVendorError,
  type VendorError,
} from '../../../connectors/connector-errors.js';
import { googleConfigSchema } from '../../../connectors/google/config.js';
import { createGoogleConnector } from '../../../connectors/google/connector.js';
import { msUntilPacificMidnight } from '../../../connectors/google/pacific-time.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { googleSandbox } from '../../../sandboxes/google/sandbox.js';
import type { GoogleSandboxState, GoogleSandboxStore } from '../../../sandboxes/google/store.js';
import { startTestSandbox } from '../../support/sandboxes.js';
import { sandboxEnv, subject, writeServiceAccount } from './google-fixtures.js';

const logger = pino({ level: 'silent' });
const account = writeServiceAccount();

async function failureOf(promise: Promise<unknown>): Promise<VendorError> {
  try {
    await promise;
  } catch (error) {
    return error as VendorError;
  }
  throw new Error('expected the call to fail');
}

describe('google connector against the sandbox, through googleapis', () => {
  let sandbox: RunningSandbox<GoogleSandboxStore>;
  let control: SandboxClient;
  const connector = (extra: Record<string, string> = {}, credentials = account.path) =>
    createGoogleConnector(googleConfigSchema.parse(sandboxEnv(sandbox.url, credentials, extra)), { logger });

  beforeAll(async () => {
    sandbox = await startTestSandbox(googleSandbox, {
      serviceAccounts: { [account.clientEmail]: account.publicKeyPem },
      propertyIds: ['properties/400000001', '400000002', '400000003', '400000004'],
      // Generous, so that only the burst test (which paces) meets the rate.
      requestsPerSecond: 50,
    });
    control = new SandboxClient(sandbox.url);
  });
  afterAll(() => sandbox.close());
  beforeEach(() => control.reset());

  it('submits one deletion per identifier per property: two client ids and one user id in two properties make six requests, each answer recorded', async () => {
    const result = await connector({ GA_REQUESTS_PER_SECOND: '50' }).erase(
      subject(['1197596843.1673515212', '2083349251.1684401133'], ['crm-user-17']),
    );
    expect(result.outcome).toBe('submitted');
    expect(result.records).toHaveLength(6);
    const state = await control.state<GoogleSandboxState>();
    for (const property of ['400000001', '400000002']) {
      const recorded = state.deletionRequests[property] ?? [];
      expect(recorded.map((r) => `${r.type}:${r.identifier}`).sort()).toEqual([
        'CLIENT_ID:1197596843.1673515212',
        'CLIENT_ID:2083349251.1684401133',
        'USER_ID:crm-user-17',
      ]);
      for (const r of recorded) {
        const record = result.records.find(
          (x) => x.container === `properties/${property}` && x.id === r.identifier,
        );
        expect(record).toMatchObject({ kind: 'userDeletionRequest', result: 'submitted' });
        expect(record?.vendorTime).toBe(r.deletionRequestTime);
      }
    }
    const upserts = (await control.requests()).filter((e) => e.path.endsWith(':upsert'));
    expect(upserts.map((e) => e.status)).toEqual([200, 200, 200, 200, 200, 200]);
  });

  it('answers not_found and calls nothing when the person has no GA identifier', async () => {
    expect(await connector().erase(subject())).toEqual({ outcome: 'not_found', records: [] });
    expect(await control.requests()).toEqual([]);
  });

  it('finds nothing and reads no consent, because Google cannot be asked what it holds', async () => {
    const c = connector();
    expect(await c.find(subject(['1.2']))).toEqual({ records: [], gaClientIds: [], gaUserIds: [] });
    expect(await c.readConsent(subject(['1.2']))).toEqual({ purposes: {}, records: [] });
    expect(await control.requests()).toEqual([]);
  });

  it('carries a statistics withdrawal out as a user deletion and ignores other purposes', async () => {
    const c = connector();
    const change = { occurredAt: '2025-01-01T00:00:00Z', hasEvidence: true } as const;
    const applied = await c.applyConsent(subject(['555.666']), {
      ...change,
      purpose: 'statistics',
      decision: 'withdrawn',
    });
    expect(applied.outcome).toBe('applied');
    expect(applied.records).toHaveLength(2);
    expect(applied.vendorTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(
      (await c.applyConsent(subject(['555.666']), { ...change, purpose: 'statistics', decision: 'granted' }))
        .outcome,
    ).toBe('not_applicable');
    expect(
      (
        await c.applyConsent(subject(['555.666']), {
          ...change,
          purpose: 'marketing_email',
          decision: 'withdrawn',
        })
      ).outcome,
    ).toBe('not_applicable');
    expect(
      (await c.applyConsent(subject(), { ...change, purpose: 'statistics', decision: 'withdrawn' })).outcome,
    ).toBe('not_found');
    const state = await control.state<GoogleSandboxState>();
    expect(Object.values(state.deletionRequests).flat()).toHaveLength(2);
  });

  it('sends the normalised email as userProvidedData when configured, and neither sandbox nor result holds it in clear', async () => {
    const result = await connector({
      GA_SUBMIT_USER_PROVIDED_DATA: 'true',
      GA4_PROPERTY_IDS: '400000001',
    }).erase(subject([], [], ' Ada.Lovelace@Example.COM'));
    expect(result.records).toEqual([
      expect.objectContaining({
        id: 'userProvidedData',
        container: 'properties/400000001',
        result: 'submitted',
      }),
    ]);
    const state = await control.state<GoogleSandboxState>();
    const [record] = state.deletionRequests['400000001'] ?? [];
    const { createHash } = await import('node:crypto');
    const expectedHash = createHash('sha256').update('ada.lovelace@example.com').digest('hex');
    expect(record).toMatchObject({
      api: 'admin',
      type: 'USER_PROVIDED_DATA',
      identifier: `sha256:${expectedHash}`,
    });
    expect(JSON.stringify(state).toLowerCase()).not.toContain('lovelace');
    expect(JSON.stringify(result).toLowerCase()).not.toContain('lovelace');
  });

  it('refuses a forged JWT (signed with another key) and reports bad credentials, non-retryably', async () => {
    const forger = writeServiceAccount('consent-hub-test', 'eraser');
    expect(forger.clientEmail).toBe(account.clientEmail);
    const error = await failureOf(connector({}, forger.path).erase(subject(['1.1'])));
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    expect(error).toMatchObject({
      system: 'google',
      operation: 'erase',
      status: 400,
      vendorCode: 'invalid_grant',
    });
    expect(error.reason).toMatch(/^bad credentials: /);
    expect(error.reason).toContain('Invalid JWT Signature');
    const state = await control.state<GoogleSandboxState>();
    expect(state.deletionRequests).toEqual({});
    expect(state.activeTokens).toBe(0);
  });

  it('reports an unknown property as a permission problem Google answers with 403, non-retryably', async () => {
    const error = await failureOf(connector({ GA4_PROPERTY_IDS: '499999999' }).erase(subject(['1.1'])));
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    expect(error).toMatchObject({ status: 403, vendorCode: 'insufficientPermissions' });
    expect(error.reason).toContain('role on the GA4 property');
  });

  it('classifies daily quota exhausted, then 503, then an outage, each in the right class', async () => {
    const c = connector({ GA4_PROPERTY_IDS: '400000003' });
    await control.seed({ quotaUsed: { properties: { '400000003': 500 } } });
    const daily = await failureOf(c.erase(subject(['1.1'])));
    expect(daily).toBeInstanceOf(RetryableVendorError);
    expect(daily).toMatchObject({ status: 429, vendorCode: 'rateLimitExceeded' });
    const untilReset = (daily as RetryableVendorError).retryAfterMs ?? 0;
    const expected = msUntilPacificMidnight(Date.now());
    expect(Math.abs(untilReset - expected)).toBeLessThan(60_000);
    expect(daily.reason).toContain('midnight Pacific');

    await control.reset();
    await control.fail({ path: ':upsert$', status: 503, count: 1 });
    const unavailable = await failureOf(c.erase(subject(['1.1'])));
    expect(unavailable).toBeInstanceOf(RetryableVendorError);
    expect(unavailable).toMatchObject({ status: 503, vendorCode: 'backendError' });

    await control.outage(true);
    const down = await failureOf(connector({ GA4_PROPERTY_IDS: '400000003' }).erase(subject(['1.1'])));
    await control.outage(false);
    expect(down).toBeInstanceOf(RetryableVendorError);
    expect(down.status).toBeUndefined();
    expect(down.reason).toMatch(/could not be reached|did not answer/);
  });

  it('treats 429 and rate-limit reasons as retryable and keeps Retry-After', async () => {
    await control.fail({ path: ':upsert$', status: 429, count: 1, retryAfter: 7 });
    const limited = await failureOf(connector({ GA4_PROPERTY_IDS: '400000001' }).erase(subject(['1.1'])));
    expect(limited).toBeInstanceOf(RetryableVendorError);
    expect(limited).toMatchObject({ status: 429, vendorCode: 'rateLimitExceeded', retryAfterMs: 7000 });
  });

  it('treats an invalid parameter as non-retryable with a readable reason', async () => {
    await control.fail({ path: ':upsert$', status: 400, count: 1, message: 'Invalid value for id.userId' });
    const invalid = await failureOf(connector({ GA4_PROPERTY_IDS: '400000001' }).erase(subject(['1.1'])));
    expect(invalid).toBeInstanceOf(NonRetryableVendorError);
    expect(invalid).toMatchObject({ status: 400, vendorCode: 'invalidParameter' });
    expect(invalid.reason).toContain('Invalid value for id.userId');
  });

  it('classifies a call that outlasts GOOGLE_TIMEOUT_MS as retryable', async () => {
    const c = connector({ GA4_PROPERTY_IDS: '400000001', GOOGLE_TIMEOUT_MS: '300' });
    await control.setLatency(1500);
    const slow = await failureOf(c.erase(subject(['1.1'])));
    expect(slow).toBeInstanceOf(RetryableVendorError);
    expect(slow.reason).toContain('within 300 ms');
  });

  it('paces a burst of 10 deletions for one property to the rate, so the sandbox rejects none', async () => {
    const paced = await startTestSandbox(googleSandbox, {
      serviceAccounts: { [account.clientEmail]: account.publicKeyPem },
      propertyIds: ['400000010'],
      requestsPerSecond: 1.5,
    });
    try {
      const c = createGoogleConnector(
        googleConfigSchema.parse(sandboxEnv(paced.url, account.path, { GA4_PROPERTY_IDS: '400000010' })),
        { logger },
      );
      // Ten erasures at once, as ten activities of one worker would start them.
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => c.erase(subject([`900.${i}`]))));
      expect(results.every((r) => r.outcome === 'submitted')).toBe(true);
      const state = paced.store.snapshot();
      expect(state.rejections).toEqual({});
      const times = (state.deletionRequests['400000010'] ?? [])
        .flatMap((r) => r.receivedAt.map(Date.parse))
        .sort();
      expect(times).toHaveLength(10);
      // The sandbox's bucket holds 1.5 requests and refills 1.5 a second, so accepting all ten proves that
      // the recorded arrivals stayed at or under the rate: they span at least (10 - 1.5) / 1.5 seconds.
      expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(((10 - 1.5) / 1.5) * 1000 - 50);
    } finally {
      await paced.close();
    }
  });
});
