import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Connector, SubjectIdentifiers } from '../../../connectors/connector.js';
import { RetryableVendorError } from '../../../connectors/connector-errors.js';
import { mailchimpConfigSchema } from '../../../connectors/mailchimp/config.js';
import { createMailchimpConnector } from '../../../connectors/mailchimp/connector.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import { startTestSandbox } from '../../support/sandboxes.js';
import { capturingLogger, testApiKey } from './mailchimp-test-kit.js';

const subject = (email: string): SubjectIdentifiers => ({ email, gaClientIds: [], gaUserIds: [] });
const ada = 'ada.lovelace@example.com';

/**
 * Non-default settings. A file of its own because the SDK is a process-wide singleton and vitest gives each
 * test file its own process: this one is configured with two audiences, a short timeout and 3 connections.
 */
describe('Mailchimp connector with MAILCHIMP_AUDIENCE_IDS, MAILCHIMP_TIMEOUT_MS and MAILCHIMP_MAX_CONCURRENCY', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  let connector: Connector;
  const seed = {
    lists: ['aud0000001', 'aud0000002', 'aud0000003'].map((id) => ({
      id,
      name: id,
      members: [{ email_address: ada, status: 'subscribed' as const }],
    })),
  };

  beforeAll(async () => {
    // The sandbox allows only 3 connections per key, matching MAILCHIMP_MAX_CONCURRENCY below.
    sandbox = await startTestSandbox(mailchimpSandbox, {
      apiKeys: [testApiKey],
      dc: 'us21',
      maxConnectionsPerKey: 3,
    });
    control = new SandboxClient(sandbox.url);
    const config = mailchimpConfigSchema.parse({
      MAILCHIMP_API_KEY: testApiKey,
      MAILCHIMP_API_URL: `${sandbox.url}/3.0`,
      MAILCHIMP_AUDIENCE_IDS: 'aud0000001,aud0000003',
      MAILCHIMP_TIMEOUT_MS: '400',
      MAILCHIMP_MAX_CONCURRENCY: '3',
    });
    connector = createMailchimpConnector(config, { logger: capturingLogger().logger });
  });
  afterAll(() => sandbox.close());
  beforeEach(async () => {
    await control.reset();
    await control.seed(seed);
  });

  it('looks only in the configured audiences and never lists all audiences', async () => {
    await control.clearRequests();
    const found = await connector.find(subject(ada));
    expect(found.records.map((r) => r.container).sort()).toEqual(['aud0000001', 'aud0000003']);
    const erased = await connector.erase(subject(ada));
    expect(erased.records).toHaveLength(2);
    const paths = (await control.requests()).map((e) => e.path);
    expect(paths.some((p) => p === '/3.0/lists')).toBe(false);
    expect(paths.some((p) => p.includes('aud0000002'))).toBe(false);
  });

  it('classifies a call that outlives MAILCHIMP_TIMEOUT_MS as retryable', async () => {
    await control.setLatency(1500);
    const error = await connector.find(subject(ada)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableVendorError);
    expect((error as RetryableVendorError).reason).toMatch(/did not answer within 400 ms/);
  });

  it('holds a burst of 20 finds to MAILCHIMP_MAX_CONCURRENCY, so a 3-connection key never answers 429', async () => {
    await control.setLatency(30);
    await control.clearRequests();
    const results = await Promise.all(Array.from({ length: 20 }, () => connector.find(subject(ada))));
    expect(results.every((r) => r.records.length === 2)).toBe(true);
    const log = await control.requests();
    expect(log).toHaveLength(40);
    expect(log.filter((e) => e.status === 429)).toEqual([]);
  });

  it('refuses a second configuration of the process-wide SDK with other settings', () => {
    const other = mailchimpConfigSchema.parse({ MAILCHIMP_API_KEY: testApiKey });
    expect(() => createMailchimpConnector(other, { logger: capturingLogger().logger })).toThrow(
      /process-wide singleton/,
    );
  });
});
