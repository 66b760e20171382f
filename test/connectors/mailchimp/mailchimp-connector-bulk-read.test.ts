import { describe, expect, it } from 'vitest';
import type { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import {
  bulkOptOut,
  capturingLogger,
  documentedSubscriberHash,
  raw,
  sandboxConnector,
  withMailchimpSandbox,
  writesOf,
} from './mailchimp-test-kit.js';

const person = bulkOptOut;

/**
 * Issue 21: the bulk path reads each person's member before Mailchimp's batch call (which would create an
 * address it does not hold). It lists the audience (1000 members a call) when that costs fewer calls than one
 * GET per person, and reads member by member otherwise.
 */
describe('Mailchimp connector: the bulk plan reads members with as few calls as it can', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  const logs = capturingLogger();
  const connector = () => sandboxConnector(sandbox.url, logs.logger);
  const seedAudience = (id: string, members: { email_address: string; status: 'subscribed' }[]) =>
    control.seed({ lists: [{ id, name: 'News', members }] });
  const subscribed = (count: number, prefix = 'member') =>
    Array.from({ length: count }, (_, i) => ({
      email_address: `${prefix}.${i}@example.com`,
      status: 'subscribed' as const,
    }));
  const calls = async () =>
    (await control.requests()).map((entry) => `${entry.method} ${entry.path.split('?')[0]}`);
  const memberTotal = async (listId: string) =>
    (
      (await raw(sandbox.url, 'GET', `/lists/${listId}/members?count=1`)).json as {
        total_items: number;
      }
    ).total_items;

  withMailchimpSandbox((started, client) => {
    sandbox = started;
    control = client;
  });

  it('lists an audience of 5 once for 4 people instead of 4 member reads, and plans an unsubscribe for each', async () => {
    await seedAudience('news000001', subscribed(5));
    await control.clearRequests();

    const people = [0, 1, 2, 3].map((i) => person(`member.${i}@example.com`));
    const plans = await connector().planConsentBatch?.(people);

    expect(plans?.map((p) => writesOf(p)?.length)).toEqual([1, 1, 1, 1]);
    expect(await calls()).toEqual(['GET /3.0/lists', 'GET /3.0/lists/news000001/members']);
  });

  it('reads member by member when the listing (1,003 members, 2 pages) would cost as many calls as the 2 people', async () => {
    await seedAudience('news000002', subscribed(1003));
    await control.clearRequests();

    const plans = await connector().planConsentBatch?.([
      person('member.7@example.com'),
      person('member.1002@example.com'),
    ]);

    expect(plans?.map((p) => writesOf(p)?.length)).toEqual([1, 1]);
    const made = await calls();
    expect(made.filter((c) => c === 'GET /3.0/lists/news000002/members')).toEqual([]);
    expect(made.filter((c) => c.startsWith('GET /3.0/lists/news000002/members/')).sort()).toEqual(
      [
        `GET /3.0/lists/news000002/members/${documentedSubscriberHash('member.7@example.com')}`,
        `GET /3.0/lists/news000002/members/${documentedSubscriberHash('member.1002@example.com')}`,
      ].sort(),
    );
  });

  it('reads 1,500 members in 2 listing pages for 3 people, each found wherever the page holds them', async () => {
    await seedAudience('news000003', subscribed(1500));
    await control.clearRequests();

    const plans = await connector().planConsentBatch?.(
      ['member.0@example.com', 'member.999@example.com', 'member.1499@example.com'].map(person),
    );

    expect(plans?.map((p) => writesOf(p)?.length)).toEqual([1, 1, 1]);
    expect((await calls()).filter((c) => c.startsWith('GET /3.0/lists/news000003/members'))).toEqual([
      'GET /3.0/lists/news000003/members',
      'GET /3.0/lists/news000003/members',
    ]);
  });

  it('never adds an address: a person the listing does not hold is read as the per-person path reads them, gets no write, and the batch creates nobody', async () => {
    await seedAudience('news000004', subscribed(4));
    const before = await memberTotal('news000004');
    expect(before).toBe(4);
    const connection = connector();
    await control.clearRequests();

    const plans = await connection.planConsentBatch?.([
      person('member.0@example.com'),
      person('member.1@example.com'),
      person('stranger@example.com'),
    ]);
    const writes = (plans ?? []).flatMap((p) => writesOf(p) ?? []);
    const outcomes = await connection.writeConsentBatch?.(writes);

    expect(writesOf(plans?.[2])).toEqual([]);
    expect(writes.map((w) => w.key)).toEqual(['k-member.0@example.com', 'k-member.1@example.com']);
    expect(outcomes?.map((o) => ('created' in o ? o.created : false))).toEqual([false, false]);
    expect(await calls()).toContain(
      `GET /3.0/lists/news000004/members/${documentedSubscriberHash('stranger@example.com')}`,
    );
    expect(await memberTotal('news000004')).toBe(before);
  });

  it('finds in the listing a member stored under another spelling of the mailbox and sends them to the per-person path', async () => {
    await seedAudience('news000005', [
      ...subscribed(3),
      { email_address: 'Ada@Bücher.example', status: 'subscribed' },
    ]);
    await control.clearRequests();

    const plans = await connector().planConsentBatch?.([
      person('member.0@example.com'),
      person('ada@xn--bcher-kva.example'),
    ]);

    expect(writesOf(plans?.[0])).toHaveLength(1);
    expect(plans?.[1]).toEqual({
      key: 'k-ada@xn--bcher-kva.example',
      perPerson: 'Mailchimp holds the member under another spelling of the mailbox',
    });
    expect((await calls()).filter((c) => c.startsWith('GET /3.0/lists/news000005/members/'))).toEqual([]);
  });
});
