import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import { raw, testApiKey } from '../../connectors/mailchimp/mailchimp-test-kit.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/**
 * What an access request reads about a member, as Mailchimp documents it, through plain HTTPS requests:
 * - tags with when each was added: https://mailchimp.com/developer/marketing/api/list-member-tags/list-member-tags/
 *   GET /lists/{list_id}/members/{subscriber_hash}/tags → `{tags:[{id, name, date_added}], total_items}`;
 * - notes: https://mailchimp.com/developer/marketing/api/list-member-notes/list-recent-member-notes/
 *   GET .../notes → `{notes:[{id, created_at, created_by, updated_at, note, list_id, email_id,
 *   contact_id, _links}], list_id, email_id, total_items}`;
 * - adding a note: https://mailchimp.com/developer/marketing/api/list-member-notes/add-member-note/
 *   POST .../notes `{note}` (the content; "Note length is limited to 1,000 characters") → 200 with the note
 *   (`id, created_at, created_by, updated_at, note, list_id, email_id, contact_id, _links`);
 * - one note: https://mailchimp.com/developer/marketing/api/list-member-notes/get-member-note/
 *   GET .../notes/{note_id} → the note; update: https://mailchimp.com/developer/marketing/api/list-member-notes/update-note/
 *   PATCH .../notes/{note_id} `{note}` → the note; delete: https://mailchimp.com/developer/marketing/api/list-member-notes/delete-note/
 *   DELETE .../notes/{note_id} → 204;
 * - the activity feed: https://mailchimp.com/developer/marketing/api/list-member-activity-feed/view-recent-activity/
 *   GET .../activity-feed → `{activity:[{activity_type, created_at_timestamp, ...}], email_id, list_id, total_items}`;
 * - `count` (default 10, at most 1000) and `offset`: https://mailchimp.com/developer/marketing/docs/methods-parameters/
 */
const md5OfLowerCase = (address: string) => createHash('md5').update(address.toLowerCase()).digest('hex');
type Json = Record<string, unknown>;

