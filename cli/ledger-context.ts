import type { HubConfig } from '../config/hub-config.js';
import type { Ledger } from '../ledger/ledger.js';
import { cliLogger, loadHubConfig } from './load-config.js';

/** Opens the ledger the worker writes (SQLite in the data directory, or DATABASE_URL) for one command. */
export async function withLedger<T>(use: (ledger: Ledger, config: HubConfig) => Promise<T>): Promise<T> {
  const config = loadHubConfig();
  // Loaded on use: Kysely and the database drivers are not needed to print help or to reach Temporal.
  const { openLedger } = await import('../ledger/open-ledger.js');
  const ledger = await openLedger(
    { databaseUrl: process.env.DATABASE_URL || undefined, dataDir: config.CONSENT_HUB_DATA_DIR },
    cliLogger(config),
  );
  try {
    return await use(ledger, config);
  } finally {
    await ledger.close();
  }
}
