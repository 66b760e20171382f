import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMailchimpConfigured, mailchimpConfigSchema } from '../../../connectors/mailchimp/config.js';
import { demoPeople } from '../../../sandboxes/demo-people.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { demoAudienceIds, mailchimpSandboxKit } from '../../../sandboxes/mailchimp/kit.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import { raw } from '../../connectors/mailchimp/mailchimp-test-kit.js';
import { startTestSandbox } from '../../support/sandboxes.js';

describe('Mailchimp sandbox kit for consent-hub dev', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mailchimp-kit-'));
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let env: Record<string, string>;

  beforeAll(async () => {
    const credentials = mailchimpSandboxKit.devCredentials(dataDir);
    sandbox = await startTestSandbox(mailchimpSandboxKit.definition, credentials.options);
    env = credentials.env(sandbox.url);
  });
  afterAll(async () => {
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a <32 hex>-us21 key once, readable only by its owner, and reuses it on later runs', () => {
    const file = join(dataDir, 'sandboxes', 'mailchimp', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { apiKey: string };
    expect(stored.apiKey).toMatch(/^[0-9a-f]{32}-us21$/);
    const later = mailchimpSandboxKit.devCredentials(dataDir).env('https://localhost:1');
    expect(later.MAILCHIMP_API_KEY).toBe(stored.apiKey);
  });

  it('gives the connector its production variable names pointing at the sandbox', () => {
    expect(env.MAILCHIMP_API_URL).toBe(`${sandbox.url}/3.0`);
    expect(mailchimpSandboxKit.realVendorVariable).toBe('MAILCHIMP_API_KEY');
    expect(isMailchimpConfigured(env)).toBe(true);
    expect(isMailchimpConfigured({})).toBe(false);
    expect(mailchimpConfigSchema.parse(env).apiUrl).toBe(`${sandbox.url}/3.0`);
  });

  it('seeds the two demo audiences with stable ids and the demo members, reachable with the dev key', async () => {
    await new SandboxClient(sandbox.url).seed(mailchimpSandboxKit.demoSeed());
    const lists = await raw(sandbox.url, 'GET', '/lists', undefined, env.MAILCHIMP_API_KEY);
    expect((lists.json as { lists: { id: string }[] }).lists.map((l) => l.id)).toEqual([
      demoAudienceIds.newsletter,
      demoAudienceIds.events,
    ]);
    const expected = demoPeople.flatMap((p) => p.mailchimp).length;
    let total = 0;
    for (const id of Object.values(demoAudienceIds)) {
      const members = await raw(
        sandbox.url,
        'GET',
        `/lists/${id}/members?count=100`,
        undefined,
        env.MAILCHIMP_API_KEY,
      );
      total += (members.json as { total_items: number }).total_items;
    }
    expect(total).toBe(expected);
  });
});
