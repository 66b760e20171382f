import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { failureConverterPath, payloadConverterPath } from '../privacy/data-converter.js';
import { workflowPreloadModules, workflowsPath } from '../workers/create-worker.js';

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/**
 * Bundles the workflows once, here, into `dir`, for the bench's workers to load (CONSENT_HUB_WORKFLOW_BUNDLE)
 * as a production worker loads dist/'s: a worker that bundles at its own start runs webpack in its process,
 * which costs it seconds of CPU and a few hundred MB of RSS it never gives back, so the wave would measure
 * the bundler rather than the hub. Answers the bundle's path.
 */
export async function bundleWorkflowsOnce(dir: string): Promise<string> {
  const bundle = await bundleWorkflowCode({
    workflowsPath,
    preloadModules: workflowPreloadModules,
    failureConverterPath,
    payloadConverterPath,
    logger: quiet,
  });
  const path = join(dir, 'workflow-bundle.js');
  writeFileSync(path, bundle.code);
  return path;
}
