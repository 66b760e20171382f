import { NativeConnection } from '@temporalio/worker';
import { temporalSettings, temporalUnreachable } from './connection.js';

/**
 * The worker's native connection, by the same Temporal conventions as the client. Kept apart from
 * `connection.ts` so that CLI commands, which only need a client, never load the worker SDK (about 0.5 s).
 * Throws TemporalUnreachable (the CLI exits 4) when Temporal does not answer.
 */
export async function connectWorkerConnection(env: NodeJS.ProcessEnv = process.env) {
  const settings = temporalSettings(env);
  const connection = await NativeConnection.connect({
    ...settings.connectionOptions,
    address: settings.address,
  }).catch((error: unknown) => {
    throw temporalUnreachable(error, env);
  });
  return { connection, namespace: settings.namespace };
}
