import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  documentedSubscriberHash as md5OfLowerCase,
  newAudience,
} from '../../connectors/mailchimp/mailchimp-test-kit.js';
import { startMailchimpSandboxOverHttp } from '../../support/mailchimp-sandbox-over-http.js';

/**
 * Changing a member's address, through plain HTTPS requests (no SDK, no connector):
 * https://mailchimp.com/developer/marketing/api/list-members/update-list-member/ (PATCH with
 * `email_address`); the member is then found by the new address's hash. An address already in the audience
 * is refused with 400 "Member Exists", as https://mailchimp.com/developer/marketing/docs/errors/ lists it.
 */
type Json = Record<string, unknown>;

describe('Mailchimp sandbox: a member’s address changed with PATCH', () => {
  let mailchimp: Awaited<ReturnType<typeof startMailchimpSandboxOverHttp<Json>>>;
  const call = (method: string, path: string, body?: unknown) => mailchimp.call(method, path, body);

  beforeAll(async () => {
    mailchimp = await startMailchimpSandboxOverHttp<Json>();
  });
  afterAll(() => mailchimp?.sandbox.close());
  beforeEach(() => mailchimp.control.reset());

  it('moves the member to the new address: found by its hash, not by the old one', async () => {
    const listId = (await call('POST', '/lists', newAudience('News'))).json.id as string;
    await call('POST', `/lists/${listId}/members`, {
      email_address: 'old@example.com',
      status: 'subscribed',
    });
    const changed = await call('PATCH', `/lists/${listId}/members/${md5OfLowerCase('old@example.com')}`, {
      email_address: 'new@example.com',
      merge_fields: { FNAME: 'Nova' },
    });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({
      email_address: 'new@example.com',
      id: md5OfLowerCase('new@example.com'),
    });
    expect((await call('GET', `/lists/${listId}/members/${md5OfLowerCase('old@example.com')}`)).status).toBe(
      404,
    );
    const found = await call('GET', `/lists/${listId}/members/${md5OfLowerCase('new@example.com')}`);
    expect(found.json).toMatchObject({ status: 'subscribed', merge_fields: { FNAME: 'Nova' } });
  });

  it('refuses an address that is already a member with 400 Member Exists, and changes nothing', async () => {
    const listId = (await call('POST', '/lists', newAudience('News'))).json.id as string;
    for (const email_address of ['one@example.com', 'two@example.com']) {
      await call('POST', `/lists/${listId}/members`, { email_address, status: 'subscribed' });
    }
    const clash = await call('PATCH', `/lists/${listId}/members/${md5OfLowerCase('one@example.com')}`, {
      email_address: 'Two@Example.com',
    });
    expect(clash.status).toBe(400);
    expect(clash.contentType).toContain('application/problem+json');
    expect(clash.json.title).toBe('Member Exists');
    expect(
      (await call('GET', `/lists/${listId}/members/${md5OfLowerCase('one@example.com')}`)).json,
    ).toMatchObject({
      email_address: 'one@example.com',
    });
  });
});
