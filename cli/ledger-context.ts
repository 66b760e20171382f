import type { HubConfig } from '../config/hub-config.js';
import type { Ledger } from '../ledger/ledger.js';
import { openLedger } from '../ledger/open-ledger.js';
import { cliLogger, loadHubConfig } from './load-config.js';

/** Opens the ledger the worker writes (SQLite in the data directory, or DATABASE_URL) for one command. */
export async function withLedger<T>(use: (ledger: Ledger, config: HubConfig) => Promise<T>): Promise<T> {
  const config = loadHubConfig();
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
