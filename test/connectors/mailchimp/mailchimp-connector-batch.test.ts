import { describe, expect, it } from 'vitest';
import type { BulkConsentWrite } from '../../../connectors/connector.js';
import { NonRetryableVendorError, RetryableVendorError } from '../../../connectors/connector-errors.js';
import type { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import {
  capturingLogger,
  createAudience as createAudienceIn,
  documentedSubscriberHash,
  memberStatus,
  raw,
  sandboxConnector,
  withMailchimpSandbox,
} from './mailchimp-test-kit.js';

/** Issue 21: opt-outs from a bulk source go to Mailchimp's batch subscribe/unsubscribe, 500 members a call. */
describe('Mailchimp connector: bulk opt-outs through batch subscribe or unsubscribe', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  const logs = capturingLogger();
  const connector = () => sandboxConnector(sandbox.url, logs.logger);
  const createAudience = (name: string) => createAudienceIn(sandbox.url, name);
  const addMember = (listId: string, email: string, status: string) =>
    raw(sandbox.url, 'POST', `/lists/${listId}/members`, { email_address: email, status });
  const statusOf = (listId: string, email: string) => memberStatus(sandbox.url, listId, email);
  const optOut = (listId: string, email: string, key = email): BulkConsentWrite => ({
    key,
    email,
    record: { kind: 'member', container: listId },
    fields: { [`membership:${listId}`]: 'unsubscribed' },
  });
  const batchCalls = async () =>
    (await control.requests()).filter((e) => e.method === 'POST' && /^\/3\.0\/lists\/[^/]+$/.test(e.path));

  withMailchimpSandbox((started, client) => {
    sandbox = started;
    control = client;
  });

  it('unsubscribes 1,200 members of one audience in three calls (500 each) and answers applied for each, in order', async () => {
    const listId = await createAudience('News');
    const people = Array.from({ length: 1200 }, (_, i) => `bulk.${i}@example.com`);
    await raw(sandbox.url, 'POST', `/lists/${listId}`, {
      members: people.slice(0, 500).map((email_address) => ({ email_address, status: 'subscribed' })),
    });
    for (let i = 500; i < 1200; i += 500)
      await raw(sandbox.url, 'POST', `/lists/${listId}`, {
        members: people.slice(i, i + 500).map((email_address) => ({ email_address, status: 'subscribed' })),
      });
    await control.clearRequests();

    const outcomes = await connector().writeConsentBatch?.(people.map((email) => optOut(listId, email)));

    expect(outcomes?.map((o) => o.key)).toEqual(people);
    expect(new Set(outcomes?.map((o) => o.outcome))).toEqual(new Set(['applied']));
    expect(await batchCalls()).toHaveLength(3);
    expect(await statusOf(listId, people[1199] as string)).toBe('unsubscribed');
  });

  it('tells each person apart: applied, created, not_found for a permanently deleted address, and a write it does not do in bulk', async () => {
    const listId = await createAudience('News');
    await addMember(listId, 'ada@example.com', 'subscribed');
    await addMember(listId, 'gone@example.com', 'subscribed');
    await raw(
      sandbox.url,
      'POST',
      `/lists/${listId}/members/${documentedSubscriberHash('gone@example.com')}/actions/delete-permanent`,
    );

    const outcomes = await connector().writeConsentBatch?.([
      optOut(listId, 'ada@example.com', 'k-ada'),
      optOut(listId, 'new@example.com', 'k-new'),
      optOut(listId, 'gone@example.com', 'k-gone'),
      { ...optOut(listId, 'ada@example.com', 'k-grant'), fields: { [`membership:${listId}`]: 'subscribed' } },
    ]);

    expect(outcomes?.map((o) => [o.key, o.outcome, 'created' in o ? o.created : undefined])).toEqual([
      ['k-ada', 'applied', undefined],
      ['k-new', 'applied', true],
      ['k-gone', 'not_found', undefined],
      ['k-grant', 'failure', undefined],
    ]);
    const refused = outcomes?.[3];
    expect(refused?.outcome === 'failure' && refused.error.retryable).toBe(false);
    expect(JSON.stringify(outcomes)).not.toMatch(/@example\.com/);
  });

  it('throws a retryable error when the whole call is throttled, and a named error for an audience Mailchimp does not know', async () => {
    const listId = await createAudience('News');
    await addMember(listId, 'ada@example.com', 'subscribed');
    await control.fail({ method: 'POST', path: `^/3\\.0/lists/${listId}$`, status: 429, count: 1 });
    await expect(connector().writeConsentBatch?.([optOut(listId, 'ada@example.com')])).rejects.toBeInstanceOf(
      RetryableVendorError,
    );
    await expect(
      connector().writeConsentBatch?.([optOut('0000000000', 'ada@example.com')]),
    ).rejects.toBeInstanceOf(NonRetryableVendorError);
    expect(await statusOf(listId, 'ada@example.com')).toBe('subscribed');
  });
});
