import { describe, expect, it } from 'vitest';
import type { ConsentStateRequest, SubjectIdentifiers } from '../../../connectors/connector.js';
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

/**
 * Issue 15: "never refuse an erasure or opt-out for an address a vendor holds". Mailchimp hashes the address
 * as it stored it, so a member stored as `ida@xn--bcher-kva.example` is not under the hash of
 * `ida@bücher.example` (and the same for the DNS root's dot). A consent write by any spelling of the mailbox
 * must reach that member (opt-out and grant, per person and through the bulk path), never answer not_found,
 * and never create a second member under the spelling it was asked with.
 */

const subject = (email: string): SubjectIdentifiers => ({ email, gaClientIds: [], gaUserIds: [] });
const optOut: ConsentStateRequest = {
  decisions: { marketing_email: { decision: 'withdrawn', hasEvidence: false } },
  changed: ['marketing_email'],
};
const grant: ConsentStateRequest = {
  decisions: { marketing_email: { decision: 'granted', hasEvidence: true } },
  changed: ['marketing_email'],
};

/** [stored as, asked as]: each pair is one mailbox in two spellings. */
const spellings: [string, string, string][] = [
  ['IDN stored as punycode, asked as Unicode', 'ida@xn--bcher-kva.example', 'ida@bücher.example'],
  ['IDN stored as Unicode, asked as punycode', 'ida@bücher.example', 'ida@xn--bcher-kva.example'],
  ['stored with the root dot, asked without', 'dot@example.com.', 'dot@example.com'],
  ['stored without the root dot, asked with', 'dot@example.com', 'dot@example.com.'],
  ['stored with an uppercase domain, asked in lower case', 'up@EXAMPLE.COM', 'up@example.com'],
  ['stored in lower case, asked with an uppercase domain', 'up@example.com', 'up@EXAMPLE.COM'],
];

describe('Mailchimp connector: consent writes reach a member stored under another spelling of the mailbox', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let _control: SandboxClient;
  const logs = capturingLogger();
  const connector = () => sandboxConnector(sandbox.url, logs.logger);
  const createAudience = (name: string) => createAudienceIn(sandbox.url, name);
  const addMember = async (listId: string, email: string, status: string) => {
    const added = await raw(sandbox.url, 'POST', `/lists/${listId}/members`, {
      email_address: email,
      status,
    });
    expect(added.status).toBe(200);
  };
  const statusOf = (listId: string, email: string) => memberStatus(sandbox.url, listId, email);
  const memberCount = async (listId: string) =>
    ((await raw(sandbox.url, 'GET', `/lists/${listId}/members?count=1000`)).json as { total_items: number })
      .total_items;

  withMailchimpSandbox((started, client) => {
    sandbox = started;
    _control = client;
  });

  for (const [name, stored, asked] of spellings) {
    it(`opts out the member per person (${name}) instead of answering not_found`, async () => {
      const news = await createAudience('News');
      await addMember(news, stored, 'subscribed');

      const result = await connector().applyConsentState?.(subject(asked), optOut);

      expect(result?.outcome).toBe('applied');
      expect(result?.fields).toEqual({ [`membership:${news}`]: 'unsubscribed' });
      expect(result?.records).toEqual([
        expect.objectContaining({ container: news, id: documentedSubscriberHash(stored) }),
      ]);
      expect(await statusOf(news, stored)).toBe('unsubscribed');
      expect(await memberCount(news)).toBe(1);
    });

    it(`grants by moving the member to pending (${name}), without creating a second member`, async () => {
      const news = await createAudience('News');
      await addMember(news, stored, 'unsubscribed');

      const result = await connector().applyConsentState?.(subject(asked), grant);

      expect(result?.outcome).toBe('pending_confirmation');
      expect(await statusOf(news, stored)).toBe('pending');
      expect(await memberCount(news)).toBe(1);
    });

    it(`opts out through the bulk path (${name}): planned per person or written in bulk, never not_found`, async () => {
      const news = await createAudience('News');
      await addMember(news, stored, 'subscribed');
      const hub = connector();

      const [plan] =
        (await hub.planConsentBatch?.([{ key: 'p1', subject: subject(asked), request: optOut }])) ?? [];
      if (!plan) throw new Error('the Mailchimp connector plans bulk opt-outs');
      if ('perPerson' in plan) {
        const result = await hub.applyConsentState?.(subject(asked), optOut);
        expect(result?.outcome).toBe('applied');
      } else {
        expect(plan.result.outcome).toBe('applied');
        const outcomes = (await hub.writeConsentBatch?.(plan.writes)) ?? [];
        expect(outcomes.map((o) => o.outcome)).toEqual(['applied']);
        expect(outcomes.some((o) => o.outcome === 'applied' && o.created)).toBe(false);
      }
      expect(await statusOf(news, stored)).toBe('unsubscribed');
      expect(await memberCount(news)).toBe(1);
    });
  }

  it('still answers not_found, creating nothing, when no spelling of the mailbox is a member', async () => {
    const news = await createAudience('News');
    await addMember(news, 'someone@xn--bcher-kva.example', 'subscribed');

    const result = await connector().applyConsentState?.(subject('nobody@bücher.example'), optOut);

    expect(result?.outcome).toBe('not_found');
    expect(await memberCount(news)).toBe(1);
  });
});
