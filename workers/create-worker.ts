import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { type NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from '../activities/create-activities.js';
import type { Logger } from '../logging/logger.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface HubWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  dataConverter: DataConverter;
  logger: Logger;
  /** A pre-built workflow bundle (tests build one per run); otherwise workflows/ is bundled at start, about 5 s. */
  workflowBundle?: { code: string } | { codePath: string };
}

export function createHubWorker(options: HubWorkerOptions): Promise<Worker> {
  options.logger.info({ taskQueue: options.taskQueue, namespace: options.namespace }, 'starting worker');
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    dataConverter: options.dataConverter,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
  });
}
