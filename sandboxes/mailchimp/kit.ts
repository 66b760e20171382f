import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { demoAudiences, demoPeople } from '../demo-people.js';
import type { VendorSandboxKit } from '../framework/sandbox-kit.js';
import { mailchimpSandbox } from './sandbox.js';
import type { MailchimpSandboxOptions, MailchimpSandboxStore, MailchimpSeedData } from './store.js';

const dc = 'us21';

/** Stable audience ids, so links and notes from one demo session still work in the next. */
export const demoAudienceIds = { newsletter: 'a1b2c3d4e5', events: 'f6e5d4c3b2' } as const;

/** Mailchimp's standard GDPR permissions, so the demo shows what a marketing-permission change looks like. */
const demoPermissions = [
  { marketing_permission_id: 'c0a1e2b3d4', text: 'Email' },
  { marketing_permission_id: 'c0a1e2b3d5', text: 'Direct Mail' },
  { marketing_permission_id: 'c0a1e2b3d6', text: 'Customized Online Advertising' },
];

const credentialsSchema = z.object({ apiKey: z.string().regex(/^[0-9a-f]{32}-[a-z]+\d+$/) });

function demoSeed(): MailchimpSeedData {
  return {
    lists: (Object.keys(demoAudiences) as (keyof typeof demoAudiences)[]).map((audience) => ({
      id: demoAudienceIds[audience],
      name: demoAudiences[audience].name,
      marketing_permissions: demoPermissions,
      members: demoPeople.flatMap((person) =>
        person.mailchimp
          .filter((m) => m.audience === audience)
          .map((m) => ({
            email_address: person.email,
            status: m.status,
            merge_fields: { FNAME: person.firstName, LNAME: person.lastName, COMPANY: person.company },
            marketing_permissions: demoPermissions.map((p) => ({
              marketing_permission_id: p.marketing_permission_id,
              enabled: m.status === 'subscribed' && p.text === 'Email',
            })),
            tags: [],
            notes: [],
            activity: [],
          })),
      ),
    })),
  };
}

export const mailchimpSandboxKit: VendorSandboxKit<
  MailchimpSandboxStore,
  MailchimpSeedData,
  MailchimpSandboxOptions
> = {
  definition: mailchimpSandbox,
  demoSeed,
  devCredentials(dataDir) {
    const folder = join(dataDir, 'sandboxes', 'mailchimp');
    const file = join(folder, 'credentials.json');
    if (!existsSync(file)) {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      const fresh = { apiKey: `${randomBytes(16).toString('hex')}-${dc}` };
      writeFileSync(file, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
    }
    const { apiKey } = credentialsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    return {
      options: { apiKeys: [apiKey], dc, maxConnectionsPerKey: 10 },
      env: (sandboxUrl) => ({ MAILCHIMP_API_KEY: apiKey, MAILCHIMP_API_URL: `${sandboxUrl}/3.0` }),
    };
  },
  realVendorVariable: 'MAILCHIMP_API_KEY',
};
