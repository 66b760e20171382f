import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { distDir, packageRoot, workflowBundleFile } from '../config/package-paths.js';
import { failureConverterPath, payloadConverterPath } from '../privacy/data-converter.js';
import { workflowPreloadModules, workflowsPath } from '../workers/create-worker.js';

/**
 * The last step of `npm run build` (after tsc): bundles the compiled workflows once, so a production worker
 * loads `dist/workflow-bundle.js` instead of running webpack at every start, then stamps the build. The CLI
 * launcher (bin/consent-hub.js) runs dist/ only while the stamp is newer than every source.
 */
const started = Date.now();
// tsc copies no .cjs: the failure and payload converters (loaded by the SDK's require) are copied beside
// their importer.
copyFileSync(join(packageRoot, 'privacy', 'failure-converter.cjs'), failureConverterPath);
copyFileSync(join(packageRoot, 'privacy', 'payload-converter.cjs'), payloadConverterPath);
const bundle = await bundleWorkflowCode({
  workflowsPath,
  preloadModules: workflowPreloadModules,
  failureConverterPath,
  payloadConverterPath,
  logger: {
    log: () => {},
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (message) => process.stderr.write(`bundler: ${message}\n`),
    error: (message) => process.stderr.write(`bundler: ${message}\n`),
  },
});
writeFileSync(workflowBundleFile, bundle.code);
writeFileSync(
  join(distDir, 'build-info.json'),
  `${JSON.stringify({ builtAt: new Date().toISOString(), workflowBundle: 'workflow-bundle.js' }, null, 2)}\n`,
);
process.stdout.write(`workflow bundle written to ${workflowBundleFile} in ${Date.now() - started} ms\n`);
