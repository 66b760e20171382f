import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Connector, SubjectIdentifiers } from '../../../connectors/connector.js';
import { NonRetryableVendorError } from '../../../connectors/connector-errors.js';
import { mailchimpConfigSchema } from '../../../connectors/mailchimp/config.js';
import { createMailchimpConnector } from '../../../connectors/mailchimp/connector.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import { startTestSandbox } from '../../support/sandboxes.js';
import { capturingLogger, newAudience, raw, testApiKey } from './mailchimp-test-kit.js';

/**
 * Mailchimp hashes the address as it stored it ("MD5 hash of the lowercase version of the list member's email
 * address", https://mailchimp.com/developer/marketing/docs/methods-parameters/#path-parameters), and answers
 * the same 404 for a missing audience as for a missing member. The connector must still find members stored
 * in another form, and must never read a missing audience or a 405 as "already gone".
 */

const subject = (email: string): SubjectIdentifiers => ({ email, gaClientIds: [], gaUserIds: [] });
const md5OfLowerCase = (address: string) => createHash('md5').update(address.toLowerCase()).digest('hex');

describe('Mailchimp connector: lookups by the stored address, and audiences that are not there', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let control: SandboxClient;
  const logs = capturingLogger();
  const connectorFor = (audienceIds?: string) =>
    createMailchimpConnector(
      mailchimpConfigSchema.parse({
        MAILCHIMP_API_KEY: testApiKey,
        MAILCHIMP_API_URL: `${sandbox.url}/3.0`,
        // Each test resets the sandbox and makes audiences of its own: nothing about them is reused.
        MAILCHIMP_AUDIENCE_CACHE_SECONDS: '0',
        ...(audienceIds ? { MAILCHIMP_AUDIENCE_IDS: audienceIds } : {}),
      }),
      { logger: logs.logger },
    );
  let connector: Connector;

  const createAudience = async (name: string) =>
    ((await raw(sandbox.url, 'POST', '/lists', newAudience(name))).json as { id: string }).id;
  const addMember = async (listId: string, email: string, status: string) => {
    const added = await raw(sandbox.url, 'POST', `/lists/${listId}/members`, {
      email_address: email,
      status,
    });
    expect(added.status).toBe(200);
    return (added.json as { id: string }).id;
  };
  const memberState = async (listId: string, hash: string) =>
    (await raw(sandbox.url, 'GET', `/lists/${listId}/members/${hash}`)).json as {
      status?: string;
      title?: string;
    };

  beforeAll(async () => {
    sandbox = await startTestSandbox(mailchimpSandbox, { apiKeys: [testApiKey], dc: 'us21' });
    control = new SandboxClient(sandbox.url);
    connector = connectorFor();
  });
  afterAll(() => sandbox.close());
  beforeEach(() => control.reset());

  it('finds and erases a member stored as " Ada@Example.com " (surrounding spaces) by the normal form', async () => {
    const news = await createAudience('News');
    const storedId = await addMember(news, ' Ada@Example.com ', 'subscribed');
    expect(storedId).toBe(md5OfLowerCase(' Ada@Example.com '));

    const found = await connector.find(subject('ada@example.com'));
    expect(found.records).toEqual([
      expect.objectContaining({ id: storedId, container: news, status: 'subscribed' }),
    ]);
    const erased = await connector.erase(subject('ada@example.com'));
    expect(erased.outcome).toBe('erased');
    expect(erased.records).toEqual([expect.objectContaining({ id: storedId, result: 'deleted' })]);
    expect((await memberState(news, storedId)).title).toBe('Resource Not Found');
    expect(JSON.stringify(await control.state())).not.toContain('Ada@Example.com');
  });

  it('finds and erases a member stored in Unicode NFD when the hub holds the NFC form, in every audience', async () => {
    const [news, events] = [await createAudience('News'), await createAudience('Events')];
    const nfd = 'zoe\u0301@example.com';
    const nfc = nfd.normalize('NFC');
    const nfdId = await addMember(news, nfd, 'subscribed');
    const nfcId = await addMember(events, nfc, 'unsubscribed');
    expect(nfdId).not.toBe(nfcId);

    const erased = await connector.erase(subject(nfc));
    expect(erased.outcome).toBe('erased');
    expect(erased.records.map((r) => [r.container, r.id, r.result]).sort()).toEqual(
      [
        [news, nfdId, 'deleted'],
        [events, nfcId, 'deleted'],
      ].sort(),
    );
    expect(JSON.stringify(await control.state())).not.toContain('example.com');
  });

  it('erases a member stored under the Unicode domain when asked by the punycode spelling, and one stored with the root dot when asked without it', async () => {
    const news = await createAudience('News');
    const unicodeId = await addMember(news, 'ida@bücher.example', 'subscribed');
    const dottedId = await addMember(news, 'dot@example.com.', 'subscribed');

    const ida = await connector.erase(subject('ida@xn--bcher-kva.example'));
    expect(ida.outcome).toBe('erased');
    expect(ida.records).toEqual([expect.objectContaining({ id: unicodeId, result: 'deleted' })]);
    const dot = await connector.erase(subject('dot@example.com'));
    expect(dot.outcome).toBe('erased');
    expect(dot.records).toEqual([expect.objectContaining({ id: dottedId, result: 'deleted' })]);
  });

  it('opts out a member stored with spaces instead of reporting not_found', async () => {
    const news = await createAudience('News');
    const storedId = await addMember(news, '  grace@example.com', 'subscribed');
    const result = await connector.applyConsent(subject('grace@example.com'), {
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      hasEvidence: false,
    });
    expect(result.outcome).toBe('applied');
    expect((await memberState(news, storedId)).status).toBe('unsubscribed');
  });

  it('confirms a hash miss with GET /search-members before it reports not_found', async () => {
    const news = await createAudience('News');
    await control.clearRequests();
    const result = await connector.erase(subject('nobody@example.com'));
    expect(result).toEqual({ outcome: 'not_found', records: [] });
    const paths = (await control.requests()).map((entry) => `${entry.method} ${entry.path.split('?')[0]}`);
    expect(paths).toContain(`GET /3.0/lists/${news}`);
    expect(paths).toContain('GET /3.0/search-members');
  });

  it('fails erasure non-retryably, naming the audience, when MAILCHIMP_AUDIENCE_IDS holds an audience that does not exist', async () => {
    const news = await createAudience('News');
    await addMember(news, 'ada@example.com', 'subscribed');
    const misconfigured = connectorFor(`${news},0000dead00`);
    const error = await misconfigured.erase(subject('ada@example.com')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    expect(error).toMatchObject({ system: 'mailchimp', operation: 'erase', status: 404, retryable: false });
    expect((error as NonRetryableVendorError).reason).toContain('0000dead00');
    expect((error as NonRetryableVendorError).reason).toContain('MAILCHIMP_AUDIENCE_IDS');
    const alone = connectorFor('0000dead00');
    await expect(alone.erase(subject('ada@example.com'))).rejects.toThrow(/0000dead00/);
    await expect(alone.find(subject('ada@example.com'))).rejects.toBeInstanceOf(NonRetryableVendorError);
    await expect(
      alone.applyConsent(subject('ada@example.com'), {
        purpose: 'marketing_email',
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        hasEvidence: false,
      }),
    ).rejects.toThrow(/0000dead00/);
  });

  it('fails a change listing non-retryably, naming the audience, when a configured audience does not exist', async () => {
    const misconfigured = connectorFor('0000dead00');
    if (!misconfigured.listChanges) throw new Error('the Mailchimp connector lists changes');
    const error = await misconfigured.listChanges({ pageSize: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    expect(error).toMatchObject({ operation: 'list', status: 404 });
    expect((error as NonRetryableVendorError).reason).toContain('0000dead00');
  });

  it('never reads a 405 as "already gone": on the member lookup or on delete-permanent it is a named, non-retryable error', async () => {
    const news = await createAudience('News');
    await addMember(news, 'ada@example.com', 'subscribed');
    await control.fail({ method: 'POST', path: '/actions/delete-permanent$', status: 405, count: 1 });
    const onDelete = await connector.erase(subject('ada@example.com')).catch((e: unknown) => e);
    expect(onDelete).toBeInstanceOf(NonRetryableVendorError);
    expect(onDelete).toMatchObject({ status: 405, vendorCode: 'Method Not Allowed' });
    expect((onDelete as NonRetryableVendorError).reason).toContain(news);

    await control.fail({ method: 'GET', path: '/members/', status: 405, count: 1 });
    const onLookup = await connector.erase(subject('ada@example.com')).catch((e: unknown) => e);
    expect(onLookup).toBeInstanceOf(NonRetryableVendorError);
    expect(onLookup).toMatchObject({ status: 405 });
    // The member was never touched by either failure.
    expect((await memberState(news, md5OfLowerCase('ada@example.com'))).status).toBe('subscribed');
    expect(logs.lines.join('\n')).not.toContain('ada@example.com');
  });
});
