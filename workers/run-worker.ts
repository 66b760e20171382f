import { createActivities } from '../activities/create-activities.js';
import type { HubConfig } from '../config/hub-config.js';
import { buildConnectors } from '../connectors/registry.js';
import { clientContextFor, workStarterFor } from '../hub-client/client-context.js';
import { openLedger } from '../ledger/open-ledger.js';
import type { Logger } from '../logging/logger.js';
import { dataConverterFor } from '../privacy/data-converter.js';
import { connectClient } from '../temporal/connection.js';
import { connectWorkerConnection } from '../temporal/worker-connection.js';
import { createHubWorker } from './create-worker.js';

/**
 * The production worker: connectors from the environment, Temporal from Temporal's own variables. Runs until
 * SIGINT or SIGTERM, then finishes the activities in hand (the SDK's graceful shutdown).
 */
export async function runWorker(config: HubConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env) {
  const built = buildConnectors(env, logger);
  // Opened (and migrated) before polling starts: an unreachable database stops the worker at once.
  const ledger = await openLedger(
    { databaseUrl: env.DATABASE_URL || undefined, dataDir: config.CONSENT_HUB_DATA_DIR },
    logger,
  );
  const { connection, namespace } = await connectWorkerConnection(env);
  // Reconciliation starts repairs as workflows, through an ordinary client with the same data converter.
  const client = await connectClient(config, env);
  try {
    const worker = await createHubWorker({
      connection,
      namespace,
      taskQueue: config.CONSENT_HUB_TASK_QUEUE,
      activities: createActivities({
        connectors: built.connectors,
        ledger,
        logger,
        subjectKeySecret: config.CONSENT_HUB_SUBJECT_KEY_SECRET,
        starter: workStarterFor(clientContextFor(client, config)),
      }),
      dataConverter: dataConverterFor(config.CONSENT_HUB_ENCRYPTION_KEYS),
      logger,
    });
    logger.info({ systems: built.configured }, 'worker running');
    await worker.run();
  } finally {
    await built.close();
    await ledger.close();
    await client.connection.close();
    await connection.close();
  }
}
