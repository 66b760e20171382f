import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from '../cli/cli-test-kit.js';
import { testSecrets } from '../support/temporal.js';

/** A loopback port nothing listens on (taken, read, released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

// A supervisor (compose, systemd, Kubernetes) starts the worker and the API before Temporal answers, or with a
// wrong TEMPORAL_ADDRESS: the operator must read which address failed, and the exit code the README gives.
describe('consent-hub worker and serve when Temporal cannot be reached', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  for (const command of ['worker', 'serve'] as const) {
    it(`${command} exits 4 naming the Temporal address it could not reach, not the SDK's transport error`, async () => {
      const port = await closedPort();
      const secrets = testSecrets();
      vi.stubEnv('TEMPORAL_ADDRESS', `127.0.0.1:${port}`);
      vi.stubEnv('TEMPORAL_NAMESPACE', 'default');
      vi.stubEnv('CONSENT_HUB_SUBJECT_KEY_SECRET', secrets.subjectKeySecret);
      vi.stubEnv(
        'CONSENT_HUB_ENCRYPTION_KEYS',
        secrets.encryptionKeys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
      );
      vi.stubEnv('CONSENT_HUB_DATA_DIR', mkdtempSync(join(tmpdir(), 'consent-hub-no-temporal-')));
      vi.stubEnv('CONSENT_HUB_API_KEYS', createHash('sha256').update('chk_test_key').digest('hex'));
      vi.stubEnv('CONSENT_HUB_API_PORT', '0');
      vi.stubEnv('CONSENT_HUB_METRICS_PORT', '0');
      vi.stubEnv('LOG_LEVEL', 'silent');
      for (const variable of [
        'DYNAMICS_URL',
        'MAILCHIMP_API_KEY',
        'GOOGLE_APPLICATION_CREDENTIALS',
        'DATABASE_URL',
      ])
        vi.stubEnv(variable, '');

      const run = await cli(command);

      expect(run.stderr).toContain(`Temporal cannot be reached at 127.0.0.1:${port} (namespace default)`);
      expect(run.stderr).toContain('TEMPORAL_ADDRESS');
      expect(run.code).toBe(4);
    }, 60_000);
  }
});
