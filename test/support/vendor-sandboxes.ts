import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { dynamicsSandboxKit } from '../../connectors/dynamics/sandbox-kit.js';
import { googleSandboxKit } from '../../connectors/google/sandbox-kit.js';
import { mailchimpSandboxKit } from '../../connectors/mailchimp/sandbox-kit.js';
import { ensureLocalTls } from '../../connectors/sandbox/local-ca.js';
import { SandboxClient } from '../../connectors/sandbox/sandbox-client.js';
import type { SandboxStore } from '../../connectors/sandbox/sandbox-definition.js';
import type { VendorSandboxKit } from '../../connectors/sandbox/sandbox-kit.js';
import { startSandbox } from '../../connectors/sandbox/sandbox-server.js';

async function launch<Store extends SandboxStore<Seed>, Seed, Options>(
  kit: VendorSandboxKit<Store, Seed, Options>,
  dataDir: string,
) {
  const credentials = kit.devCredentials(dataDir);
  const sandbox = await startSandbox(kit.definition, {
    tls: ensureLocalTls(inject('dataDir')),
    options: credentials.options,
  });
  return { sandbox, env: credentials.env(sandbox.url), control: new SandboxClient(sandbox.url) };
}

/**
 * All three vendor sandboxes as `consent-hub dev` runs them (dev credentials, no demo data), and the
 * environment that points a worker at them.
 */
export async function startVendorSandboxes() {
  const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-vendors-'));
  const dynamics = await launch(dynamicsSandboxKit, dataDir);
  const mailchimp = await launch(mailchimpSandboxKit, dataDir);
  const google = await launch(googleSandboxKit, dataDir);
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
