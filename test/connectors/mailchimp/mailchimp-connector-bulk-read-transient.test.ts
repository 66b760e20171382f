import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RetryableVendorError } from '../../../connectors/connector-errors.js';
import type { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import {
  bulkOptOut,
  capturingLogger,
  sandboxConnector,
  withMailchimpSandbox,
  writesOf,
} from './mailchimp-test-kit.js';

const person = bulkOptOut;
/** The SDK's timeout for this file (one process-wide setting): a listing slower than it fails as a timeout. */
const timeoutMs = 1000;

/**
 * Issue 21 (bulk 2,000 people under load cost 1.02 Mailchimp calls per change instead of 0.01): a listing
 * that is throttled, unavailable or slow must be read again as a listing by the activity's retry (honouring
 * Retry-After), never turned into one `GET .../members/{hash}` per person. Against the sandbox over HTTP,
 * counting the calls it logged.
 */
describe('Mailchimp connector: a transient failure of the bulk plan’s listing is retried as a listing', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  const logs = capturingLogger();
  const connector = (env: Record<string, string> = {}) =>
    sandboxConnector(sandbox.url, logs.logger, { MAILCHIMP_TIMEOUT_MS: String(timeoutMs), ...env });
  const seedAudience = (id: string, count: number) =>
    control.seed({
      lists: [
        {
          id,
          name: 'News',
          members: Array.from({ length: count }, (_, i) => ({
            email_address: `member.${i}@example.com`,
            status: 'subscribed' as const,
          })),
        },
      ],
    });
  const four = [0, 1, 2, 3].map((i) => person(`member.${i}@example.com`));
  const calls = async () =>
    (await control.requests()).map((entry) => `${entry.method} ${entry.path.split('?')[0]} ${entry.status}`);
  const memberReads = async (listId: string) =>
    (await calls()).filter((c) => c.startsWith(`GET /3.0/lists/${listId}/members/`));
  const failure = async (run: Promise<unknown>) => {
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RetryableVendorError);
    return error as RetryableVendorError;
  };

  withMailchimpSandbox((started, client) => {
    sandbox = started;
    control = client;
  });

  it('fails the plan as retryable on a listing answered 503, reads nobody one by one, and the retry lists the audience once and plans all 4', async () => {
    await seedAudience('trans00001', 5);
    await control.fail({ method: 'GET', path: '/lists/trans00001/members$', status: 503 });
    const connection = connector();
    await control.clearRequests();

    const error = await failure(connection.planConsentBatch?.(four) ?? Promise.resolve());
    expect(error.status).toBe(503);
    expect(await memberReads('trans00001')).toEqual([]);

    const plans = await connection.planConsentBatch?.(four);
    expect(plans?.map((p) => writesOf(p)?.length)).toEqual([1, 1, 1, 1]);
    expect(await calls()).toEqual([
      'GET /3.0/lists 200',
      'GET /3.0/lists/trans00001/members 503',
      'GET /3.0/lists/trans00001/members 200',
    ]);
  });

  it('carries a 429’s Retry-After to the retry instead of reading member by member', async () => {
    await seedAudience('trans00002', 5);
    await control.fail({ method: 'GET', path: '/lists/trans00002/members$', status: 429, retryAfter: 7 });
    await control.clearRequests();

    const error = await failure(connector().planConsentBatch?.(four) ?? Promise.resolve());

    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(7000);
    expect(await memberReads('trans00002')).toEqual([]);
  });

  it('fails the plan as retryable when a listing answers slower than the timeout, and the retry lists the audience instead of reading member by member', async () => {
    await seedAudience('trans00003', 5);
    const connection = connector();
    // One person: the audience's statistics are read (and cached) and the member read by hash, no listing.
    await connection.planConsentBatch?.([person('member.4@example.com')]);
    await control.setLatency(timeoutMs * 2);

    // Before the fix the plan resolved here, each person read by hash after the listing timed out.
    const error = await failure(connection.planConsentBatch?.(four) ?? Promise.resolve());
    expect(error.reason).toMatch(/did not answer within/);
    await control.setLatency(0);
    // The abandoned listing is answered (and dropped) before the retry's calls are counted.
    await delay(timeoutMs * 2);
    await control.clearRequests();

    const plans = await connection.planConsentBatch?.(four);
    expect(plans?.map((p) => writesOf(p)?.length)).toEqual([1, 1, 1, 1]);
    expect(await calls()).toEqual(['GET /3.0/lists/trans00003/members 200']);
  });

  it('fails the plan as retryable when the audiences’ read (GET /lists) answers 503, and reads nobody one by one', async () => {
    await seedAudience('trans00004', 5);
    await control.fail({ method: 'GET', path: '/lists$', status: 503 });
    await control.clearRequests();

    const error = await failure(connector().planConsentBatch?.(four) ?? Promise.resolve());

    expect(error.status).toBe(503);
    expect(await memberReads('trans00004')).toEqual([]);
  });

  it('fails the plan as retryable when the audience’s statistics, read again once their cache ran out, answer 503', async () => {
    await seedAudience('trans00005', 5);
    await control.fail({ method: 'GET', path: '/lists/trans00005$', status: 503 });
    const connection = connector({
      MAILCHIMP_AUDIENCE_IDS: 'trans00005',
      MAILCHIMP_AUDIENCE_CACHE_SECONDS: '0',
    });
    await control.clearRequests();

    const error = await failure(connection.planConsentBatch?.(four) ?? Promise.resolve());
    expect(error.status).toBe(503);
    expect(await memberReads('trans00005')).toEqual([]);

    const plans = await connection.planConsentBatch?.(four);
    expect(plans?.map((p) => writesOf(p)?.length)).toEqual([1, 1, 1, 1]);
    expect(await memberReads('trans00005')).toEqual([]);
  });

  it('still reads member by member when the listing is refused with a 400, which a retry would not mend', async () => {
    await seedAudience('trans00006', 5);
    await control.fail({ method: 'GET', path: '/lists/trans00006/members$', status: 400 });
    await control.clearRequests();

    const plans = await connector().planConsentBatch?.(four);

    expect(plans?.map((p) => writesOf(p)?.length)).toEqual([1, 1, 1, 1]);
    expect(await memberReads('trans00006')).toHaveLength(4);
  });
});
