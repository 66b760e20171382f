import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import {
  documentedSubscriberHash,
  newAudience,
  raw,
  testApiKey,
} from '../../connectors/mailchimp/mailchimp-test-kit.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/**
 * "Batch subscribe or unsubscribe", through plain HTTPS written from Mailchimp's page
 * https://mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/ (members: "Up to 500 members
 * may be added or updated with each API call"; update_existing: "Whether this batch operation will change
 * existing members' subscription status"; the answer's new_members, updated_members, errors[] with
 * email_address, error, error_code, total_created, total_updated, error_count).
 */

type Member = { id: string; email_address: string; status: string };
type BatchAnswer = {
  new_members: Member[];
  updated_members: Member[];
  errors: { email_address: string; error: string; error_code: string }[];
  total_created: number;
  total_updated: number;
  error_count: number;
};

describe('Mailchimp sandbox: batch subscribe or unsubscribe (POST /lists/{list_id})', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  let listId: string;
  const call = (method: string, path: string, body?: unknown) => raw(sandbox.url, method, path, body);
  const batch = async (body: unknown, query = '') => {
    const answer = await call('POST', `/lists/${listId}${query}`, body);
    return { status: answer.status, json: answer.json as BatchAnswer & { title?: string } };
  };
  const statusOf = async (address: string) =>
    ((await call('GET', `/lists/${listId}/members/${documentedSubscriberHash(address)}`)).json as Member)
      .status;

  beforeAll(async () => {
    sandbox = await startTestSandbox(mailchimpSandbox, { apiKeys: [testApiKey], dc: 'us21' });
    control = new SandboxClient(sandbox.url);
  });
  afterAll(() => sandbox.close());
  beforeEach(async () => {
    await control.reset();
    listId = ((await call('POST', '/lists', newAudience('News'))).json as { id: string }).id;
    for (const [email_address, status] of [
      ['ada@example.com', 'subscribed'],
      ['bob@example.com', 'unsubscribed'],
      ['cy@example.com', 'cleaned'],
    ]) {
      await call('POST', `/lists/${listId}/members`, { email_address, status });
    }
  });

  it('with update_existing, unsubscribes existing members and creates new ones, and counts each', async () => {
    const { status, json } = await batch({
      members: [
        { email_address: 'Ada@Example.com', status: 'unsubscribed' },
        { email_address: 'dee@example.com', status: 'unsubscribed' },
      ],
      update_existing: true,
    });
    expect(status).toBe(200);
    expect(json.updated_members.map((m) => [m.id, m.status])).toEqual([
      [documentedSubscriberHash('ada@example.com'), 'unsubscribed'],
    ]);
    expect(json.new_members.map((m) => [m.email_address, m.status])).toEqual([
      ['dee@example.com', 'unsubscribed'],
    ]);
    expect([json.total_created, json.total_updated, json.error_count, json.errors]).toEqual([1, 1, 0, []]);
    expect(await statusOf('ada@example.com')).toBe('unsubscribed');
  });

  it('without update_existing, refuses an existing member with ERROR_CONTACT_EXISTS and leaves it as it was', async () => {
    const { json } = await batch({
      members: [{ email_address: 'ada@example.com', status: 'unsubscribed' }],
    });
    expect(json.errors).toEqual([
      expect.objectContaining({ email_address: 'ada@example.com', error_code: 'ERROR_CONTACT_EXISTS' }),
    ]);
    expect([json.total_created, json.total_updated, json.error_count]).toEqual([0, 0, 1]);
    expect(await statusOf('ada@example.com')).toBe('subscribed');
  });

  it('refuses to re-subscribe unsubscribed and cleaned members (compliance state) per member, and applies the rest', async () => {
    const { status, json } = await batch({
      members: [
        { email_address: 'bob@example.com', status: 'subscribed' },
        { email_address: 'cy@example.com', status: 'subscribed' },
        { email_address: 'ada@example.com', status: 'unsubscribed' },
      ],
      update_existing: true,
    });
    expect(status).toBe(200);
    expect(json.errors.map((e) => [e.email_address, e.error_code])).toEqual([
      ['bob@example.com', 'ERROR_GENERIC'],
      ['cy@example.com', 'ERROR_GENERIC'],
    ]);
    expect(json.errors[0]?.error).toMatch(/compliance state/);
    expect(json.total_updated).toBe(1);
    expect([await statusOf('bob@example.com'), await statusOf('cy@example.com')]).toEqual([
      'unsubscribed',
      'cleaned',
    ]);
  });

  it('refuses to re-import a permanently deleted address, even as unsubscribed', async () => {
    await call(
      'POST',
      `/lists/${listId}/members/${documentedSubscriberHash('ada@example.com')}/actions/delete-permanent`,
    );
    const { json } = await batch({
      members: [{ email_address: 'ada@example.com', status: 'unsubscribed' }],
      update_existing: true,
    });
    expect(json.errors).toEqual([
      expect.objectContaining({ email_address: 'ada@example.com', error_code: 'ERROR_GENERIC' }),
    ]);
    expect(json.errors[0]?.error).toMatch(/permanently deleted/);
    expect(json.total_created).toBe(0);
    expect(
      (await call('GET', `/lists/${listId}/members/${documentedSubscriberHash('ada@example.com')}`)).status,
    ).toBe(404);
  });

  it('answers an invalid address and a repeated one as member errors; skip_duplicate_check keeps the first appearance', async () => {
    const members = [
      { email_address: 'not-an-address', status: 'unsubscribed' },
      { email_address: 'ada@example.com', status: 'unsubscribed' },
      { email_address: 'ADA@example.com', status: 'subscribed' },
    ];
    const strict = await batch({ members, update_existing: true });
    expect(strict.json.errors.map((e) => e.email_address)).toEqual(['not-an-address', 'ADA@example.com']);
    expect(strict.json.total_updated).toBe(1);

    await call('PATCH', `/lists/${listId}/members/${documentedSubscriberHash('ada@example.com')}`, {
      status: 'pending',
    });
    const lenient = await batch(
      { members: members.slice(1), update_existing: true },
      '?skip_duplicate_check=true',
    );
    expect(lenient.json.errors).toEqual([]);
    expect(lenient.json.updated_members.map((m) => m.status)).toEqual(['unsubscribed']);
  });

  it('accepts 500 members in one call and refuses 501 as an invalid resource, changing nothing', async () => {
    const many = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ email_address: `p${i}@example.com`, status: 'unsubscribed' }));
    const tooMany = await batch({ members: many(501), update_existing: true });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.title).toBe('Invalid Resource');
    expect(
      (await call('GET', `/lists/${listId}/members/${documentedSubscriberHash('p0@example.com')}`)).status,
    ).toBe(404);
    const full = await batch({ members: many(500), update_existing: true });
    expect(full.json.total_created).toBe(500);
  });

  // The batch answer's errors carry `field` and `field_message` (lists/batch-sub-unsub-members); a member
  // PATCH answers 400 Invalid Resource with `errors[{field, message}]` (https://mailchimp.com/developer/marketing/docs/errors/).
  // The messages are Mailchimp's validator wording, never the emulator's parsing library's.
  it('names a bad status in Mailchimp’s wording, in batch field_message and in a member PATCH, and changes nothing', async () => {
    const libraryWording = /Invalid (option|input)|expected one of|received/i;
    const answer = await batch({
      members: [{ email_address: 'ada@example.com', status: 'asleep' }],
      update_existing: true,
    });
    const errors = answer.json.errors as unknown as Record<string, string>[];
    expect(errors).toEqual([
      expect.objectContaining({
        email_address: 'ada@example.com',
        field: 'status',
        field_message: 'The value you selected is not a valid choice.',
      }),
    ]);
    expect(JSON.stringify(answer.json)).not.toMatch(libraryWording);

    const before = await statusOf('ada@example.com');
    const patched = await call(
      'PATCH',
      `/lists/${listId}/members/${documentedSubscriberHash('ada@example.com')}`,
      {
        status: 'asleep',
      },
    );
    expect(patched.status).toBe(400);
    expect(patched.json).toMatchObject({
      title: 'Invalid Resource',
      errors: [{ field: 'status', message: 'The value you selected is not a valid choice.' }],
    });
    expect(JSON.stringify(patched.json)).not.toMatch(libraryWording);
    const wrongType = await call(
      'PATCH',
      `/lists/${listId}/members/${documentedSubscriberHash('ada@example.com')}`,
      {
        status: 7,
        tags: [''],
      },
    );
    expect(wrongType.status).toBe(400);
    expect(JSON.stringify(wrongType.json)).not.toMatch(libraryWording);
    expect(await statusOf('ada@example.com')).toBe(before);
  });

  it('answers 404 for an audience that does not exist', async () => {
    const answer = await call('POST', '/lists/0000000000', { members: [], update_existing: true });
    expect(answer.status).toBe(404);
  });
});
