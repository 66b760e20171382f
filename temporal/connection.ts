import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { HubConfig } from '../config/hub-config.js';
import { TemporalUnreachable } from '../hub-client/request-errors.js';
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
 * The error every process (CLI, worker, API) raises when its first connection to Temporal fails: it names the
 * address and namespace tried and what to check, and the CLI maps it to exit code 4. Without it, the worker
 * died with the Rust core's `tonic::transport::Error(...)` and the API with `Failed to connect before the
 * deadline`, both exit 1.
 */
export function temporalUnreachable(
  error: unknown,
  env: NodeJS.ProcessEnv = process.env,
): TemporalUnreachable {
  const { address, namespace } = temporalSettings(env);
  return new TemporalUnreachable(
    `Temporal cannot be reached at ${address} (namespace ${namespace}): ${error instanceof Error ? error.message : String(error)}. ` +
      'Is `npm start` (or the cluster) running, and is TEMPORAL_ADDRESS right? `eval "$(npx consent-hub env)"` sets it for the dev setup.',
    { cause: error },
  );
}

/**
 * A client that encrypts every payload it sends, as the worker does. With the ledger's subject key store, a
 * person's payloads are sealed with their own data key (crypto-shredding); every process that starts work
 * for a person (CLI, API, worker) passes it. Throws TemporalUnreachable when Temporal does not answer.
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
  } as Parameters<typeof Connection.connect>[0]).catch((error: unknown) => {
    throw temporalUnreachable(error, env);
  });
  return new Client({
    connection,
    namespace: settings.namespace,
    dataConverter: dataConverterFor(config.CONSENT_HUB_ENCRYPTION_KEYS, subjectKeyStore),
  });
}