describe('Mailchimp member tags, notes and activity feed, as Mailchimp documents them', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  const email = 'Reader@Example.com';
  const path = `/lists/list01/members/${md5OfLowerCase(email)}`;
  const call = async (method: string, url: string, body?: unknown) => {
    const answer = await raw(sandbox.url, method, url, body);
    return { ...answer, json: answer.json as Json };
  };

  beforeAll(async () => {
    sandbox = await startTestSandbox(mailchimpSandbox, { apiKeys: [testApiKey], dc: 'us21' });
    control = new SandboxClient(sandbox.url);
  });
  afterAll(() => sandbox.close());
  beforeEach(async () => {
    await control.reset();
    await control.seed({
      lists: [
        {
          id: 'list01',
          name: 'News',
          members: [
            {
              email_address: email,
              status: 'subscribed',
              tags: ['webinar', 'customer'],
              notes: Array.from({ length: 12 }, (_, i) => ({ note: `note ${i + 1}`, created_by: 'sales' })),
              activity: [
                { activity_type: 'signup' },
                { activity_type: 'open', campaign_id: 'c1', campaign_title: 'Autumn news' },
              ],
            },
          ],
        },
      ],
    });
  });

  it('lists a member’s tags with id, name and date_added; the member itself carries id and name only', async () => {
    const tags = await call('GET', `${path}/tags`);
    expect(tags.status).toBe(200);
    expect(tags.json.total_items).toBe(2);
    expect(tags.json.tags).toEqual([
      { id: expect.any(Number), name: 'webinar', date_added: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      { id: expect.any(Number), name: 'customer', date_added: expect.any(String) },
    ]);
    expect((await call('GET', path)).json.tags).toEqual([
      { id: expect.any(Number), name: 'webinar' },
      { id: expect.any(Number), name: 'customer' },
    ]);
  });

  it('pages a member’s notes 10 at a time by default, each with id, note, author, times and the member’s ids', async () => {
    const first = await call('GET', `${path}/notes`);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ total_items: 12, list_id: 'list01', email_id: md5OfLowerCase(email) });
    expect(first.json.notes).toHaveLength(10);
    expect((first.json.notes as Json[])[0]).toEqual({
      id: expect.any(Number),
      note: 'note 1',
      created_by: 'sales',
      created_at: expect.any(String),
      updated_at: expect.any(String),
      list_id: 'list01',
      email_id: md5OfLowerCase(email),
      contact_id: expect.any(String),
      _links: expect.any(Array),
    });
    const rest = await call('GET', `${path}/notes?count=10&offset=10`);
    expect((rest.json.notes as Json[]).map((n) => n.note)).toEqual(['note 11', 'note 12']);
  });

  it('answers the activity feed newest first, each event with activity_type and created_at_timestamp', async () => {
    const feed = await call('GET', `${path}/activity-feed`);
    expect(feed.status).toBe(200);
    expect(feed.json).toMatchObject({ total_items: 2, list_id: 'list01', email_id: md5OfLowerCase(email) });
    expect(feed.json.activity).toEqual([
      expect.objectContaining({
        activity_type: 'open',
        campaign_title: 'Autumn news',
        created_at_timestamp: expect.any(String),
      }),
      expect.objectContaining({ activity_type: 'signup' }),
    ]);
  });

  it('adds a note with POST .../notes, answers it with its id and times, and lists it with the others', async () => {
    const added = await call('POST', `${path}/notes`, { note: 'Asked by phone to keep invoices' });
    expect(added.status).toBe(200);
    expect(added.json).toEqual({
      id: 13,
      note: 'Asked by phone to keep invoices',
      created_by: expect.any(String),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      list_id: 'list01',
      email_id: md5OfLowerCase(email),
      contact_id: expect.any(String),
      _links: expect.any(Array),
    });
    const listed = await call('GET', `${path}/notes?count=20`);
    expect(listed.json.total_items).toBe(13);
    expect((listed.json.notes as Json[]).at(-1)).toMatchObject({
      id: 13,
      note: 'Asked by phone to keep invoices',
    });
  });

  it('refuses a note that is missing, blank or longer than 1,000 characters with 400 Invalid Resource naming `note`, and adds nothing', async () => {
    for (const body of [{}, { note: '' }, { note: '   ' }, { note: 'x'.repeat(1001) }]) {
      const refused = await call('POST', `${path}/notes`, body);
      expect(refused.status).toBe(400);
      expect(refused.json).toMatchObject({ title: 'Invalid Resource', errors: [{ field: 'note' }] });
    }
    expect((await call('GET', `${path}/notes`)).json.total_items).toBe(12);
    const missing = await call(
      'POST',
      `/lists/list01/members/${md5OfLowerCase('nobody@example.com')}/notes`,
      {
        note: 'x',
      },
    );
    expect(missing.status).toBe(404);
  });

  it('reads one note by id, updates its text and updated_at with PATCH, and deletes it with 204, after which it is 404', async () => {
    const one = await call('GET', `${path}/notes/3`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ id: 3, note: 'note 3', created_by: 'sales', list_id: 'list01' });

    const stored = sandbox.store.lists.get('list01')?.members.get(md5OfLowerCase(email))?.notes?.[2];
    if (!stored) throw new Error('seeded note 3 missing');
    stored.updated_at = '2020-01-01T00:00:00+00:00';
    const patched = await call('PATCH', `${path}/notes/3`, { note: 'Prefers post' });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ id: 3, note: 'Prefers post', created_by: 'sales' });
    expect(patched.json.updated_at).not.toBe('2020-01-01T00:00:00+00:00');
    expect(Date.parse(String(patched.json.updated_at))).toBeGreaterThan(Date.parse('2021-01-01T00:00:00Z'));
    expect((await call('GET', `${path}/notes/3`)).json.note).toBe('Prefers post');

    for (const body of [{}, { note: '' }, { note: 'x'.repeat(1001) }]) {
      const refused = await call('PATCH', `${path}/notes/3`, body);
      expect(refused.status).toBe(400);
      expect(refused.json).toMatchObject({ title: 'Invalid Resource', errors: [{ field: 'note' }] });
    }
    expect((await call('GET', `${path}/notes/3`)).json.note).toBe('Prefers post');

    const deleted = await raw(sandbox.url, 'DELETE', `${path}/notes/3`);
    expect(deleted.status).toBe(204);
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const gone = await call(method, `${path}/notes/3`, method === 'PATCH' ? { note: 'x' } : undefined);
      expect(gone.status).toBe(404);
      expect(gone.json).toMatchObject({ status: 404, title: 'Resource Not Found' });
    }
    const listed = await call('GET', `${path}/notes?count=20`);
    expect(listed.json.total_items).toBe(11);
    expect((listed.json.notes as Json[]).map((n) => n.id)).not.toContain(3);
    expect((await call('GET', `${path}/notes/999`)).status).toBe(404);
  });

  it('answers 404 with a problem document for the sub-resources of a member that is not there', async () => {
    for (const resource of ['tags', 'notes', 'activity-feed']) {
      const missing = await call(
        'GET',
        `/lists/list01/members/${md5OfLowerCase('nobody@example.com')}/${resource}`,
      );
      expect(missing.status).toBe(404);
      expect(missing.json).toMatchObject({ status: 404, title: 'Resource Not Found' });
    }
  });
});
