import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Activities } from '../activities/create-activities.js';
import { runningCompiled, workflowBundleFile } from '../config/package-paths.js';
import type { Logger } from '../logging/logger.js';
import { failureSubjectInterceptor } from '../privacy/failure-subject.js';
import type { VendorQueue } from './vendor-queues.js';

/** The workflows' entry module, next to this one: the TypeScript source, or its compiled copy in dist/. */
export const workflowsPath = fileURLToPath(
  new URL(`../workflows/index.${runningCompiled ? 'js' : 'ts'}`, import.meta.url),
);

/**
 * Modules the workflow bundle evaluates once per worker, in the V8 context every workflow run shares
 * (`reuseV8Context`, the SDK's default), instead of once per run: pure code and read-only data only (no state
 * of a run), as the SDK deep-freezes their exports and every run shares them. The English word lists of the
 * name redaction (domain/common-words.ts, ~400 KB of JSON, ~2 MB as a set) were otherwise parsed into each
 * cached run (issue 21). The text redaction (domain/text-redaction.ts and its libraries) is NOT preloaded
 * although evaluating it costs each run about 8 % of the workflow thread's CPU: its libraries write module state
 * during a call (entities' decoder, linkifyjs's scanner built on first use), and a frozen copy failed the
 * workflow task of a run that redacted a text (test/workflows/rectification.test.ts, the close reason).
 */
export const workflowPreloadModules = ['common-words'].map((name) =>
  fileURLToPath(new URL(`../domain/${name}.${runningCompiled ? 'js' : 'ts'}`, import.meta.url)),
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

/**
 * The hub's own activity interceptor first (failures of a call about a person are sealed with their data key,
 * privacy/failure-subject.ts), then the caller's (metrics).
 */
function activityInterceptors(options: HubWorkerOptions) {
  return [failureSubjectInterceptor, ...(options.workerOptions?.interceptors?.activity ?? [])];
}

export function createHubWorker(options: HubWorkerOptions): Promise<Worker> {
  const workflowBundle = options.workflowBundle ?? prebuiltWorkflowBundle();
  options.logger.info(
    {
      taskQueue: options.taskQueue,
      namespace: options.namespace,
      workflows: workflowBundle ? 'pre-built bundle' : 'bundled at start',
      // A worker run from its sources (tsx) holds about 60 MB more RSS than the compiled build (README
      // "Worker sizing"), so its memory figures are not production's.
      code: runningCompiled ? 'compiled' : 'sources (tsx)',
    },
    'starting worker',
  );
  return Worker.create({
    ...options.workerOptions,
    interceptors: { ...options.workerOptions?.interceptors, activity: activityInterceptors(options) },
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    dataConverter: options.dataConverter,
    ...(workflowBundle
      ? { workflowBundle }
      : { workflowsPath, bundlerOptions: { preloadModules: workflowPreloadModules } }),
  });
}

/** The hub's workers in one process: workflows on the hub's queue, each vendor's activities on its own. */
export interface HubWorkers {
  run(): Promise<void>;
  shutdown(): void;
  /** The workflow worker's state, or FAILED when any of them failed. */
  getState(): ReturnType<Worker['getState']>;
}

/**
 * The workflow worker (which also runs every activity scheduled on the hub's queue: the ledger's, and
 * vendor activities a workflow scheduled there before vendor queues existed) and one activity worker per
 * vendor queue, each with its slots and the queue's server-side rate (workers/vendor-queues.ts). They share
 * the connection and the activities; stopping one stops all.
 */
export async function createHubWorkers(
  options: HubWorkerOptions & { vendorQueues: VendorQueue[] },
): Promise<HubWorkers> {
  const main = await createHubWorker(options);
  const vendors = await Promise.all(
    options.vendorQueues.map((queue) =>
      Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: queue.taskQueue,
        activities: options.activities,
        dataConverter: options.dataConverter,
        interceptors: { activity: activityInterceptors(options) },
        ...(options.workerOptions?.shutdownGraceTime !== undefined
          ? { shutdownGraceTime: options.workerOptions.shutdownGraceTime }
          : {}),
        maxConcurrentActivityTaskExecutions: queue.maxConcurrentActivityTaskExecutions,
        ...(queue.maxTaskQueueActivitiesPerSecond !== undefined
          ? { maxTaskQueueActivitiesPerSecond: queue.maxTaskQueueActivitiesPerSecond }
          : {}),
      }),
    ),
  );
  const all = [main, ...vendors];
  options.logger.info({ vendorQueues: options.vendorQueues }, 'vendor activities on their own task queues');
  const shutdown = () => {
    for (const worker of all) if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  return {
    async run() {
      const results = await Promise.allSettled(
        all.map((worker) =>
          worker.run().catch((error: unknown) => {
            shutdown();
            throw error;
          }),
        ),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    shutdown,
    getState: () => (all.some((w) => w.getState() === 'FAILED') ? 'FAILED' : main.getState()),
  };
}
