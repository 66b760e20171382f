import { exportDirectoryOf, type HubConfig } from '../config/hub-config.js';
import { ConfigError } from '../config/parse-env.js';
import { loadPurposeMap } from '../config/purpose-map.js';
import { clientContextFor } from '../hub-client/client-context.js';
import { openLedger } from '../ledger/open-ledger.js';
import type { Logger } from '../logging/logger.js';
import { ledgerCheck, temporalCheck } from '../observability/hub-checks.js';
import { createHubMetrics } from '../observability/hub-metrics.js';
import { startOpsServer } from '../observability/ops-server.js';
import { AccessExportStore } from '../privacy/access-export-store.js';
import { SubjectDataKeys } from '../privacy/subject-data-keys.js';
import { connectClient } from '../temporal/connection.js';
import { createApiServer } from './create-api-server.js';

/**
 * `consent-hub serve`: connects to Temporal and the ledger, listens, and on SIGINT/SIGTERM stops taking
 * requests, lets those in flight finish, and closes. Resolves once stopped.
 */
export async function runApiServer(config: HubConfig, logger: Logger): Promise<void> {
  if (config.CONSENT_HUB_API_KEYS.length === 0) {
    throw new ConfigError([
      'CONSENT_HUB_API_KEYS: is required to serve the API (comma-separated SHA-256 hex hashes of the API keys)',
    ]);
  }
  const ledger = await openLedger(
    { databaseUrl: process.env.DATABASE_URL || undefined, dataDir: config.CONSENT_HUB_DATA_DIR },
    logger,
  );
  const client = await connectClient(config, process.env, ledger);
  try {
    const metrics = createHubMetrics('api');
    const readiness = [temporalCheck(client), ledgerCheck(ledger)];
    const ops = await startOpsServer({
      host: config.CONSENT_HUB_METRICS_HOST,
      port: config.CONSENT_HUB_METRICS_PORT,
      registry: metrics.registry,
      readiness,
    });
    const app = await createApiServer({
      hub: clientContextFor(client, config),
      ledger,
      logger,
      config,
      mailchimpPurposeMap: loadPurposeMap(process.env).mailchimp,
      observability: { metrics, readiness },
      accessExports: new AccessExportStore(
        exportDirectoryOf(config),
        config.CONSENT_HUB_ENCRYPTION_KEYS,
        new SubjectDataKeys(ledger, config.CONSENT_HUB_ENCRYPTION_KEYS),
      ),
    });
    await app.listen({ host: config.CONSENT_HUB_API_HOST, port: config.CONSENT_HUB_API_PORT });
    logger.info(
      {
        host: config.CONSENT_HUB_API_HOST,
        port: config.CONSENT_HUB_API_PORT,
        keys: config.CONSENT_HUB_API_KEYS.length,
        mailchimpWebhook: Boolean(config.CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET),
        ops: ops.url,
      },
      'consent-hub API listening',
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await app.close();
    await ops.close();
  } finally {
    await ledger.close();
    await client.connection.close();
  }
}
