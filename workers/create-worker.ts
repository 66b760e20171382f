import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Activities } from '../activities/create-activities.js';
import { runningCompiled, workflowBundleFile } from '../config/package-paths.js';
import type { Logger } from '../logging/logger.js';

/** The workflows' entry module, next to this one: the TypeScript source, or its compiled copy in dist/. */
export const workflowsPath = fileURLToPath(
  new URL(`../workflows/index.${runningCompiled ? 'js' : 'ts'}`, import.meta.url),
);

export type WorkflowBundleOption = { code: string } | { codePath: string };

/**
 * The compiled build's pre-built bundle (`npm run build`), when this code is that build; otherwise
 * undefined and the worker bundles workflows/ at start (about 5 s), as the dev path from sources does.
 */
export function prebuiltWorkflowBundle(): WorkflowBundleOption | undefined {
  return runningCompiled && existsSync(workflowBundleFile) ? { codePath: workflowBundleFile } : undefined;
}

export interface HubWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  dataConverter: DataConverter;
  logger: Logger;
  /** A pre-built workflow bundle (tests build one per run; production uses the build's); else bundled at start. */
  workflowBundle?: WorkflowBundleOption;
  /** Extra Worker options (shutdown grace time, interceptors). */
  workerOptions?: Partial<WorkerOptions>;
}

export function createHubWorker(options: HubWorkerOptions): Promise<Worker> {
  const workflowBundle = options.workflowBundle ?? prebuiltWorkflowBundle();
  options.logger.info(
    {
      taskQueue: options.taskQueue,
      namespace: options.namespace,
      workflows: workflowBundle ? 'pre-built bundle' : 'bundled at start',
    },
    'starting worker',
  );
  return Worker.create({
    ...options.workerOptions,
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    dataConverter: options.dataConverter,
    ...(workflowBundle ? { workflowBundle } : { workflowsPath }),
  });
}
