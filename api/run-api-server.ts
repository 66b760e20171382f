import type { HubConfig } from '../config/hub-config.js';
import { ConfigError } from '../config/parse-env.js';
import type { ConsentClientContext } from '../hub-client/consent.js';
import { openLedger } from '../ledger/open-ledger.js';
import type { Logger } from '../logging/logger.js';
import { connectClient } from '../temporal/connection.js';
import { createApiServer } from './create-api-server.js';

/** The client context the CLI builds (cli/hub-context.ts), from the same configuration. */
function hubContextFrom(config: HubConfig, client: ConsentClientContext['client']): ConsentClientContext {
  const timings = {
    attentionAfter: config.CONSENT_HUB_ATTENTION_AFTER,
    operatorDeadline: config.CONSENT_HUB_OPERATOR_DEADLINE,
    heartbeatTimeout: config.CONSENT_HUB_HEARTBEAT_TIMEOUT,
  };
  return {
    client,
    taskQueue: config.CONSENT_HUB_TASK_QUEUE,
    subjectKeySecret: config.CONSENT_HUB_SUBJECT_KEY_SECRET,
    timings,
    consentTimings: { ...timings, idleAfter: config.CONSENT_HUB_SUBJECT_IDLE_AFTER },
  };
}

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
  const client = await connectClient(config);
  const ledger = await openLedger(
    { databaseUrl: process.env.DATABASE_URL || undefined, dataDir: config.CONSENT_HUB_DATA_DIR },
    logger,
  );
  try {
    const app = await createApiServer({ hub: hubContextFrom(config, client), ledger, logger, config });
    await app.listen({ host: config.CONSENT_HUB_API_HOST, port: config.CONSENT_HUB_API_PORT });
    logger.info(
      {
        host: config.CONSENT_HUB_API_HOST,
        port: config.CONSENT_HUB_API_PORT,
        keys: config.CONSENT_HUB_API_KEYS.length,
        mailchimpWebhook: Boolean(config.CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET),
      },
      'consent-hub API listening',
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await app.close();
  } finally {
    await ledger.close();
    await client.connection.close();
  }
}
