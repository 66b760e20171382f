import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RetryableVendorError, type VendorError } from '../../../connectors/connector-errors.js';
import { googleConfigSchema } from '../../../connectors/google/config.js';
import { createGoogleConnector } from '../../../connectors/google/connector.js';
import { classifyGoogleError, shortQuotaBackoffMs } from '../../../connectors/google/errors.js';
import { msUntilPacificMidnight } from '../../../connectors/google/pacific-time.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { googleSandbox } from '../../../sandboxes/google/sandbox.js';
import type { GoogleSandboxStore } from '../../../sandboxes/google/store.js';
import { startTestSandbox } from '../../support/sandboxes.js';
import { sandboxEnv, subject, writeServiceAccount } from './google-fixtures.js';

/**
 * Google's quota refusals come as 429 RESOURCE_EXHAUSTED / rateLimitExceeded whether the limit is per second
 * or per day (https://developers.google.com/analytics/devguides/limits-and-quotas: "403 or 429"; daily quotas
 * reset at midnight Pacific). The connector tells them apart by content: a daily one waits for the reset,
 * a per-second one backs off briefly.
 */

const logger = pino({ level: 'silent' });
const account = writeServiceAccount('quota-test');
const noon = Date.UTC(2026, 5, 15, 19, 0, 0); // 12:00 in Los Angeles (PDT)

async function failureOf(promise: Promise<unknown>): Promise<VendorError> {
  try {
    await promise;
  } catch (error) {
    return error as VendorError;
  }
  throw new Error('expected the call to fail');
}

/** What gaxios rejects with for an HTTP answer: the status and the parsed JSON body. */
function gaxiosFailure(status: number, error: unknown, headers: Record<string, string> = {}) {
  return Object.assign(new Error(`Request failed with status code ${status}`), {
    status,
    response: { status, data: { error }, headers: { get: (name: string) => headers[name] ?? null } },
  });
}

describe('google connector: quota refusals', () => {
  // Bodies as Google's APIs send them (ErrorInfo per google/api/error_reason.proto, RATE_LIMIT_EXCEEDED).
  const errorInfo = (quotaLimit: string) => ({
    '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
    reason: 'RATE_LIMIT_EXCEEDED',
    domain: 'googleapis.com',
    metadata: {
      service: 'analytics.googleapis.com',
      consumer: 'projects/123',
      quota_metric: 'analytics.googleapis.com/user_deletion_requests',
      quota_limit: quotaLimit,
    },
  });
  const quota429 = (message: string, details?: unknown[]) => ({
    code: 429,
    message,
    status: 'RESOURCE_EXHAUSTED',
    errors: [{ domain: 'usageLimits', reason: 'rateLimitExceeded', message }],
    ...(details ? { details } : {}),
  });

  it.each([
    [
      'an ErrorInfo quota_limit per day',
      quota429('Quota exceeded.', [errorInfo('UserDeletionRequestsPerDayPerProject')]),
    ],
    [
      'only the message, naming a limit per day',
      quota429("Quota exceeded for quota metric 'Requests' and limit 'Requests per day'."),
    ],
  ])('waits for midnight Pacific on a daily-quota 429 told apart by %s', (_how, body) => {
    const error = classifyGoogleError(gaxiosFailure(429, body), 'erase', { now: noon });
    expect(error).toBeInstanceOf(RetryableVendorError);
    expect(error).toMatchObject({ status: 429, vendorCode: 'rateLimitExceeded' });
    expect((error as RetryableVendorError).retryAfterMs).toBe(12 * 3600 * 1000);
    expect(error.reason).toContain('midnight Pacific');
  });

  it('backs off briefly on a per-second 429, or for its Retry-After when Google sends one', () => {
    const body = quota429('Quota exceeded.', [errorInfo('UserDeletionRequestsPerSecondPerProperty')]);
    const brief = classifyGoogleError(gaxiosFailure(429, body), 'erase', { now: noon });
    expect(brief).toBeInstanceOf(RetryableVendorError);
    expect((brief as RetryableVendorError).retryAfterMs).toBe(shortQuotaBackoffMs);
    expect(brief.reason).toContain('limiting the request rate');
    const told = classifyGoogleError(gaxiosFailure(429, body, { 'retry-after': '3' }), 'erase', {
      now: noon,
    });
    expect((told as RetryableVendorError).retryAfterMs).toBe(3000);
  });

  it('still reads the older 403 answers: dailyLimitExceeded waits for the reset, userRateLimitExceeded backs off briefly', () => {
    const daily = classifyGoogleError(
      gaxiosFailure(403, {
        code: 403,
        message: 'Daily Limit Exceeded',
        errors: [{ reason: 'dailyLimitExceeded' }],
      }),
      'erase',
      { now: noon },
    );
    expect((daily as RetryableVendorError).retryAfterMs).toBe(12 * 3600 * 1000);
    const rate = classifyGoogleError(
      gaxiosFailure(403, {
        code: 403,
        message: 'User Rate Limit Exceeded',
        errors: [{ reason: 'userRateLimitExceeded' }],
      }),
      'erase',
      { now: noon },
    );
    expect(rate).toBeInstanceOf(RetryableVendorError);
    expect((rate as RetryableVendorError).retryAfterMs).toBe(shortQuotaBackoffMs);
  });

  describe('against the sandbox', () => {
    let sandbox: RunningSandbox<GoogleSandboxStore>;
    let control: SandboxClient;
    const connector = () =>
      createGoogleConnector(
        googleConfigSchema.parse(
          sandboxEnv(sandbox.url, account.path, {
            GA4_PROPERTY_IDS: '400000009',
            GA_REQUESTS_PER_SECOND: '50',
          }),
        ),
        { logger },
      );

    beforeAll(async () => {
      sandbox = await startTestSandbox(googleSandbox, {
        serviceAccounts: { [account.clientEmail]: account.publicKeyPem },
        propertyIds: ['400000009'],
        // One request, then one every ten seconds: a connector paced faster meets the per-second limit.
        requestsPerSecond: 0.1,
      });
      control = new SandboxClient(sandbox.url);
    });
    afterAll(() => sandbox.close());
    beforeEach(() => control.reset());

    it('classifies the sandbox per-second refusal as a brief back-off, not a wait for midnight', async () => {
      const error = await failureOf(connector().erase(subject(['1.1', '1.2'])));
      expect(error).toBeInstanceOf(RetryableVendorError);
      expect(error).toMatchObject({ status: 429, vendorCode: 'rateLimitExceeded' });
      expect((error as RetryableVendorError).retryAfterMs).toBe(shortQuotaBackoffMs);
    });

    it('classifies the sandbox daily-quota refusal as a wait until midnight Pacific', async () => {
      await control.seed({ quotaUsed: { projects: { 'quota-test': 500 } } });
      const error = await failureOf(connector().erase(subject(['1.1'])));
      expect(error).toBeInstanceOf(RetryableVendorError);
      expect(error).toMatchObject({ status: 429 });
      const wait = (error as RetryableVendorError).retryAfterMs ?? 0;
      expect(Math.abs(wait - msUntilPacificMidnight(Date.now()))).toBeLessThan(60_000);
    });
  });
});
