import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { BulkStatePlan, ConsentStateRequest } from '../../../connectors/connector.js';
import { mailchimpConfigSchema } from '../../../connectors/mailchimp/config.js';
import { createMailchimpConnector } from '../../../connectors/mailchimp/connector.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/** A syntactically real key for the sandbox's data centre. */
export const testApiKey = '0123456789abcdef0123456789abcdef-us21';

export function basicAuth(key: string): string {
  return `Basic ${Buffer.from(`anyuser:${key}`).toString('base64')}`;
}

/** A plain HTTPS call to the sandbox, the way `curl -u anyuser:<key>` would make it. */
export async function raw(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  key: string = testApiKey,
): Promise<{ status: number; contentType: string | null; json: unknown }> {
  const response = await fetch(`${baseUrl}/3.0${path}`, {
    method,
    headers: {
      authorization: basicAuth(key),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    json: text ? JSON.parse(text) : undefined,
  };
}

/** The minimum Mailchimp requires to create an audience. */
export function newAudience(name: string) {
  return {
    name,
    permission_reminder: 'You signed up on our website.',
    email_type_option: false,
    contact: { company: 'Phoniro', address1: 'Box 1', city: 'Halmstad', country: 'SE', zip: '30000' },
    campaign_defaults: { from_name: 'Phoniro', from_email: 'news@example.com', subject: '', language: 'en' },
  };
}

export { capturingLogger } from '../../support/capturing-logger.js';

/**
 * The subscriber hash exactly as Mailchimp documents it, "the MD5 hash of the lowercase version of the list
 * member's email address" (https://mailchimp.com/developer/marketing/docs/methods-parameters/#path-parameters):
 * what sandbox tests use, so the sandbox is judged by the documentation rather than by the connector's hash.
 */
export function documentedSubscriberHash(address: string): string {
  return createHash('md5').update(address.toLowerCase()).digest('hex');
}

/**
 * Gives the enclosing describe one Mailchimp sandbox (key testApiKey, data centre us21), handed to `started`
 * with its control client before its tests, reset before each test and closed after them.
 */
export function withMailchimpSandbox(
  started: (sandbox: RunningSandbox<MailchimpSandboxStore>, control: SandboxClient) => void,
): void {
  let sandbox: RunningSandbox<MailchimpSandboxStore> | undefined;
  let control: SandboxClient | undefined;
  beforeAll(async () => {
    sandbox = await startTestSandbox(mailchimpSandbox, { apiKeys: [testApiKey], dc: 'us21' });
    control = new SandboxClient(sandbox.url);
    started(sandbox, control);
  });
  afterAll(() => sandbox?.close());
  beforeEach(() => control?.reset());
}

/** The hub's Mailchimp connector over the sandbox at `sandboxUrl` (key testApiKey), with env `overrides`. */
export function sandboxConnector(sandboxUrl: string, logger: Logger, overrides: Record<string, string> = {}) {
  return createMailchimpConnector(
    mailchimpConfigSchema.parse({
      MAILCHIMP_API_KEY: testApiKey,
      MAILCHIMP_API_URL: `${sandboxUrl}/3.0`,
      ...overrides,
    }),
    { logger },
  );
}

/** A new audience named `name`, created over the sandbox's API; answers its id. */
export async function createAudience(sandboxUrl: string, name: string): Promise<string> {
  return ((await raw(sandboxUrl, 'POST', '/lists', newAudience(name))).json as { id: string }).id;
}

/** The status of the member of `listId` at `email` (read by its documented hash), undefined when none. */
export async function memberStatus(sandboxUrl: string, listId: string, email: string) {
  const answer = await raw(sandboxUrl, 'GET', `/lists/${listId}/members/${documentedSubscriberHash(email)}`);
  return (answer.json as { status?: string }).status;
}

const optOut: ConsentStateRequest = {
  decisions: { marketing_email: { decision: 'withdrawn', hasEvidence: false } },
  changed: ['marketing_email'],
};

/** One person's opt-out from marketing email (no evidence) as a bulk plan's request, keyed `k-<email>`. */
export const bulkOptOut = (email: string) => ({
  key: `k-${email}`,
  subject: { email, gaClientIds: [], gaUserIds: [] },
  request: optOut,
});

/** The writes a person's bulk plan makes; undefined for a plan without writes (or none). */
export const writesOf = (plan: BulkStatePlan | undefined) =>
  plan && 'writes' in plan ? plan.writes : undefined;
