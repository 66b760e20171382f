import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { HubConfig } from '../config/hub-config.js';
import { dataConverterFor } from '../privacy/data-converter.js';
import type { SubjectKeyStore } from '../privacy/subject-data-keys.js';

/**
 * Temporal connection settings by Temporal's own conventions (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS_*, and the CLI's config file), so the same worker runs against a dev server,
 * a self-hosted cluster or Temporal Cloud with no code change.
 */
export function temporalSettings(env: NodeJS.ProcessEnv = process.env) {
  const { connectionOptions, namespace } = loadClientConnectConfig({
    overrideEnvVars: Object.fromEntries(
      Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ),
  });
  return {
    connectionOptions,
    namespace: namespace ?? 'default',
    address: connectionOptions.address ?? 'localhost:7233',
  };
}

/**
 * A client that encrypts every payload it sends, as the worker does. With the ledger's subject key store, a
 * person's payloads are sealed with their own data key (crypto-shredding); every process that starts work
 * for a person (CLI, API, worker) passes it.
 */
export async function connectClient(
  config: HubConfig,
  env: NodeJS.ProcessEnv = process.env,
  subjectKeyStore?: SubjectKeyStore,
): Promise<Client> {
  const settings = temporalSettings(env);
  const connection = await Connection.connect({
    ...settings.connectionOptions,
    address: settings.address,
  } as Parameters<typeof Connection.connect>[0]);
  return new Client({
    connection,
    namespace: settings.namespace,
    dataConverter: dataConverterFor(config.CONSENT_HUB_ENCRYPTION_KEYS, subjectKeyStore),
  });
}
