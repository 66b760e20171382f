import type { HubConfig } from '../config/hub-config.js';
import type { ConsentClientContext } from '../hub-client/consent.js';
import { loadHubConfig } from './load-config.js';

/** Connects the CLI to Temporal with the same data converter as the worker; closes when `use` finishes. */
export async function withHubClient<T>(
  use: (context: ConsentClientContext, config: HubConfig) => Promise<T>,
): Promise<T> {
  const config = loadHubConfig();
  // Loaded on use: `consent-hub --help` and the ledger-only commands never pay for the Temporal client.
  const [{ connectClient }, { clientContextFor }] = await Promise.all([
    import('../temporal/connection.js'),
    import('../hub-client/client-context.js'),
  ]);
  const client = await connectClient(config);
  try {
    return await use(clientContextFor(client, config), config);
  } finally {
    await client.connection.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}
