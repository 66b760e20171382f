import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import { basicAuth, newAudience, raw, testApiKey } from '../../connectors/mailchimp/mailchimp-test-kit.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/**
 * The Mailchimp sandbox against Mailchimp's documentation, through plain HTTPS requests written from the pages
 * each test names (not through the SDK, and not through the connector).
 */

type Json = Record<string, unknown> & {
  title?: string;
  status?: number | string;
  id?: string;
  email_address?: string;
  members?: Json[];
  lists?: Json[];
  total_items?: number;
};

/** "The MD5 hash of the lowercase version of the list member's email address", written out here on purpose. */
const md5OfLowerCase = (address: string) => createHash('md5').update(address.toLowerCase()).digest('hex');

describe('Mailchimp sandbox, as Mailchimp documents it', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  let url: string;
  const call = async (method: string, path: string, body?: unknown) => {
    const answer = await raw(url, method, path, body);
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

  // https://mailchimp.com/developer/marketing/docs/methods-parameters/#path-parameters
  it('hashes the address as stored (only lower-cased) and keeps email_address verbatim, spaces and Unicode form included', async () => {
    const listId = await createAudience('News');
    const spaced = ' Ada@Example.com ';
    const nfd = 'Zoe\u0301@example.com'; // "Zoé" with a combining accent (NFD)
    const nfc = nfd.normalize('NFC');
    for (const email_address of [spaced, nfd]) {
      const created = await call('POST', `/lists/${listId}/members`, { email_address, status: 'subscribed' });
      expect(created.status).toBe(200);
      expect(created.json.email_address).toBe(email_address);
      expect(created.json.id).toBe(md5OfLowerCase(email_address));
    }
    // A client that trims or composes before hashing lands on another member.
    expect((await call('GET', `/lists/${listId}/members/${md5OfLowerCase('ada@example.com')}`)).status).toBe(
      404,
    );
    expect((await call('GET', `/lists/${listId}/members/${md5OfLowerCase(nfc)}`)).status).toBe(404);
    const stored = await call('GET', `/lists/${listId}/members/${md5OfLowerCase(nfd)}`);
    expect(stored.json.email_address).toBe(nfd);
  });

  // https://mailchimp.com/developer/marketing/docs/methods-parameters/#path-parameters: the hash is of the
  // address as stored, so an IDN domain stored as `xn--` and the same domain in Unicode (or a DNS root's dot)
  // are two hashes; a GET or a PATCH under the other spelling's hash answers 404 and changes nothing.
  it("keeps a member stored under one spelling of an IDN or root-dot domain out of reach of the other spelling's hash, for GET and PATCH", async () => {
    const listId = await createAudience('News');
    for (const [stored, other] of [
      ['ida@xn--bcher-kva.example', 'ida@bücher.example'],
      ['uma@bücher.example', 'uma@xn--bcher-kva.example'],
      ['dot@example.com.', 'dot@example.com'],
    ] as const) {
      const created = await call('POST', `/lists/${listId}/members`, {
        email_address: stored,
        status: 'subscribed',
      });
      expect(created.json.id).toBe(md5OfLowerCase(stored));
      expect(md5OfLowerCase(other)).not.toBe(md5OfLowerCase(stored));
      expect((await call('GET', `/lists/${listId}/members/${md5OfLowerCase(other)}`)).status).toBe(404);
      const missed = await call('PATCH', `/lists/${listId}/members/${md5OfLowerCase(other)}`, {
        status: 'unsubscribed',
      });
      expect(missed.status).toBe(404);
      expect((await call('GET', `/lists/${listId}/members/${md5OfLowerCase(stored)}`)).json.status).toBe(
        'subscribed',
      );
      const patched = await call('PATCH', `/lists/${listId}/members/${md5OfLowerCase(stored)}`, {
        status: 'unsubscribed',
      });
      expect(patched.json).toMatchObject({ email_address: stored, status: 'unsubscribed' });
    }
    expect((await call('GET', `/lists/${listId}/members`)).json.total_items).toBe(3);
  });

  // https://mailchimp.com/developer/marketing/docs/errors/ (the 405 example and its Allow header)
  it('answers a method a known path does not support with 405 Method Not Allowed in problem+json, and unknown paths with 404', async () => {
    const listId = await createAudience('News');
    const hash = md5OfLowerCase('ada@example.com');
    for (const [method, path, allowed] of [
      ['PUT', `/lists/${listId}/members`, 'POST'],
      ['GET', `/lists/${listId}/members/${hash}/actions/delete-permanent`, 'POST'],
      ['POST', `/lists/${listId}/members/${hash}`, 'PUT'],
      ['DELETE', '/ping', 'GET'],
    ] as const) {
      const response = await fetch(`${url}/3.0${path}`, {
        method,
        headers: { authorization: basicAuth(testApiKey) },
      });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.headers.get('allow')).toContain(allowed);
      expect(await response.json()).toMatchObject({
        type: 'https://mailchimp.com/developer/marketing/docs/errors/',
        title: 'Method Not Allowed',
        status: 405,
        detail: expect.stringContaining('Allow header'),
      });
    }
    for (const path of ['/no-such-resource', `/lists/${listId}/members/${hash}/actions/no-such-action`]) {
      const answer = await call('POST', path);
      expect(answer.status, path).toBe(404);
      expect(answer.json.title).toBe('Resource Not Found');
    }
  });

  // https://github.com/amro/gibbon/issues/320 (405 "Can not archive a contact that is bounced, pending or archived")
  // and https://mailchimp.com/developer/marketing/api/list-members/archive-list-member/
  it('refuses to archive (DELETE) a pending, cleaned or already archived member with 405', async () => {
    await control.seed({
      lists: [
        {
          id: 'arch000001',
          name: 'News',
          members: [
            { email_address: 'pending@example.com', status: 'pending' },
            { email_address: 'cleaned@example.com', status: 'cleaned' },
            { email_address: 'subscribed@example.com', status: 'subscribed' },
          ],
        },
      ],
    });
    for (const address of ['pending@example.com', 'cleaned@example.com']) {
      const refused = await call('DELETE', `/lists/arch000001/members/${md5OfLowerCase(address)}`);
      expect(refused.status, address).toBe(405);
      expect(refused.json).toMatchObject({
        title: 'Method Not Allowed',
        detail: expect.stringContaining('archive'),
      });
    }
    const subscribed = `/lists/arch000001/members/${md5OfLowerCase('subscribed@example.com')}`;
    expect((await call('DELETE', subscribed)).status).toBe(204);
    expect((await call('GET', subscribed)).json.status).toBe('archived');
    expect((await call('DELETE', subscribed)).status).toBe(405);
  });

  // SDK docstring of lists.getListMember / setListMember: "The MD5 hash of the lowercase version of the list
  // member's email address. This endpoint also accepts a list member's email address or contact_id."
  // (https://github.com/mailchimp/mailchimp-marketing-node/blob/master/src/api/ListsApi.js)
  it('accepts the address itself, or the contact_id, in place of the subscriber hash', async () => {
    const listId = await createAudience('News');
    const put = await call('PUT', `/lists/${listId}/members/${encodeURIComponent('Grace@Example.com')}`, {
      email_address: 'Grace@Example.com',
      status_if_new: 'subscribed',
    });
    expect(put.status).toBe(200);
    expect(put.json.id).toBe(md5OfLowerCase('Grace@Example.com'));
    const byAddress = await call(
      'GET',
      `/lists/${listId}/members/${encodeURIComponent('grace@example.com')}`,
    );
    expect(byAddress.json.id).toBe(put.json.id);
    const byContact = await call('GET', `/lists/${listId}/members/${put.json.contact_id as string}`);
    expect(byContact.json.id).toBe(put.json.id);
    const patched = await call(
      'PATCH',
      `/lists/${listId}/members/${encodeURIComponent('GRACE@example.com')}`,
      {
        status: 'unsubscribed',
      },
    );
    expect(patched.json.status).toBe('unsubscribed');
  });

  // https://mailchimp.com/developer/marketing/docs/methods-parameters/#pagination ("count ... maximum 1000")
  it('caps count above 1000 at 1000 instead of refusing it', async () => {
    await control.seed({
      lists: [
        {
          id: 'many000001',
          name: 'Many',
          members: Array.from({ length: 1003 }, (_, i) => ({
            email_address: `person${i}@example.com`,
            status: 'subscribed' as const,
          })),
        },
      ],
    });
    const page = await call('GET', '/lists/many000001/members?count=5000&fields=members.id,total_items');
    expect(page.status).toBe(200);
    expect(page.json.members).toHaveLength(1000);
    expect(page.json.total_items).toBe(1003);
    expect((await call('GET', '/lists?count=1001')).status).toBe(200);
  });

  // https://mailchimp.com/developer/marketing/api/list-members/list-members-info/ (count default 10, offset
  // default 0, `status` filter) and https://mailchimp.com/developer/marketing/docs/methods-parameters/#pagination
  it('pages the members of an audience by count and offset, 10 by default, archived members only when asked for by status', async () => {
    await control.seed({
      lists: [
        {
          id: 'paged00001',
          name: 'Paged',
          members: [
            ...Array.from({ length: 23 }, (_, i) => ({
              email_address: `person${i}@example.com`,
              status: (i % 2 === 0 ? 'subscribed' : 'unsubscribed') as 'subscribed' | 'unsubscribed',
            })),
            { email_address: 'archived@example.com', status: 'subscribed' as const },
          ],
        },
      ],
    });
    // Archiving is DELETE /lists/{list_id}/members/{subscriber_hash} (archive-list-member).
    expect(
      (await call('DELETE', `/lists/paged00001/members/${md5OfLowerCase('archived@example.com')}`)).status,
    ).toBe(204);
    const first = await call('GET', '/lists/paged00001/members?fields=members.email_address,total_items');
    expect(first.json.members).toHaveLength(10);
    expect(first.json.total_items).toBe(23);
    const addresses: string[] = [];
    for (let offset = 0; offset < 23; offset += 7) {
      const page = await call(
        'GET',
        `/lists/paged00001/members?count=7&offset=${offset}&fields=members.id,members.email_address,members.status,total_items`,
      );
      expect(page.json.total_items).toBe(23);
      for (const member of page.json.members ?? []) {
        expect(Object.keys(member).sort()).toEqual(['email_address', 'id', 'status']);
        expect(member.id).toBe(md5OfLowerCase(member.email_address as string));
        addresses.push(member.email_address as string);
      }
    }
    expect(new Set(addresses)).toEqual(
      new Set(Array.from({ length: 23 }, (_, i) => `person${i}@example.com`)),
    );
    expect(addresses).toHaveLength(23);
    const past = await call('GET', '/lists/paged00001/members?count=7&offset=23');
    expect(past.json.members).toEqual([]);
    const archived = await call(
      'GET',
      '/lists/paged00001/members?status=archived&fields=members.email_address',
    );
    expect(archived.json.members).toEqual([{ email_address: 'archived@example.com' }]);
  });

  // https://mailchimp.com/developer/marketing/api/lists/get-list-info/ (stats.member_count: active members;
  // stats.unsubscribe_count, stats.cleaned_count), through `fields` in dot notation on one audience and on all
  it('counts the subscribed, unsubscribed and cleaned members of an audience in stats, through fields', async () => {
    await control.seed({
      lists: [
        {
          id: 'counted001',
          name: 'Counted',
          members: [
            { email_address: 'a@example.com', status: 'subscribed' as const },
            { email_address: 'b@example.com', status: 'subscribed' as const },
            { email_address: 'c@example.com', status: 'unsubscribed' as const },
            { email_address: 'd@example.com', status: 'cleaned' as const },
            { email_address: 'e@example.com', status: 'subscribed' as const },
          ],
        },
      ],
    });
    expect(
      (await call('DELETE', `/lists/counted001/members/${md5OfLowerCase('e@example.com')}`)).status,
    ).toBe(204);
    const one = await call(
      'GET',
      '/lists/counted001?fields=id,stats.member_count,stats.unsubscribe_count,stats.cleaned_count',
    );
    expect(one.json).toEqual({
      id: 'counted001',
      stats: { member_count: 2, unsubscribe_count: 1, cleaned_count: 1 },
    });
    const all = await call('GET', '/lists?fields=lists.id,lists.stats.member_count,total_items');
    expect(all.json).toEqual({ lists: [{ id: 'counted001', stats: { member_count: 2 } }], total_items: 1 });
  });

  // https://mailchimp.com/developer/marketing/docs/methods-parameters/#partial-responses
  it('honours fields and exclude_fields, in dot notation through arrays', async () => {
    const listId = await createAudience('News');
    await call('POST', `/lists/${listId}/members`, {
      email_address: 'ada@example.com',
      status: 'subscribed',
      merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' },
    });
    const only = await call(
      'GET',
      `/lists/${listId}/members?fields=members.email_address,members.status,total_items`,
    );
    expect(only.json).toEqual({
      members: [{ email_address: 'ada@example.com', status: 'subscribed' }],
      total_items: 1,
    });
    const without = await call('GET', `/lists/${listId}/members?exclude_fields=members.merge_fields,list_id`);
    expect(without.json.list_id).toBeUndefined();
    expect(without.json.members?.[0]).not.toHaveProperty('merge_fields');
    expect(without.json.members?.[0]).toHaveProperty('email_address', 'ada@example.com');
    const member = await call(
      'GET',
      `/lists/${listId}/members/${md5OfLowerCase('ada@example.com')}?fields=id,status`,
    );
    expect(member.json).toEqual({ id: md5OfLowerCase('ada@example.com'), status: 'subscribed' });
    const lists = await call('GET', '/lists?fields=lists.id');
    expect(lists.json).toEqual({ lists: [{ id: listId }] });
  });

  // https://mailchimp.com/developer/marketing/api/list-members/get-member-info/ (response body)
  it('gives members full_name, contact_id, email_type and tags', async () => {
    const listId = await createAudience('News');
    const created = await call('POST', `/lists/${listId}/members`, {
      email_address: 'ada@example.com',
      status: 'subscribed',
      email_type: 'text',
      merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' },
      tags: ['vip', 'webinar'],
    });
    expect(created.json).toMatchObject({
      full_name: 'Ada Lovelace',
      contact_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      email_type: 'text',
      tags_count: 2,
      tags: [
        { id: expect.any(Number), name: 'vip' },
        { id: expect.any(Number), name: 'webinar' },
      ],
    });
    const plain = await call('POST', `/lists/${listId}/members`, {
      email_address: 'alan@example.com',
      status: 'subscribed',
    });
    expect(plain.json).toMatchObject({ full_name: '', email_type: 'html', tags: [], tags_count: 0 });
  });

  // https://mailchimp.com/developer/marketing/api/search-members/search-members/ ("Query should be a valid
  // email, or a string representing a contact's first or last name")
  it('search-members matches first, last and full names as well as addresses', async () => {
    const listId = await createAudience('News');
    await call('POST', `/lists/${listId}/members`, {
      email_address: 'countess@example.com',
      status: 'subscribed',
      merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' },
    });
    await call('POST', `/lists/${listId}/members`, {
      email_address: 'other@example.com',
      status: 'subscribed',
    });
    const ids = (answer: { json: Json }) =>
      [
        ...(((answer.json.exact_matches as Json).members ?? []) as Json[]),
        ...(((answer.json.full_search as Json).members ?? []) as Json[]),
      ].map((m) => m.email_address);
    expect(ids(await call('GET', '/search-members?query=Lovelace'))).toEqual(['countess@example.com']);
    expect(
      ids(await call('GET', `/search-members?query=${encodeURIComponent('ada lovelace')}&list_id=${listId}`)),
    ).toEqual(['countess@example.com']);
    expect(ids(await call('GET', '/search-members?query=nobody'))).toEqual([]);
  });

  // https://mailchimp.com/developer/marketing/api/search-members/search-members/
  it('search-members finds a member stored with surrounding spaces by the bare address', async () => {
    const listId = await createAudience('News');
    await call('POST', `/lists/${listId}/members`, {
      email_address: ' Ada@Example.com ',
      status: 'subscribed',
    });
    const found = await call(
      'GET',
      `/search-members?query=${encodeURIComponent('ada@example.com')}&list_id=${listId}`,
    );
    expect(((found.json.exact_matches as Json).members ?? []).map((m) => m.id)).toEqual([
      md5OfLowerCase(' Ada@Example.com '),
    ]);
  });
});
