import mailchimp from '@mailchimp/mailchimp_marketing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Connector, SubjectIdentifiers } from '../../../connectors/connector.js';
import { NonRetryableVendorError, RetryableVendorError } from '../../../connectors/connector-errors.js';
import { mailchimpConfigSchema } from '../../../connectors/mailchimp/config.js';
import { createMailchimpConnector } from '../../../connectors/mailchimp/connector.js';
import { toMailchimpError } from '../../../connectors/mailchimp/errors.js';
import { subscriberHash } from '../../../connectors/mailchimp/subscriber-hash.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import { startTestSandbox } from '../../support/sandboxes.js';
import { capturingLogger, newAudience, raw, testApiKey } from './mailchimp-test-kit.js';

const subject = (email: string): SubjectIdentifiers => ({ email, gaClientIds: [], gaUserIds: [] });
const ada = 'ada.lovelace@example.com';

describe('Mailchimp connector through @mailchimp/mailchimp_marketing against the sandbox', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  let connector: Connector;
  const logs = capturingLogger();

  const createAudience = async (name: string) =>
    ((await raw(sandbox.url, 'POST', '/lists', newAudience(name))).json as { id: string }).id;
  const addMember = (listId: string, email: string, status: string) =>
    raw(sandbox.url, 'POST', `/lists/${listId}/members`, { email_address: email, status });
  const memberStatus = async (listId: string, email: string) =>
    (
      (await raw(sandbox.url, 'GET', `/lists/${listId}/members/${subscriberHash(email)}`)).json as {
        status?: string;
      }
    ).status;

  beforeAll(async () => {
    sandbox = await startTestSandbox(mailchimpSandbox, { apiKeys: [testApiKey], dc: 'us21' });
    control = new SandboxClient(sandbox.url);
    // This file's process configures the SDK singleton once, for this sandbox (see mailchimp-sdk.ts).
    // Every test starts from a reset sandbox with audiences of its own, so nothing about them is reused.
    const config = mailchimpConfigSchema.parse({
      MAILCHIMP_API_KEY: testApiKey,
      MAILCHIMP_API_URL: `${sandbox.url}/3.0`,
      MAILCHIMP_AUDIENCE_CACHE_SECONDS: '0',
    });
    connector = createMailchimpConnector(config, { logger: logs.logger });
  });
  afterAll(() => sandbox.close());
  beforeEach(() => control.reset());

  it('erases a member present in two of three audiences from both, and re-adding then gets the forgotten-email error', async () => {
    const [news, events, partners] = [
      await createAudience('News'),
      await createAudience('Events'),
      await createAudience('Partners'),
    ];
    await addMember(news, ada, 'subscribed');
    await addMember(events, ada, 'unsubscribed');
    await addMember(partners, 'grace.hopper@example.com', 'subscribed');

    const found = await connector.find(subject(ada));
    expect(found.records.map((r) => [r.container, r.status]).sort()).toEqual(
      [
        [news, 'subscribed'],
        [events, 'unsubscribed'],
      ].sort(),
    );
    expect(found.records.every((r) => r.kind === 'member' && r.id === subscriberHash(ada))).toBe(true);
    expect(found.records.every((r) => !Number.isNaN(Date.parse(r.modifiedAt ?? '')))).toBe(true);

    const erased = await connector.erase(subject(ada));
    expect(erased.outcome).toBe('erased');
    expect(erased.records.map((r) => [r.container, r.result]).sort()).toEqual(
      [
        [news, 'deleted'],
        [events, 'deleted'],
      ].sort(),
    );
    expect((await connector.find(subject(ada))).records).toEqual([]);
    expect(await memberStatus(partners, 'grace.hopper@example.com')).toBe('subscribed');

    // Re-adding through the SDK: Mailchimp's own error, classified non-retryable, the address scrubbed.
    const readd = await mailchimp.lists
      .addListMember(news, { email_address: ada, status: 'subscribed' })
      .catch((error: unknown) => error);
    const classified = toMailchimpError(readd, 'applyConsent');
    expect(classified).toBeInstanceOf(NonRetryableVendorError);
    expect(classified.status).toBe(400);
    expect(classified.vendorCode).toBe('Forgotten Email Not Subscribed');
    expect(classified.reason).toContain('permanently deleted');
    expect(classified.reason).not.toContain(ada);

    // A grant with evidence cannot bring them back either, and says why.
    const regrant = connector.applyConsent(subject(ada), {
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: new Date().toISOString(),
      hasEvidence: true,
    });
    await expect(regrant).rejects.toMatchObject({
      retryable: false,
      vendorCode: 'Forgotten Email Not Subscribed',
    });
    const regrantError = await regrant.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(regrantError?.message).not.toContain(ada);

    const erasedAgain = await connector.erase(subject(ada));
    expect(erasedAgain).toEqual({ outcome: 'not_found', records: [] });
  });

  it('finds the same member whatever the case and surrounding whitespace of the email', async () => {
    const news = await createAudience('News');
    await addMember(news, 'Ada.Lovelace@Example.COM', 'subscribed');
    for (const typed of [
      '  ADA.LOVELACE@EXAMPLE.COM ',
      'ada.lovelace@example.com',
      '\tAda.Lovelace@example.com',
    ]) {
      const found = await connector.find(subject(typed));
      expect(found.records.map((r) => r.id)).toEqual([subscriberHash(ada)]);
    }
    expect((await connector.erase(subject(' ADA.lovelace@example.com'))).outcome).toBe('erased');
  });

  it('reads its MAILCHIMP_* variables with defaults, and names a bad variable without echoing the secret', () => {
    const config = mailchimpConfigSchema.parse({
      MAILCHIMP_API_KEY: testApiKey,
      MAILCHIMP_AUDIENCE_IDS: ' a1, b2 ,,',
    });
    expect(config.audienceIds).toEqual(['a1', 'b2']);
    expect(config.maxConcurrency).toBe(10);
    expect(config.timeoutMs).toBe(30_000);
    const bad = mailchimpConfigSchema.safeParse({
      MAILCHIMP_API_KEY: 'sekrit-value',
      MAILCHIMP_MAX_CONCURRENCY: '11',
    });
    expect(bad.success).toBe(false);
    const messages = JSON.stringify(bad.error?.issues.map((i) => i.message));
    expect(messages).toContain('MAILCHIMP_API_KEY');
    expect(messages).toContain('MAILCHIMP_MAX_CONCURRENCY');
    expect(messages).not.toContain('sekrit');
  });

  it('reads every audience page by page when no audience ids are configured', async () => {
    await control.seed({
      lists: Array.from({ length: 3 }, (_, i) => ({
        id: `list${i}`,
        name: `L${i}`,
        members: i === 2 ? [{ email_address: ada, status: 'subscribed' as const }] : [],
      })),
    });
    const found = await connector.find(subject(ada));
    expect(found.records.map((r) => r.container)).toEqual(['list2']);
  });

  it('unsubscribes on withdrawal, then a grant goes to pending, and a repeated grant causes no 400 loop', async () => {
    const news = await createAudience('News');
    const events = await createAudience('Events');
    await addMember(news, ada, 'subscribed');
    await addMember(events, ada, 'subscribed');
    const at = new Date().toISOString();

    const withdrawn = await connector.applyConsent(subject(ada), {
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: at,
      hasEvidence: false,
    });
    expect(withdrawn.outcome).toBe('applied');
    expect(await memberStatus(news, ada)).toBe('unsubscribed');
    expect(await memberStatus(events, ada)).toBe('unsubscribed');
    expect((await connector.readConsent(subject(ada))).purposes.marketing_email).toBe('withdrawn');

    const again = await connector.applyConsent(subject(ada), {
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: at,
      hasEvidence: false,
    });
    expect(again.outcome).toBe('already');

    await control.clearRequests();
    const grant = {
      purpose: 'marketing_email' as const,
      decision: 'granted' as const,
      occurredAt: at,
      hasEvidence: true,
    };
    const first = await connector.applyConsent(subject(ada), grant);
    expect(first.outcome).toBe('pending_confirmation');
    expect(first.records.map((r) => r.status)).toEqual(['pending', 'pending']);
    const second = await connector.applyConsent(subject(ada), grant);
    expect(second.outcome).toBe('pending_confirmation');
    const log = await control.requests();
    expect(log.filter((e) => e.status >= 400)).toEqual([]);
    expect(log.filter((e) => e.method === 'PATCH')).toHaveLength(2);
    expect(await memberStatus(news, ada)).toBe('pending');
  });

  it('never creates a member on a withdrawal or on a grant without evidence, and creates a pending one with evidence', async () => {
    const news = await createAudience('News');
    const change = { purpose: 'event_invitations' as const, occurredAt: new Date().toISOString() };
    expect(
      (await connector.applyConsent(subject(ada), { ...change, decision: 'withdrawn', hasEvidence: true }))
        .outcome,
    ).toBe('not_found');
    expect(
      (await connector.applyConsent(subject(ada), { ...change, decision: 'granted', hasEvidence: false }))
        .outcome,
    ).toBe('not_found');
    expect((await raw(sandbox.url, 'GET', `/lists/${news}/members/${subscriberHash(ada)}`)).status).toBe(404);

    const created = await connector.applyConsent(subject(` ${ada.toUpperCase()}`), {
      ...change,
      decision: 'granted',
      hasEvidence: true,
    });
    expect(created.outcome).toBe('pending_confirmation');
    expect(await memberStatus(news, ada)).toBe('pending');
  });

  it('answers not_applicable for purposes Mailchimp has no notion of', async () => {
    for (const purpose of ['phone', 'postal_mail', 'statistics'] as const) {
      const result = await connector.applyConsent(subject(ada), {
        purpose,
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        hasEvidence: false,
      });
      expect(result.outcome).toBe('not_applicable');
    }
    const reading = await connector.readConsent(subject(ada));
    expect(Object.keys(reading.purposes).sort()).toEqual([
      'event_invitations',
      'marketing_email',
      'product_information',
    ]);
    expect(reading.purposes.marketing_email).toBe('unknown');
  });

  it('reads mixed consent when audiences disagree', async () => {
    const news = await createAudience('News');
    const events = await createAudience('Events');
    await addMember(news, ada, 'subscribed');
    await addMember(events, ada, 'unsubscribed');
    const reading = await connector.readConsent(subject(ada));
    expect(reading.purposes.marketing_email).toBe('mixed');
    expect(reading.records).toHaveLength(2);
  });

  it('finds, then permanently deletes, a member someone added with a raw HTTPS request (curl-style)', async () => {
    const news = await createAudience('News');
    const hash = subscriberHash('katherine.johnson@example.com');
    const added = await raw(sandbox.url, 'PUT', `/lists/${news}/members/${hash}`, {
      email_address: 'katherine.johnson@example.com',
      status_if_new: 'subscribed',
    });
    expect(added.status).toBe(200);
    const found = await connector.find(subject('katherine.johnson@example.com'));
    expect(found.records).toEqual([
      expect.objectContaining({ kind: 'member', id: hash, container: news, status: 'subscribed' }),
    ]);
    const erased = await connector.erase(subject('katherine.johnson@example.com'));
    expect(erased.outcome).toBe('erased');
    const state = JSON.stringify(await control.state());
    expect(state).not.toContain('katherine');
    expect(state).toContain(hash);
  });

  it('treats an archived member as still held, and erases it for good', async () => {
    const news = await createAudience('News');
    await addMember(news, ada, 'subscribed');
    await raw(sandbox.url, 'DELETE', `/lists/${news}/members/${subscriberHash(ada)}`);
    expect((await connector.find(subject(ada))).records.map((r) => r.status)).toEqual(['archived']);
    expect((await connector.erase(subject(ada))).outcome).toBe('erased');
    expect((await raw(sandbox.url, 'GET', `/lists/${news}/members/${subscriberHash(ada)}`)).status).toBe(404);
  });

  it('counts a 404 on delete-permanent as already gone, not as a failure', async () => {
    const news = await createAudience('News');
    await addMember(news, ada, 'subscribed');
    await control.fail({ method: 'POST', path: '/actions/delete-permanent$', status: 404, count: 1 });
    const result = await connector.erase(subject(ada));
    expect(result.outcome).toBe('not_found');
    expect(result.records).toEqual([expect.objectContaining({ container: news, result: 'already_gone' })]);
  });

  it('classifies 401 (the key revoked in Mailchimp) as non-retryable with the problem title', async () => {
    const accepted = sandbox.store.options.apiKeys;
    sandbox.store.options.apiKeys = ['fedcba9876543210fedcba9876543210-us21'];
    const error = await connector.find(subject(ada)).catch((e: unknown) => e);
    sandbox.store.options.apiKeys = accepted;
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    expect(error).toMatchObject({ status: 401, vendorCode: 'API Key Invalid', operation: 'find' });
    expect((error as NonRetryableVendorError).reason).toContain('wrong datacenter');
  });

  it('classifies 503 as retryable with the problem title and no Retry-After of its own', async () => {
    await createAudience('News');
    await control.fail({ path: '/members/', status: 503, count: 1 });
    const error = await connector.find(subject(ada)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableVendorError);
    expect(error).toMatchObject({ status: 503, vendorCode: 'Service Unavailable', retryAfterMs: undefined });
  });

  it('classifies an outage (dropped connections) as retryable', async () => {
    await createAudience('News');
    await control.outage(true);
    const error = await connector.find(subject(ada)).catch((e: unknown) => e);
    await control.outage(false);
    expect(error).toBeInstanceOf(RetryableVendorError);
    expect((error as RetryableVendorError).reason).toMatch(/could not be reached/);
  });

  it('classifies 429 from the 11th simultaneous connection of the key as retryable', async () => {
    await createAudience('News');
    await control.setLatency(500);
    // Ten raw calls from "another process" hold every slot of the key while the connector calls.
    const others = Array.from({ length: 10 }, () => raw(sandbox.url, 'GET', '/ping'));
    // Until all ten are in: the connector's calls go over a kept connection and can overtake a new one.
    while ((sandbox.store.inFlight.get(testApiKey) ?? 0) < 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const error = await connector.find(subject(ada)).catch((e: unknown) => e);
    await Promise.all(others);
    expect(error).toBeInstanceOf(RetryableVendorError);
    expect(error).toMatchObject({ status: 429, vendorCode: 'TooManyRequests', retryAfterMs: undefined });
  });

  it('keeps a burst of 30 connector calls under the per-key limit, so none gets 429', async () => {
    const audiences = [await createAudience('News'), await createAudience('Events')];
    for (const listId of audiences) await addMember(listId, ada, 'subscribed');
    await control.setLatency(50);
    await control.clearRequests();
    const results = await Promise.all(Array.from({ length: 30 }, () => connector.find(subject(ada))));
    expect(results.every((r) => r.records.length === 2)).toBe(true);
    const log = await control.requests();
    // 30 × (one GET /lists + one GET per audience) = 90 calls, none refused.
    expect(log).toHaveLength(90);
    expect(log.filter((e) => e.status === 429)).toEqual([]);
  });

  it('classifies 400 validation problems as non-retryable with title, audience and detail, and logs no address', async () => {
    const news = await createAudience('News');
    await control.fail({ path: '/members/', status: 400, count: 1, message: `Bad thing about ${ada}` });
    const error = await connector.find(subject(ada)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    expect((error as NonRetryableVendorError).reason).toBe(
      `Mailchimp answered 400 Invalid Resource in audience ${news}: Bad thing about [email]`,
    );
    expect(logs.lines.join('\n')).not.toContain('@example.com');
  });
});
