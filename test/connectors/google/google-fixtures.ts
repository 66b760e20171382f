import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { makeServiceAccountKeyFile } from '../../../sandboxes/google/service-account-key.js';

/** A service account written to a key file in the run's data directory, as Google's console gives it. */
export function writeServiceAccount(project = 'consent-hub-test', account = 'eraser') {
  const dir = mkdtempSync(join(inject('dataDir'), 'google-sa-'));
  const made = makeServiceAccountKeyFile(project, account);
  const path = join(dir, 'service-account.json');
  writeFileSync(path, JSON.stringify(made.keyFile), { mode: 0o600 });
  return {
    path,
    clientEmail: made.keyFile.client_email,
    publicKeyPem: made.publicKeyPem,
    keyFile: made.keyFile,
  };
}

/** The connector's environment pointing at a sandbox. */
export function sandboxEnv(sandboxUrl: string, credentialsFile: string, extra: Record<string, string> = {}) {
  return {
    GOOGLE_APPLICATION_CREDENTIALS: credentialsFile,
    GOOGLE_API_ROOT_URL: `${sandboxUrl}/`,
    GOOGLE_TOKEN_URL: `${sandboxUrl}/token`,
    GA4_PROPERTY_IDS: 'properties/400000001,400000002',
    ...extra,
  };
}

export const subject = (
  gaClientIds: string[] = [],
  gaUserIds: string[] = [],
  email = 'ada.lovelace@example.com',
) => ({
  email,
  gaClientIds,
  gaUserIds,
});
