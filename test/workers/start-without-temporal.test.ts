import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { latestMigration } from '../../ledger/migrations.js';
import { cli } from '../cli/cli-test-kit.js';
import { ledgerBackends, ledgerFromNewerBuild } from '../ledger/backends.js';
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

/** The environment a worker, the API or the CLI reads: Temporal at `port`, the ledger in `dataDir`. */
function stubHubEnv(port: number, dataDir: string, databaseUrl = ''): void {
  const secrets = testSecrets();
  vi.stubEnv('TEMPORAL_ADDRESS', `127.0.0.1:${port}`);
  vi.stubEnv('TEMPORAL_NAMESPACE', 'default');
  vi.stubEnv('CONSENT_HUB_SUBJECT_KEY_SECRET', secrets.subjectKeySecret);
  vi.stubEnv(
    'CONSENT_HUB_ENCRYPTION_KEYS',
    secrets.encryptionKeys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
  );
  vi.stubEnv('CONSENT_HUB_DATA_DIR', dataDir);
  vi.stubEnv('CONSENT_HUB_API_KEYS', createHash('sha256').update('chk_test_key').digest('hex'));
  vi.stubEnv('CONSENT_HUB_API_PORT', '0');
  vi.stubEnv('CONSENT_HUB_METRICS_PORT', '0');
  vi.stubEnv('LOG_LEVEL', 'silent');
  for (const variable of ['DYNAMICS_URL', 'MAILCHIMP_API_KEY', 'GOOGLE_APPLICATION_CREDENTIALS'])
    vi.stubEnv(variable, '');
  vi.stubEnv('DATABASE_URL', databaseUrl);
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
      stubHubEnv(port, mkdtempSync(join(tmpdir(), 'consent-hub-no-temporal-')));

      const run = await cli(command);

      expect(run.stderr).toContain(`Temporal cannot be reached at 127.0.0.1:${port} (namespace default)`);
      expect(run.stderr).toContain('TEMPORAL_ADDRESS');
      expect(run.code).toBe(4);
    }, 60_000);
  }
});

// An older build started against a ledger a newer one migrated (a rollback, an old CLI next to a new worker):
// the ledger is fine, this build is too old for it, and it must neither write to it nor call it corrupted.
describe.each(ledgerBackends)(
  'worker, serve and the CLI on a ledger migrated by a newer consent-hub ($name)',
  (backend) => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    for (const args of [['worker'], ['serve'], ['requests', '--overdue']]) {
      it(`${args.join(' ')} refuses to start, saying the ledger is newer than this build, and exits 4`, async () => {
        const store = await backend.createStore();
        try {
          await ledgerFromNewerBuild(store, '0999_from_a_newer_build');
          stubHubEnv(await closedPort(), store.options.dataDir, store.options.databaseUrl);

          const run = await cli(...args);

          expect(run.stderr).toContain('migrated by a newer consent-hub');
          expect(run.stderr).toContain("the ledger's newest migration is 0999_from_a_newer_build");
          expect(run.stderr).toContain(`this build's newest is ${latestMigration}`);
          expect(run.stderr).not.toMatch(/corrupted/i);
          expect(run.code).toBe(4);
        } finally {
          await store.cleanup();
        }
      }, 60_000);
    }
  },
);
