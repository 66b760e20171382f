import { getHeapStatistics } from 'node:v8';
import { msToNumber } from '@temporalio/common';
import { createActivities } from '../activities/create-activities.js';
import { loadAccessCategories } from '../config/access-categories.js';
import { exportDirectoryOf, type HubConfig } from '../config/hub-config.js';
import { describePurposeMap } from '../config/purpose-map.js';
import { buildConnectors } from '../connectors/registry.js';
import { clientContextFor, workStarterFor } from '../hub-client/client-context.js';
import { openLedger } from '../ledger/open-ledger.js';
import type { Logger } from '../logging/logger.js';
import { activityMetricsInterceptor } from '../observability/activity-metrics.js';
import { ledgerCheck, temporalCheck, vendorChecks } from '../observability/hub-checks.js';
import { createHubMetrics } from '../observability/hub-metrics.js';
import { startOpsServer } from '../observability/ops-server.js';
import { registerRequestGauges } from '../observability/request-gauges.js';
import { freeLoopbackPort, sdkMetricsReader } from '../observability/sdk-metrics.js';
import { registerWorkerThreadHeapGauges } from '../observability/worker-thread-heap.js';
import { AccessExportStore } from '../privacy/access-export-store.js';
import { dataConverterFor, subjectDataKeysOf } from '../privacy/data-converter.js';
import { connectClient } from '../temporal/connection.js';
import { installTemporalRuntimeLogger } from '../temporal/runtime-logger.js';
import { connectWorkerConnection } from '../temporal/worker-connection.js';
import { createHubWorkers, type HubWorkers } from './create-worker.js';
import { connectorEnvForShare, vendorQueues } from './vendor-queues.js';
import { workerSizing } from './worker-sizing.js';

/**
 * The production worker: connectors from the environment, Temporal from Temporal's own variables, and an
 * operations listener on CONSENT_HUB_METRICS_HOST:PORT (`/metrics` with the SDK runtime's metrics and the
 * hub's, `/healthz`, `/readyz`). Runs until SIGINT or SIGTERM; then the SDK stops polling and gives the
 * activities in hand CONSENT_HUB_SHUTDOWN_GRACE_TIME to finish, after which it cancels them (they drop
 * vendor calls still queued).
 */
export async function runWorker(config: HubConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env) {
  // Read before anything opens, so a bad sizing value stops the worker at once, naming the variable.
  const sizing = workerSizing(env);
  // The SDK runtime's exporter listens on loopback only; /metrics below serves its text with the hub's.
  const sdkMetricsAddress = `127.0.0.1:${await freeLoopbackPort()}`;
  installTemporalRuntimeLogger(logger, { metricsBindAddress: sdkMetricsAddress });
  // Each connector holds this worker's share of its vendor's connection cap (CONSENT_HUB_WORKERS).
  const built = buildConnectors(connectorEnvForShare(env), logger);
  // Purposes may share a vendor field; the operator sees at start how each field is derived.
  for (const line of describePurposeMap(built.purposeMap)) logger.info(`purpose map: ${line}`);
  // Opened (and migrated) before polling starts: an unreachable database stops the worker at once.
  const ledger = await openLedger(
    { databaseUrl: env.DATABASE_URL || undefined, dataDir: config.CONSENT_HUB_DATA_DIR },
    logger,
  );
  const { connection, namespace } = await connectWorkerConnection(env);
  // Reconciliation starts repairs as workflows, through an ordinary client with the same data converter.
  const client = await connectClient(config, env, ledger);
  const dataConverter = dataConverterFor(config.CONSENT_HUB_ENCRYPTION_KEYS, ledger);
  const metrics = createHubMetrics('worker');
  registerRequestGauges(metrics, client, {
    overdueAfter: config.CONSENT_HUB_OVERDUE_AFTER,
    taskQueue: config.CONSENT_HUB_TASK_QUEUE,
  });
  // The workflow thread's heap (every cached run lives there), beside the main thread's default gauges.
  const threadHeaps = registerWorkerThreadHeapGauges(metrics, logger);
  let worker: HubWorkers | undefined;
  // Ready only once the worker polls: bundling or loading the workflows comes first and takes seconds.
  const polling = {
    name: 'worker',
    run: async () => {
      const state = worker?.getState() ?? 'STARTING';
      if (state !== 'RUNNING') throw new Error(`the worker is ${state.toLowerCase()}, not polling`);
    },
  };
  const ops = await startOpsServer({
    host: config.CONSENT_HUB_METRICS_HOST,
    port: config.CONSENT_HUB_METRICS_PORT,
    registry: metrics.registry,
    readiness: [polling, temporalCheck(client), ledgerCheck(ledger), ...vendorChecks(built.connectors)],
    extraMetrics: sdkMetricsReader(sdkMetricsAddress),
  });
  try {
    worker = await createHubWorkers({
      vendorQueues: vendorQueues(config.CONSENT_HUB_TASK_QUEUE, env),
      connection,
      namespace,
      taskQueue: config.CONSENT_HUB_TASK_QUEUE,
      activities: createActivities({
        connectors: built.connectors,
        ledger,
        logger,
        subjectKeySecret: config.CONSENT_HUB_SUBJECT_KEY_SECRET,
        starter: workStarterFor(clientContextFor(client, config), ledger),
        subjectKeys: subjectDataKeysOf(dataConverter),
        accessExports: new AccessExportStore(
          exportDirectoryOf(config),
          config.CONSENT_HUB_ENCRYPTION_KEYS,
          subjectDataKeysOf(dataConverter),
        ),
        accessCategories: loadAccessCategories(env),
        reconcileBulkFrom: config.CONSENT_HUB_RECONCILE_BULK_FROM,
      }),
      dataConverter,
      logger,
      ...(sizing.CONSENT_HUB_WORKFLOW_BUNDLE
        ? { workflowBundle: { codePath: sizing.CONSENT_HUB_WORKFLOW_BUNDLE } }
        : {}),
      workerOptions: {
        maxCachedWorkflows: sizing.CONSENT_HUB_MAX_CACHED_WORKFLOWS,
        maxConcurrentWorkflowTaskExecutions: Math.min(
          sizing.CONSENT_HUB_MAX_WORKFLOW_TASKS,
          sizing.CONSENT_HUB_MAX_CACHED_WORKFLOWS,
        ),
        maxConcurrentActivityTaskExecutions: sizing.CONSENT_HUB_MAX_LEDGER_ACTIVITIES,
        shutdownGraceTime: msToNumber(config.CONSENT_HUB_SHUTDOWN_GRACE_TIME as '1s'),
        interceptors: { activity: [activityMetricsInterceptor(metrics)] },
      },
    });
    // The heap limit shows whether the worker's V8 flags (NODE_OPTIONS, workers/worker-node-options.ts) took.
    const heapLimitMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
    logger.info({ systems: built.configured, ops: ops.url, heapLimitMb }, 'worker running');
    await worker.run();
    logger.info('worker stopped');
  } finally {
    threadHeaps.close();
    await ops.close();
    await built.close();
    await ledger.close();
    await client.connection.close();
    await connection.close();
  }
}
