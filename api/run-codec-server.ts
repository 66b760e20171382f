import type { HubConfig } from '../config/hub-config.js';
import { ConfigError } from '../config/parse-env.js';
import { openLedger } from '../ledger/open-ledger.js';
import type { Logger } from '../logging/logger.js';
import { dataConverterFor } from '../privacy/data-converter.js';
import { createCodecServer } from './codec-server.js';

/**
 * `consent-hub codec-server`: the hub's codec (master key and the ledger's subject keys) over HTTP for the
 * Temporal UI and CLI, behind the API's keys. Runs until SIGINT or SIGTERM.
 */
export async function runCodecServer(config: HubConfig, logger: Logger): Promise<void> {
  if (config.CONSENT_HUB_API_KEYS.length === 0) {
    throw new ConfigError([
      'CONSENT_HUB_API_KEYS: is required to serve the codec (comma-separated SHA-256 hex hashes of the API keys)',
    ]);
  }
  const ledger = await openLedger(
    { databaseUrl: process.env.DATABASE_URL || undefined, dataDir: config.CONSENT_HUB_DATA_DIR },
    logger,
  );
  try {
    const codec = dataConverterFor(config.CONSENT_HUB_ENCRYPTION_KEYS, ledger).payloadCodecs?.[0];
    if (!codec) throw new Error('the hub data converter has no codec');
    const app = await createCodecServer({
      codec,
      keyHashes: config.CONSENT_HUB_API_KEYS,
      corsOrigins: config.CONSENT_HUB_CODEC_CORS_ORIGINS,
      logger,
      isErased: async (subjectKey) => (await ledger.getTombstone(subjectKey)) !== undefined,
    });
    await app.listen({ host: config.CONSENT_HUB_CODEC_HOST, port: config.CONSENT_HUB_CODEC_PORT });
    logger.info(
      { host: config.CONSENT_HUB_CODEC_HOST, port: config.CONSENT_HUB_CODEC_PORT },
      'consent-hub codec server listening',
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await app.close();
  } finally {
    await ledger.close();
  }
}
