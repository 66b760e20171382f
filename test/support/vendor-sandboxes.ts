import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { dynamicsSandboxKit } from '../../sandboxes/dynamics/kit.js';
import { ensureLocalTls } from '../../sandboxes/framework/local-ca.js';
import { SandboxClient } from '../../sandboxes/framework/sandbox-client.js';
import type { SandboxStore } from '../../sandboxes/framework/sandbox-definition.js';
import type { VendorSandboxKit } from '../../sandboxes/framework/sandbox-kit.js';
import { startSandbox } from '../../sandboxes/framework/sandbox-server.js';
import { googleSandboxKit } from '../../sandboxes/google/kit.js';
import type { GoogleSandboxOptions } from '../../sandboxes/google/store.js';
import { mailchimpSandboxKit } from '../../sandboxes/mailchimp/kit.js';

async function launch<Store extends SandboxStore<Seed>, Seed, Options>(
  kit: VendorSandboxKit<Store, Seed, Options>,
  dataDir: string,
  options: Partial<Options> = {},
) {
  const credentials = kit.devCredentials(dataDir);
  const sandbox = await startSandbox(kit.definition, {
    tls: ensureLocalTls(inject('dataDir')),
    options: { ...credentials.options, ...options },
  });
  return { sandbox, env: credentials.env(sandbox.url), control: new SandboxClient(sandbox.url) };
}

/**
 * All three vendor sandboxes as `consent-hub dev` runs them (dev credentials, no demo data), and the
 * environment that points a worker at them.
 */
export async function startVendorSandboxes(
  options: {
    /** Google's sandbox options over its dev ones (a lifted pace or daily quota, say). */
    google?: Partial<GoogleSandboxOptions>;
  } = {},
) {
  const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-vendors-'));
  const dynamics = await launch(dynamicsSandboxKit, dataDir);
  const mailchimp = await launch(mailchimpSandboxKit, dataDir);
  const google = await launch(googleSandboxKit, dataDir, options.google);
  return {
    dynamics,
    mailchimp,
    google,
    env: { ...dynamics.env, ...mailchimp.env, ...google.env },
    async close() {
      await Promise.all([dynamics.sandbox.close(), mailchimp.sandbox.close(), google.sandbox.close()]);
    },
  };
}

/** The Mailchimp sandbox's member `email` of list `listId`, as its state holds it; undefined if none. */
export async function mailchimpMember(
  vendors: Awaited<ReturnType<typeof startVendorSandboxes>>,
  listId: string,
  email: string,
): Promise<{ email_address: string; status: string } | undefined> {
  const state = await vendors.mailchimp.control.state<{
    lists: { id: string; members: { email_address: string; status: string }[] }[];
  }>();
  return state.lists.find((l) => l.id === listId)?.members.find((m) => m.email_address === email);
}
