import diagnostics from 'node:diagnostics_channel';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ConsentStateRequest, SubjectIdentifiers } from '../../../connectors/connector.js';
import { NonRetryableVendorError } from '../../../connectors/connector-errors.js';
import { mailchimpConfigSchema } from '../../../connectors/mailchimp/config.js';
import { createMailchimpConnector } from '../../../connectors/mailchimp/connector.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import { startTestSandbox } from '../../support/sandboxes.js';
import {
  capturingLogger,
  documentedSubscriberHash,
  newAudience,
  raw,
  testApiKey,
} from './mailchimp-test-kit.js';

const subject = (email: string): SubjectIdentifiers => ({ email, gaClientIds: [], gaUserIds: [] });
const optOut: ConsentStateRequest = {
  decisions: { marketing_email: { decision: 'withdrawn', hasEvidence: false } },
  changed: ['marketing_email'],
};

/** Issue 21: an opt-out costs one PATCH per audience; the audience list is read once for a whole wave. */
describe('Mailchimp connector: the calls an opt-out wave makes', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  const logs = capturingLogger();
  const connectorFor = (audienceIds?: string) =>
    createMailchimpConnector(
      mailchimpConfigSchema.parse({
        MAILCHIMP_API_KEY: testApiKey,
        MAILCHIMP_API_URL: `${sandbox.url}/3.0`,
        ...(audienceIds ? { MAILCHIMP_AUDIENCE_IDS: audienceIds } : {}),
      }),
      { logger: logs.logger },
    );
  const createAudience = async (name: string) =>
    ((await raw(sandbox.url, 'POST', '/lists', newAudience(name))).json as { id: string }).id;
  const addMember = async (listId: string, email: string, status: string) =>
    expect(
      (await raw(sandbox.url, 'POST', `/lists/${listId}/members`, { email_address: email, status })).status,
    ).toBe(200);
  const statusOf = async (listId: string, email: string) =>
    (
      (await raw(sandbox.url, 'GET', `/lists/${listId}/members/${documentedSubscriberHash(email)}`)).json as {
        status?: string;
      }
    ).status;
  const calls = async () =>
    (await control.requests()).map((entry) => `${entry.method} ${entry.path.split('?')[0]}`);

  beforeAll(async () => {
    sandbox = await startTestSandbox(mailchimpSandbox, { apiKeys: [testApiKey], dc: 'us21' });
    control = new SandboxClient(sandbox.url);
  });
  afterAll(() => sandbox.close());
  beforeEach(() => control.reset());

  it('reads the audience list once for ten opt-outs and unsubscribes each person with one PATCH per audience, reading no member first', async () => {
    const audiences = [await createAudience('News'), await createAudience('Events')];
    const people = Array.from({ length: 10 }, (_, i) => `wave.${i}@example.com`);
    for (const listId of audiences) for (const email of people) await addMember(listId, email, 'subscribed');
    const connector = connectorFor();
    await control.clearRequests();

    const results = await Promise.all(
      people.map((email) => connector.applyConsentState?.(subject(email), optOut)),
    );

    expect(results.map((r) => r?.outcome)).toEqual(people.map(() => 'applied'));
    expect(results[0]?.fields).toEqual(
      Object.fromEntries(audiences.map((listId) => [`membership:${listId}`, 'unsubscribed'])),
    );
    const log = await calls();
    expect(log.filter((c) => c === 'GET /3.0/lists')).toHaveLength(1);
    expect(log.filter((c) => c.startsWith('PATCH /3.0/lists/'))).toHaveLength(
      people.length * audiences.length,
    );
    expect(log.filter((c) => c.startsWith('GET /3.0/lists/'))).toEqual([]);
    expect(log).toHaveLength(1 + people.length * audiences.length);
    for (const listId of audiences) {
      for (const email of people) expect(await statusOf(listId, email)).toBe('unsubscribed');
    }
  });

  it('sends an opt-out wave over kept connections: ten opt-outs in a row open at most one connection, ten at once no more than the concurrency limit', async () => {
    const audiences = [await createAudience('News'), await createAudience('Events')];
    const people = Array.from({ length: 20 }, (_, i) => `kept.${i}@example.com`);
    for (const listId of audiences) for (const email of people) await addMember(listId, email, 'subscribed');
    // The SDK is one per process, configured by this file's first connector: concurrency 10 (the default).
    const connector = connectorFor();
    // Node's HTTP client announces each answered request; one not sent on a reused socket opened a connection.
    let opened = 0;
    const count = (message: unknown) => {
      if (!(message as { request: { reusedSocket: boolean } }).request.reusedSocket) opened += 1;
    };
    diagnostics.subscribe('http.client.response.finish', count);
    try {
      for (const email of people.slice(0, 10))
        expect((await connector.applyConsentState?.(subject(email), optOut))?.outcome).toBe('applied');
      // The audience list and twenty PATCHes, one after another: one connection kept open between them (none
      // when an earlier test's is still open); a connection per call would be 21.
      expect(opened).toBeLessThanOrEqual(1);
      const results = await Promise.all(
        people.slice(10).map((email) => connector.applyConsentState?.(subject(email), optOut)),
      );
      expect(results.map((r) => r?.outcome)).toEqual(people.slice(10).map(() => 'applied'));
      expect(opened).toBeLessThanOrEqual(10);
    } finally {
      diagnostics.unsubscribe('http.client.response.finish', count);
    }
    for (const listId of audiences) {
      for (const email of people) expect(await statusOf(listId, email)).toBe('unsubscribed');
    }
  });

  it('reads a 404 on the PATCH as "not a member" only in an audience known to exist, and then confirms it with a search', async () => {
    const news = await createAudience('News');
    const connector = connectorFor(news);
    await control.clearRequests();

    const result = await connector.applyConsentState?.(subject('nobody@example.com'), optOut);

    expect(result?.outcome).toBe('not_found');
    expect(result?.records).toEqual([]);
    // The audience is read once (MAILCHIMP_AUDIENCE_IDS is taken on trust until a 404), then reused.
    await connector.applyConsentState?.(subject('nobody.else@example.com'), optOut);
    const log = await calls();
    expect(log.filter((c) => c === `GET /3.0/lists/${news}`)).toHaveLength(1);
    expect(log.filter((c) => c === 'GET /3.0/search-members').length).toBeGreaterThanOrEqual(2);
  });

  it('never reads the 404 of a configured audience that does not exist as "not a member": a named, non-retryable error', async () => {
    const connector = connectorFor('nosuchlist0');
    const failure = await connector
      .applyConsentState?.(subject('ada@example.com'), optOut)
      .catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(NonRetryableVendorError);
    expect((failure as NonRetryableVendorError).reason).toContain('has no audience nosuchlist0');
  });

  it('unsubscribes a member stored with spaces, whose hash differs, after the PATCH to the normal form missed', async () => {
    const news = await createAudience('News');
    await addMember(news, '  grace@example.com', 'subscribed');
    const connector = connectorFor();

    const result = await connector.applyConsentState?.(subject('grace@example.com'), optOut);

    expect(result?.outcome).toBe('applied');
    expect(await statusOf(news, '  grace@example.com')).toBe('unsubscribed');
  });

  it('reads the member first when a GDPR permission is mapped, since the PATCH must name permissions the member holds', async () => {
    const news = await createAudience('News');
    await addMember(news, 'ada@example.com', 'subscribed');
    const connector = createMailchimpConnector(
      {
        ...mailchimpConfigSchema.parse({
          MAILCHIMP_API_KEY: testApiKey,
          MAILCHIMP_API_URL: `${sandbox.url}/3.0`,
        }),
        purposeMap: { marketing_email: { membership: true, marketingPermissions: { [news]: ['perm1'] } } },
      },
      { logger: logs.logger },
    );
    await control.clearRequests();

    await connector.applyConsentState?.(subject('ada@example.com'), optOut);

    expect(await calls()).toContain(
      `GET /3.0/lists/${news}/members/${documentedSubscriberHash('ada@example.com')}`,
    );
    expect(await statusOf(news, 'ada@example.com')).toBe('unsubscribed');
  });
});
