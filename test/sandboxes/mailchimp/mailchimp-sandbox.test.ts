import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import {
  basicAuth,
  documentedSubscriberHash,
  newAudience,
  raw,
  testApiKey,
} from '../../connectors/mailchimp/mailchimp-test-kit.js';
import { startTestSandbox } from '../../support/sandboxes.js';

type Json = Record<string, unknown> & {
  title?: string;
  status?: number | string;
  id?: string;
  members?: Json[];
  lists?: Json[];
  total_items?: number;
};

describe('Mailchimp sandbox (Marketing API v3 over HTTPS)', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  let url: string;
  const call = async (method: string, path: string, body?: unknown, key?: string) => {
    const answer = await raw(url, method, path, body, key);
    return { ...answer, json: answer.json as Json };
  };
  const createAudience = async (name: string) =>
    (await call('POST', '/lists', newAudience(name))).json.id as string;

  beforeAll(async () => {
    sandbox = await startTestSandbox(mailchimpSandbox, { apiKeys: [testApiKey], dc: 'us21' });
    control = new SandboxClient(sandbox.url);
    url = sandbox.url;
  });
  afterAll(() => sandbox.close());
  beforeEach(() => control.reset());

  // Errors: https://mailchimp.com/developer/marketing/docs/errors/ (problem document: type, title, status, detail, instance).
  it('answers a wrong key with 401 problem+json in Mailchimp shape', async () => {
    const answer = await call('GET', '/lists', undefined, 'ffffffffffffffffffffffffffffffff-us21');
    expect(answer.status).toBe(401);
    expect(answer.contentType).toMatch(/^application\/problem\+json/);
    expect(answer.json).toEqual({
      type: 'https://mailchimp.com/developer/marketing/docs/errors/',
      title: 'API Key Invalid',
      status: 401,
      detail: expect.stringContaining('wrong datacenter'),
      instance: expect.any(String),
    });
  });

  // Authentication: the key ends in its data centre, which names the host: https://mailchimp.com/developer/marketing/docs/fundamentals/
  it('refuses a known key presented with another data-centre suffix, and a request with no key', async () => {
    const otherDc = testApiKey.replace(/-us21$/, '-us6');
    expect((await call('GET', '/lists', undefined, otherDc)).status).toBe(401);
    const anonymous = await fetch(`${url}/3.0/lists`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as Json).title).toBe('API Key Missing');
  });

  // Basic auth with any user name, or an OAuth-style Bearer token: https://mailchimp.com/developer/marketing/docs/fundamentals/
  it('accepts the key as a Bearer token too', async () => {
    const response = await fetch(`${url}/3.0/ping`, { headers: { authorization: `Bearer ${testApiKey}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ health_status: "Everything's Chimpy!" });
  });

  // Lists/Audiences and pagination (count, offset): https://mailchimp.com/developer/marketing/api/lists/ and https://mailchimp.com/developer/marketing/docs/methods-parameters/#pagination
  it('creates audiences with POST /lists and pages them with count and offset', async () => {
    for (const name of ['A', 'B', 'C']) await createAudience(name);
    const page = await call('GET', '/lists?count=2&offset=1');
    expect(page.json.total_items).toBe(3);
    expect(page.json.lists?.map((l) => l.name)).toEqual(['B', 'C']);
    const invalid = await call('POST', '/lists', { name: 'no contact' });
    expect(invalid.status).toBe(400);
    expect(invalid.json.title).toBe('Invalid Resource');
    expect(Array.isArray(invalid.json.errors)).toBe(true);
  });

  // subscriber_hash is the MD5 of the lower-cased address; PUT upserts with status_if_new: https://mailchimp.com/developer/marketing/api/list-members/add-or-update-list-member/
  it('keys members by the MD5 of the lower-cased email and upserts with status_if_new', async () => {
    const listId = await createAudience('News');
    const hash = documentedSubscriberHash('Ada.Lovelace@Example.com');
    const put = await call('PUT', `/lists/${listId}/members/${hash}`, {
      email_address: 'Ada.Lovelace@Example.com',
      status_if_new: 'subscribed',
    });
    expect(put.status).toBe(200);
    expect(put.json.id).toBe(createHash('md5').update('ada.lovelace@example.com').digest('hex'));
    expect(put.json.status).toBe('subscribed');
    expect(typeof put.json.last_changed).toBe('string');
    // status_if_new does not touch an existing member.
    const again = await call('PUT', `/lists/${listId}/members/${hash}`, {
      email_address: 'ada.lovelace@example.com',
      status_if_new: 'pending',
    });
    expect(again.json.status).toBe('subscribed');
    expect((await call('GET', `/lists/${listId}/members/${hash}`)).json.status).toBe('subscribed');
  });

  // Get member info: https://mailchimp.com/developer/marketing/api/list-members/get-member-info/
  it('answers 404 Resource Not Found for an unknown member', async () => {
    const listId = await createAudience('News');
    const answer = await call(
      'GET',
      `/lists/${listId}/members/${documentedSubscriberHash('nobody@example.com')}`,
    );
    expect(answer.status).toBe(404);
    expect(answer.json.title).toBe('Resource Not Found');
  });

  // Re-subscribing an unsubscribed member needs the double opt-in (pending): https://mailchimp.com/developer/marketing/docs/errors/ ("Member In Compliance State").
  it('refuses unsubscribed → subscribed with "Member In Compliance State" but allows unsubscribed → pending', async () => {
    const listId = await createAudience('News');
    const hash = documentedSubscriberHash('grace@example.com');
    await call('POST', `/lists/${listId}/members`, {
      email_address: 'grace@example.com',
      status: 'unsubscribed',
    });
    const refused = await call('PATCH', `/lists/${listId}/members/${hash}`, { status: 'subscribed' });
    expect(refused.status).toBe(400);
    expect(refused.json.title).toBe('Member In Compliance State');
    const pending = await call('PATCH', `/lists/${listId}/members/${hash}`, { status: 'pending' });
    expect(pending.status).toBe(200);
    expect(pending.json.status).toBe('pending');
  });

  // marketing_permissions on a member: https://mailchimp.com/developer/marketing/api/list-members/update-list-member/
  it('sets marketing permissions per audience and rejects unknown permission ids', async () => {
    await control.seed({
      lists: [
        {
          id: 'perm000001',
          name: 'GDPR',
          marketing_permissions: [{ marketing_permission_id: 'p-email', text: 'Email' }],
          members: [{ email_address: 'ada@example.com', status: 'subscribed' }],
        },
      ],
    });
    const hash = documentedSubscriberHash('ada@example.com');
    const before = await call('GET', `/lists/perm000001/members/${hash}`);
    expect(before.json.marketing_permissions).toEqual([
      { marketing_permission_id: 'p-email', text: 'Email', enabled: false },
    ]);
    const after = await call('PATCH', `/lists/perm000001/members/${hash}`, {
      marketing_permissions: [{ marketing_permission_id: 'p-email', enabled: true }],
    });
    expect(after.json.marketing_permissions).toEqual([
      { marketing_permission_id: 'p-email', text: 'Email', enabled: true },
    ]);
    const unknown = await call('PATCH', `/lists/perm000001/members/${hash}`, {
      marketing_permissions: [{ marketing_permission_id: 'nope', enabled: true }],
    });
    expect(unknown.status).toBe(400);
  });

  // Archive (DELETE) vs delete-permanent: https://mailchimp.com/developer/marketing/api/list-members/archive-list-member/ and https://mailchimp.com/developer/marketing/api/list-members/delete-list-member/
  it('archives on DELETE but keeps the member, and forgets all but the hash on delete-permanent', async () => {
    const listId = await createAudience('News');
    const hash = documentedSubscriberHash('alan@example.com');
    await call('POST', `/lists/${listId}/members`, {
      email_address: 'alan@example.com',
      status: 'subscribed',
    });
    expect((await call('DELETE', `/lists/${listId}/members/${hash}`)).status).toBe(204);
    expect((await call('GET', `/lists/${listId}/members/${hash}`)).json.status).toBe('archived');

    const deleted = await fetch(`${url}/3.0/lists/${listId}/members/${hash}/actions/delete-permanent`, {
      method: 'POST',
      headers: { authorization: basicAuth(testApiKey), 'content-type': 'application/json' },
    });
    expect(deleted.status).toBe(204);
    expect((await call('GET', `/lists/${listId}/members/${hash}`)).status).toBe(404);
    const state = JSON.stringify(await control.state());
    expect(state).not.toContain('alan@example.com');
    expect(state).toContain(hash);

    const readd = await call('POST', `/lists/${listId}/members`, {
      email_address: 'alan@example.com',
      status: 'subscribed',
    });
    expect(readd.status).toBe(400);
    expect(readd.json.title).toBe('Forgotten Email Not Subscribed');
    const upsert = await call('PUT', `/lists/${listId}/members/${hash}`, {
      email_address: 'alan@example.com',
      status_if_new: 'pending',
    });
    expect(upsert.json.title).toBe('Forgotten Email Not Subscribed');
    const again = await call('POST', `/lists/${listId}/members/${hash}/actions/delete-permanent`);
    expect(again.status).toBe(404);
  });

  // Delete list: https://mailchimp.com/developer/marketing/api/lists/delete-list/ (DELETE /lists/{list_id}, 204).
  it('deletes an audience with DELETE /lists/{list_id}: 204, then the audience and its members answer 404', async () => {
    const listId = await createAudience('Old news');
    const kept = await createAudience('Kept');
    const hash = documentedSubscriberHash('grace@example.com');
    for (const id of [listId, kept])
      await call('POST', `/lists/${id}/members`, {
        email_address: 'grace@example.com',
        status: 'subscribed',
      });

    const deleted = await call('DELETE', `/lists/${listId}`);
    expect(deleted.status).toBe(204);
    for (const path of [`/lists/${listId}`, `/lists/${listId}/members`, `/lists/${listId}/members/${hash}`]) {
      const gone = await call('GET', path);
      expect(gone.status).toBe(404);
      expect(gone.json).toMatchObject({ status: 404, title: 'Resource Not Found' });
    }
    expect((await call('DELETE', `/lists/${listId}`)).status).toBe(404);
    const lists = await call('GET', '/lists');
    expect(lists.json.lists?.map((l) => l.id)).toEqual([kept]);
    expect((await call('GET', `/lists/${kept}/members/${hash}`)).json.status).toBe('subscribed');
  });

  // List members query parameters: https://mailchimp.com/developer/marketing/api/list-members/list-members-info/
  it('lists members by status, since_last_changed and unsubscribed_since with count and offset', async () => {
    const listId = await createAudience('News');
    for (const [email, status] of [
      ['a@example.com', 'subscribed'],
      ['b@example.com', 'subscribed'],
      ['c@example.com', 'unsubscribed'],
      ['d@example.com', 'pending'],
    ]) {
      await call('POST', `/lists/${listId}/members`, { email_address: email, status });
    }
    const subscribed = await call('GET', `/lists/${listId}/members?status=subscribed&count=1&offset=1`);
    expect(subscribed.json.total_items).toBe(2);
    expect(subscribed.json.members?.map((m) => m.email_address)).toEqual(['b@example.com']);

    const future = new Date(Date.now() + 60_000).toISOString();
    const none = await call(
      'GET',
      `/lists/${listId}/members?since_last_changed=${encodeURIComponent(future)}`,
    );
    expect(none.json.total_items).toBe(0);
    const past = new Date(Date.now() - 60_000).toISOString();
    const all = await call('GET', `/lists/${listId}/members?since_last_changed=${encodeURIComponent(past)}`);
    expect(all.json.total_items).toBe(4);
    const unsubscribed = await call(
      'GET',
      `/lists/${listId}/members?status=unsubscribed&unsubscribed_since=${encodeURIComponent(past)}`,
    );
    expect(unsubscribed.json.members?.map((m) => m.email_address)).toEqual(['c@example.com']);
  });

  // Search members: https://mailchimp.com/developer/marketing/api/search-members/search-members/
  it('searches members by exact address and by fragment, without logging the query', async () => {
    const listId = await createAudience('News');
    await call('POST', `/lists/${listId}/members`, {
      email_address: 'edsger@example.com',
      status: 'subscribed',
    });
    const exact = await call('GET', `/search-members?query=${encodeURIComponent('Edsger@example.com')}`);
    const matches = exact.json.exact_matches as Json;
    expect(matches.members?.map((m) => m.id)).toEqual([documentedSubscriberHash('edsger@example.com')]);
    const fragment = await call('GET', '/search-members?query=edsg');
    expect((fragment.json.full_search as Json).total_items).toBe(1);
    expect(JSON.stringify(await control.requests())).not.toContain('edsger');
  });

  // Ten simultaneous connections per user, then 429: https://mailchimp.com/developer/marketing/docs/fundamentals/#api-limits
  it('answers the 11th simultaneous request of one key with 429 TooManyRequests and frees slots afterwards', async () => {
    await control.setLatency(400);
    const answers = await Promise.all(Array.from({ length: 13 }, () => call('GET', '/ping')));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    const rejected = answers.find((a) => a.status === 429);
    expect(rejected?.json.title).toBe('TooManyRequests');
    expect(rejected?.contentType).toMatch(/^application\/problem\+json/);
    expect(sandbox.store.inFlight.size).toBe(0);
    expect((await call('GET', '/ping')).status).toBe(200);
  });

  // Errors: https://mailchimp.com/developer/marketing/docs/errors/
  it('shapes injected faults as Mailchimp problems', async () => {
    await control.fail({ path: '^/3.0/lists$', status: 503, count: 1 });
    const answer = await call('GET', '/lists');
    expect(answer.status).toBe(503);
    expect(answer.contentType).toMatch(/^application\/problem\+json/);
    expect(answer.json).toMatchObject({ status: 503, title: 'Service Unavailable' });
  });
});
