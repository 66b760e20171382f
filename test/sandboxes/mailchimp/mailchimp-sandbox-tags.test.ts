import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  documentedSubscriberHash as md5OfLowerCase,
  newAudience,
} from '../../connectors/mailchimp/mailchimp-test-kit.js';
import { startMailchimpSandboxOverHttp } from '../../support/mailchimp-sandbox-over-http.js';

/**
 * Member tags as Mailchimp documents them, through plain HTTPS requests (no SDK, no connector):
 * https://mailchimp.com/developer/marketing/api/list-member-tags/add-or-remove-member-tags/
 * POST /lists/{list_id}/members/{subscriber_hash}/tags `{tags:[{name, status:"active"|"inactive"}]}` → 204
 * with no body; a tag that does not exist is created when set active.
 */
type Json = Record<string, unknown>;

describe('Mailchimp sandbox member tags, as Mailchimp documents them', () => {
  let mailchimp: Awaited<ReturnType<typeof startMailchimpSandboxOverHttp<Json>>>;
  const call = (method: string, path: string, body?: unknown) => mailchimp.call(method, path, body);

  beforeAll(async () => {
    mailchimp = await startMailchimpSandboxOverHttp<Json>();
  });
  afterAll(() => mailchimp?.sandbox.close());
  beforeEach(() => mailchimp.control.reset());

  it('adds a new tag with 204 and no body, keeps it once, and removes it when set inactive', async () => {
    const listId = (await call('POST', '/lists', newAudience('News'))).json.id as string;
    const email = 'tagged@example.com';
    await call('POST', `/lists/${listId}/members`, { email_address: email, status: 'subscribed' });
    const path = `/lists/${listId}/members/${md5OfLowerCase(email)}`;

    const added = await call('POST', `${path}/tags`, { tags: [{ name: 'restricted', status: 'active' }] });
    expect(added.status).toBe(204);
    expect(added.json).toBeUndefined();
    await call('POST', `${path}/tags`, { tags: [{ name: 'restricted', status: 'active' }] });
    const member = await call('GET', path);
    expect((member.json.tags as { name: string }[]).map((t) => t.name)).toEqual(['restricted']);
    expect(member.json.tags_count).toBe(1);

    expect(
      (await call('POST', `${path}/tags`, { tags: [{ name: 'restricted', status: 'inactive' }] })).status,
    ).toBe(204);
    expect((await call('GET', path)).json.tags).toEqual([]);
  });

  it('answers 404 for a member that is not there and 400 for a tag without a status', async () => {
    const listId = (await call('POST', '/lists', newAudience('News'))).json.id as string;
    const missing = await call(
      'POST',
      `/lists/${listId}/members/${md5OfLowerCase('nobody@example.com')}/tags`,
      {
        tags: [{ name: 'restricted', status: 'active' }],
      },
    );
    expect(missing.status).toBe(404);
    expect(missing.json.title).toBe('Resource Not Found');
    await call('POST', `/lists/${listId}/members`, { email_address: 'x@example.com', status: 'subscribed' });
    const bad = await call('POST', `/lists/${listId}/members/${md5OfLowerCase('x@example.com')}/tags`, {
      tags: [{ name: 'restricted' }],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.title).toBe('Invalid Resource');
  });
});
