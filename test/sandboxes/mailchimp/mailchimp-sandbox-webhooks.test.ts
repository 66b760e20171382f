import { setTimeout as delay } from 'node:timers/promises';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import {
  basicAuth,
  documentedSubscriberHash,
  testApiKey,
} from '../../connectors/mailchimp/mailchimp-test-kit.js';
import { startTestSandbox } from '../../support/sandboxes.js';

type Json = Record<string, unknown>;
const listId = 'hooks-list';

/** The sandbox's webhooks: saved through the vendor API, validated by a GET, fired as form POSTs. */
describe('Mailchimp sandbox webhooks', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  let receiver: FastifyInstance;
  let receiverUrl: string;
  const received: Json[] = [];
  let validations = 0;
  let refuse = false;

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${sandbox.url}/3.0${path}`, {
      method,
      headers: {
        authorization: basicAuth(testApiKey),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: (text ? JSON.parse(text) : undefined) as Json };
  };
  const member = (email: string) => `/lists/${listId}/members/${documentedSubscriberHash(email)}`;
  const deliveriesOf = async (count: number) => {
    for (let i = 0; i < 40 && received.length < count; i++) await delay(50);
    return received;
  };

  beforeAll(async () => {
    sandbox = await startTestSandbox(mailchimpSandbox, { apiKeys: [testApiKey], dc: 'us21' });
    control = new SandboxClient(sandbox.url);
    receiver = Fastify({ logger: false });
    await receiver.register(formbody);
    receiver.get('/hook', async (_request, reply) => {
      validations++;
      return reply.code(refuse ? 500 : 200).send('ok');
    });
    receiver.post('/hook', async (request) => {
      received.push(request.body as Json);
      return 'ok';
    });
    await receiver.listen({ port: 0, host: '127.0.0.1' });
    const address = receiver.server.address();
    receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  });
  afterAll(async () => {
    await sandbox?.close();
    await receiver?.close();
  });
  beforeEach(async () => {
    await control.reset();
    received.length = 0;
    validations = 0;
    refuse = false;
    await control.seed({
      lists: [
        {
          id: listId,
          name: 'Hooks',
          members: [
            { email_address: 'hook.one@example.com', status: 'subscribed', merge_fields: { FNAME: 'Hook' } },
            { email_address: 'hook.two@example.com', status: 'subscribed' },
          ],
        },
      ],
    });
  });

  // Mailchimp validates a webhook URL with a GET when it is saved: https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/ and https://mailchimp.com/developer/marketing/api/list-webhooks/
  it('saves a webhook after validating its URL with a GET, lists, gets and deletes it', async () => {
    const saved = await call('POST', `/lists/${listId}/webhooks`, {
      url: receiverUrl,
      events: { unsubscribe: true, campaign: false },
      sources: { user: true },
    });
    expect(saved.status).toBe(200);
    expect(validations).toBe(1);
    expect(saved.json).toMatchObject({
      id: expect.any(String),
      url: receiverUrl,
      list_id: listId,
      events: { unsubscribe: true, subscribe: true, campaign: false },
      sources: { user: true, admin: true, api: false },
    });
    const id = saved.json.id as string;
    expect((await call('GET', `/lists/${listId}/webhooks`)).json).toMatchObject({
      total_items: 1,
      list_id: listId,
    });
    expect((await call('GET', `/lists/${listId}/webhooks/${id}`)).json.id).toBe(id);
    expect((await call('DELETE', `/lists/${listId}/webhooks/${id}`)).status).toBe(204);
    expect((await call('GET', `/lists/${listId}/webhooks/${id}`)).status).toBe(404);
    expect((await call('GET', `/lists/${listId}/webhooks`)).json.total_items).toBe(0);
  });

  // The URL must answer the validation GET: https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/
  it('refuses a URL that does not answer the validation GET with 200, an unreachable one, a bad one, and an unknown list', async () => {
    refuse = true;
    const refused = await call('POST', `/lists/${listId}/webhooks`, { url: receiverUrl });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ title: 'Invalid Resource', errors: [{ field: 'url' }] });
    expect((await call('POST', `/lists/${listId}/webhooks`, { url: 'http://127.0.0.1:1/hook' })).status).toBe(
      400,
    );
    expect((await call('POST', `/lists/${listId}/webhooks`, { url: 'not a url' })).status).toBe(400);
    expect((await call('POST', '/lists/nope/webhooks', { url: receiverUrl })).status).toBe(404);
    expect(
      (await call('GET', `/lists/${listId}/webhooks`, undefined, { authorization: 'Basic eDp5' })).status,
    ).toBe(401);
  });

  // Deliveries are application/x-www-form-urlencoded with type, fired_at and data[...]: https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/
  it("fires a form-encoded unsubscribe when a person unsubscribes (source user), in Mailchimp's field names", async () => {
    await call('POST', `/lists/${listId}/webhooks`, { url: receiverUrl, sources: { user: true } });
    const before = Date.now();
    const changed = await call(
      'PATCH',
      member('hook.one@example.com'),
      { status: 'unsubscribed' },
      { 'x-sandbox-source': 'user' },
    );
    expect(changed.status).toBe(200);
    const [delivery] = await deliveriesOf(1);
    expect(delivery).toEqual({
      type: 'unsubscribe',
      fired_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/),
      'data[id]': changed.json.unique_email_id,
      'data[email]': 'hook.one@example.com',
      'data[email_type]': 'html',
      'data[list_id]': listId,
      'data[action]': 'unsub',
      'data[reason]': 'manual',
      'data[merges][EMAIL]': 'hook.one@example.com',
      'data[merges][FNAME]': 'Hook',
    });
    // fired_at is UTC.
    const fired = Date.parse(`${String(delivery?.fired_at).replace(' ', 'T')}Z`);
    expect(Math.abs(fired - before)).toBeLessThan(5_000);
    const state = await control.state<{ webhooks: { deliveries: Json[] } }>();
    expect(state.webhooks.deliveries).toEqual([
      expect.objectContaining({ type: 'unsubscribe', status: 200 }),
    ]);
  });

  // sources.api, sources.user, sources.admin choose what fires: https://mailchimp.com/developer/marketing/api/list-webhooks/add-webhook/
  it('fires nothing for changes made through the API unless the webhook asks for source api', async () => {
    await call('POST', `/lists/${listId}/webhooks`, { url: receiverUrl });
    await call('PATCH', member('hook.one@example.com'), { status: 'unsubscribed' });
    await delay(300);
    expect(received).toEqual([]);

    await call('POST', `/lists/${listId}/webhooks`, { url: receiverUrl, sources: { api: true } });
    await call('PATCH', member('hook.two@example.com'), { status: 'unsubscribed' });
    expect((await deliveriesOf(1)).map((d) => d.type)).toEqual(['unsubscribe']);
  });

  // Event types subscribe, unsubscribe, profile, cleaned, upemail, campaign: https://mailchimp.com/developer/marketing/api/list-webhooks/add-webhook/
  it('fires cleaned on a bounce, profile on a merge-field change, and unsubscribe with action delete on a delete', async () => {
    await call('POST', `/lists/${listId}/webhooks`, { url: receiverUrl, sources: { admin: true } });
    const admin = { 'x-sandbox-source': 'admin' };
    await call('PATCH', member('hook.one@example.com'), { merge_fields: { FNAME: 'Changed' } }, admin);
    await deliveriesOf(1);
    await call('PATCH', member('hook.one@example.com'), { status: 'cleaned' }, admin);
    await deliveriesOf(2);
    await call('DELETE', member('hook.two@example.com'), undefined, admin);
    const deliveries = await deliveriesOf(3);
    expect(deliveries.map((d) => d.type)).toEqual(['profile', 'cleaned', 'unsubscribe']);
    expect(deliveries[0]).toMatchObject({ 'data[merges][FNAME]': 'Changed' });
    expect(deliveries[1]).toMatchObject({ 'data[email]': 'hook.one@example.com', 'data[reason]': 'hard' });
    expect(deliveries[2]).toMatchObject({ 'data[email]': 'hook.two@example.com', 'data[action]': 'delete' });
  });
});
