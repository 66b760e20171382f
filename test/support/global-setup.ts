import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { failureConverterPath, payloadConverterPath } from '../../privacy/data-converter.js';
import { ensureLocalTls } from '../../sandboxes/framework/local-ca.js';
import { projectSearchAttributes } from '../../temporal/search-attributes.js';
import { provideTemporalCli } from '../../temporal/temporal-cli.js';
import { workflowPreloadModules, workflowsPath } from '../../workers/create-worker.js';
import { provideTestPostgres } from './test-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    temporalCliPath: string;
    dataDir: string;
    caFile: string;
    workflowBundlePath: string;
    /** The PostgreSQL for the ledger tests: CONSENT_HUB_TEST_DATABASE_URL, or one started for this run. */
    testDatabaseUrl: string;
  }
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string) => process.stderr.write(`bundler: ${message}\n`),
  error: (message: string) => process.stderr.write(`bundler: ${message}\n`),
};

/**
 * One real Temporal dev server, one PostgreSQL and one local CA for the whole run. Test files connect to
 * the servers and use their own task queues, ids and schemas, so they never see each other's work.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-test-'));
  const tls = ensureLocalTls(dataDir);
  // Test processes are forked after this runs and inherit it, so they trust the sandboxes' certificates.
  process.env.NODE_EXTRA_CA_CERTS = tls.caFile;

  // PostgreSQL starts (initdb takes seconds) while the Temporal CLI is found and its server starts.
  const postgres = provideTestPostgres(process.env, (line) => process.stderr.write(`${line}\n`));
  // Awaited below; until then a failure must not count as unhandled and end the process.
  postgres.catch(() => {});
  let env: TestWorkflowEnvironment;
  try {
    const cli = await provideTemporalCli({ onStep: (message) => process.stderr.write(`${message}\n`) });
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: cli.path },
        searchAttributes: projectSearchAttributes,
        log: { format: 'pretty', level: 'error' },
      },
    });
    project.provide('temporalCliPath', cli.path);
  } catch (error) {
    await postgres.then((started) => started.stop()).catch(() => {});
    throw error;
  }
  let database: Awaited<typeof postgres>;
  try {
    database = await postgres;
  } catch (error) {
    await env.teardown();
    throw error;
  }

  // Bundling takes seconds; done once here, every test worker loads the same code.
  const bundle = await bundleWorkflowCode({
    workflowsPath,
    preloadModules: workflowPreloadModules,
    failureConverterPath,
    payloadConverterPath,
    logger: quietBundlerLogger,
  });
  const workflowBundlePath = join(dataDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);

  project.provide('temporalAddress', env.address);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('temporalNamespace', env.namespace ?? 'default');
  project.provide('dataDir', dataDir);
  project.provide('testDatabaseUrl', database.url);
  project.provide('caFile', tls.caFile);

  return async () => {
    await env.teardown();
    await database.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
