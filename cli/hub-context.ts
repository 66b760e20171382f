import type { Command } from 'commander';
import type { HubConfig } from '../config/hub-config.js';
import type { ConsentClientContext } from '../hub-client/consent.js';
import type { Ledger } from '../ledger/ledger.js';
import { loadHubConfig } from './load-config.js';

/** Connects the CLI to Temporal with the same data converter as the worker; closes when `use` finishes. */
export async function withHubClient<T>(
  /** `ledger` is the one the client's codec uses, open for the command's own reads and writes too. */
  use: (context: ConsentClientContext, config: HubConfig, ledger: Ledger) => Promise<T>,
): Promise<T> {
  const config = loadHubConfig();
  // Loaded on use: `consent-hub --help` and the ledger-only commands never pay for the Temporal client.
  const [{ connectClient }, { clientContextFor }, { openLedger }, { createLogger }] = await Promise.all([
    import('../temporal/connection.js'),
    import('../hub-client/client-context.js'),
    import('../ledger/open-ledger.js'),
    import('../logging/logger.js'),
  ]);
  // The ledger holds the subjects' data keys: a person's payloads are sealed with their own (crypto-shredding).
  const ledger = await openLedger(
    { databaseUrl: process.env.DATABASE_URL || undefined, dataDir: config.CONSENT_HUB_DATA_DIR },
    // Only problems: a command's stderr is for its own messages.
    createLogger({ level: 'warn', format: config.LOG_FORMAT ?? 'pretty', fd: 2 }),
  );
  let client: Awaited<ReturnType<typeof connectClient>>;
  try {
    client = await connectClient(config, process.env, ledger);
  } catch (error) {
    // connectClient's TemporalUnreachable names the address and what to check; the CLI exits 4.
    await ledger.close();
    throw error;
  }
  try {
    return await use(clientContextFor(client, config), config, ledger);
  } finally {
    await client.connection.close();
    await ledger.close();
  }
}

/** True when --json was given anywhere on the command line (it is a program-wide option). */
export function wantsJson(command: Command): boolean {
  return Boolean(command.optsWithGlobals().json);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}
