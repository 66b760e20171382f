import { createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoGa4PropertyIds } from '../demo-people.js';
import type { VendorSandboxKit } from '../framework/sandbox-kit.js';
import { googleSandbox } from './sandbox.js';
import { makeServiceAccountKeyFile } from './service-account-key.js';
import type { GoogleSandboxOptions, GoogleSandboxStore, GoogleSeedData } from './store.js';
import { googleSeedSchema } from './store.js';

const devProject = 'consent-hub-dev';
const devAccount = 'consent-hub-sandbox';

/** Where `consent-hub dev` keeps the sandbox's service-account key file. */
export function devServiceAccountPath(dataDir: string): string {
  return join(dataDir, 'sandboxes', 'google', 'service-account.json');
}

/**
 * `consent-hub dev` for Google: a service-account key file in Google's own shape, made on the first run
 * and kept (mode 0600: it holds a private key), whose public key the sandbox trusts.
 */
export const googleSandboxKit: VendorSandboxKit<GoogleSandboxStore, GoogleSeedData, GoogleSandboxOptions> = {
  definition: googleSandbox,
  // Google holds nothing that can be looked up; the demo only needs its property to exist.
  demoSeed: () => googleSeedSchema.parse({ properties: demoGa4PropertyIds }),
  devCredentials(dataDir) {
    const path = devServiceAccountPath(dataDir);
    if (!existsSync(path)) {
      mkdirSync(join(dataDir, 'sandboxes', 'google'), { recursive: true, mode: 0o700 });
      const { keyFile } = makeServiceAccountKeyFile(devProject, devAccount);
      writeFileSync(path, `${JSON.stringify(keyFile, null, 2)}\n`, { mode: 0o600 });
      chmodSync(path, 0o600);
    }
    const key = JSON.parse(readFileSync(path, 'utf8')) as { client_email: string; private_key: string };
    // The public key is derived from the private key each run, so the file is the one source of truth.
    const publicKeyPem = createPublicKey(key.private_key).export({ type: 'spki', format: 'pem' }).toString();
    return {
      options: { serviceAccounts: { [key.client_email]: publicKeyPem }, propertyIds: demoGa4PropertyIds },
      env: (sandboxUrl) => ({
        GOOGLE_APPLICATION_CREDENTIALS: path,
        GOOGLE_API_ROOT_URL: `${sandboxUrl}/`,
        GOOGLE_TOKEN_URL: `${sandboxUrl}/token`,
        GA4_PROPERTY_IDS: demoGa4PropertyIds.join(','),
      }),
    };
  },
  realVendorVariable: 'GOOGLE_APPLICATION_CREDENTIALS',
};
