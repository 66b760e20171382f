import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  devApiSettings,
  ensureDevApiCredentials,
  registerSandboxWebhook,
} from '../api/dev-api-credentials.js';
import { hubConfigSchema } from '../config/hub-config.js';
import { cliBinPath } from '../config/package-paths.js';
import { parseEnv } from '../config/parse-env.js';
import { clientContextFor } from '../hub-client/client-context.js';
import { applyReconciliationSchedule } from '../hub-client/reconciliation.js';
import type { Logger } from '../logging/logger.js';
import { ensureLocalTls } from '../sandboxes/framework/local-ca.js';
import { demoAudienceIds } from '../sandboxes/mailchimp/kit.js';
import { connectClient } from '../temporal/connection.js';
import { provideTemporalCli } from '../temporal/temporal-cli.js';
import { type DevJson, writeDevJson } from './dev-json.js';
import { ensureDevSecrets } from './dev-secrets.js';
import { sandboxLaunchers } from './sandbox-kits.js';
import type { LaunchedSandbox } from './sandbox-launcher.js';
import { type RunningDevServer, startTemporalDevServer } from './temporal-dev-server.js';

export interface DevOptions {
  dataDir: string;
  temporalPort: number;
  uiPort: number;
  sandboxPortBase: number;
  taskQueue: string;
  namespace: string;
  /** Where the human-readable summary goes. */
  print: (line: string) => void;
}

const binPath = cliBinPath;

/**
 * The embedded default behind `npm start`: a Temporal dev server with its UI, every vendor sandbox seeded with
 * demo people (or the real vendor, where its credentials are in the environment), and the worker, wired
 * together through the same environment variables a production worker reads. Resolves once everything has
 * stopped again (Ctrl-C).
 */
export async function runDev(options: DevOptions, logger: Logger): Promise<void> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secrets = ensureDevSecrets(dataDir);
  const tls = ensureLocalTls(dataDir);
  const cli = await provideTemporalCli({ onStep: options.print });

  const stops: (() => Promise<void>)[] = [];
  let worker: ChildProcess | undefined;
  const stopAll = async () => {
    for (const stop of stops.reverse())
      await stop().catch((error) => logger.warn({ err: error }, 'stop failed'));
  };

  try {
    const server: RunningDevServer = await startTemporalDevServer({
      cli: cli.path,
      dbFile: join(dataDir, 'temporal.sqlite'),
      port: options.temporalPort,
      uiPort: options.uiPort,
      namespace: options.namespace,
    });
    stops.push(server.stop);

    const sandboxes: LaunchedSandbox[] = [];
    const realVendors: string[] = [];
    for (const [index, launcher] of sandboxLaunchers.entries()) {
      if (process.env[launcher.realVendorVariable]) {
        // Real credentials in the environment switch this vendor to the real service.
        realVendors.push(launcher.vendor);
        continue;
      }
      const sandbox = await launcher.launch(dataDir, tls, options.sandboxPortBase + index);
      stops.push(sandbox.close);
      sandboxes.push(sandbox);
    }

    const apiSettings = devApiSettings(ensureDevApiCredentials(dataDir), options.sandboxPortBase + 10);
    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: options.namespace,
      CONSENT_HUB_TASK_QUEUE: options.taskQueue,
      CONSENT_HUB_DATA_DIR: dataDir,
      CONSENT_HUB_SUBJECT_KEY_SECRET: secrets.subjectKeySecret,
      CONSENT_HUB_ENCRYPTION_KEYS: secrets.encryptionKeys,
      NODE_EXTRA_CA_CERTS: tls.caFile,
      ...apiSettings.env,
      ...Object.assign({}, ...sandboxes.map((s) => s.env)),
    };
    const devJson: DevJson = {
      temporal: {
        address: server.address,
        namespace: options.namespace,
        taskQueue: options.taskQueue,
        ui: server.ui,
        cli: cli.path,
      },
      caFile: tls.caFile,
      env,
      sandboxes: Object.fromEntries(sandboxes.map((s) => [s.vendor, s.url])),
      api: apiSettings.devJson,
    };
    const devJsonFile = writeDevJson(dataDir, devJson);

    worker = spawn(process.execPath, [binPath, 'worker'], {
      env: { ...process.env, ...env, LOG_FORMAT: process.env.LOG_FORMAT ?? 'pretty' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const workerProcess = worker;
    const workerExited = new Promise<number | null>((resolveExit) => workerProcess.once('exit', resolveExit));
    stops.push(async () => {
      if (workerProcess.exitCode !== null || workerProcess.signalCode !== null) return;
      workerProcess.kill('SIGTERM');
      await workerExited;
    });

    const api = spawn(process.execPath, [binPath, 'serve'], {
      env: { ...process.env, ...env, LOG_FORMAT: process.env.LOG_FORMAT ?? 'pretty' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const apiExited = new Promise<number | null>((resolveExit) => api.once('exit', resolveExit));
    stops.push(async () => {
      if (api.exitCode !== null || api.signalCode !== null) return;
      api.kill('SIGTERM');
      await apiExited;
    });
    await waitForHealth(`${apiSettings.devJson.url}/healthz`, apiExited);
    if (env.MAILCHIMP_API_URL && env.MAILCHIMP_API_KEY && sandboxes.some((s) => s.vendor === 'mailchimp')) {
      // The sandbox posts unsubscribes to the API, so the whole webhook loop runs locally.
      await registerSandboxWebhook({
        mailchimpApiUrl: env.MAILCHIMP_API_URL,
        apiKey: env.MAILCHIMP_API_KEY,
        ca: readFileSync(tls.caFile, 'utf8'),
        listIds: Object.values(demoAudienceIds),
        webhookUrl: apiSettings.devJson.mailchimpWebhookUrl,
      });
    }

    // The schedule is part of the embedded default: visible in the UI, idempotent across restarts.
    const config = parseEnv(hubConfigSchema, { ...process.env, ...env });
    const client = await connectClient(config, { ...process.env, ...env });
    try {
      await applyReconciliationSchedule(clientContextFor(client, config), config.CONSENT_HUB_RECONCILE_CRON);
    } finally {
      await client.connection.close();
    }

    options.print('');
    options.print('consent-hub dev is running');
    options.print(
      `  Temporal      ${server.address}  (namespace ${options.namespace}, task queue ${options.taskQueue})`,
    );
    options.print(`  Temporal UI   ${server.ui}`);
    for (const sandbox of sandboxes) {
      options.print(
        `  ${`${sandbox.vendor} sandbox`.padEnd(18)}${sandbox.url}  (controls: ${sandbox.url}/__sandbox/state)`,
      );
    }
    for (const vendor of realVendors)
      options.print(`  ${vendor.padEnd(18)}real service (credentials from the environment)`);
    options.print(
      `  Reconciliation schedule  ${config.CONSENT_HUB_RECONCILE_CRON} (UTC); run now: npx consent-hub reconcile --wait`,
    );
    options.print(
      `  Intake API    ${apiSettings.devJson.url}  (key in dev.json; docs ${apiSettings.devJson.url}/openapi.json)`,
    );
    options.print(`  dev.json      ${devJsonFile}`);
    options.print(`  CA            ${tls.caFile}`);
    options.print('');
    options.print('In another terminal:  eval "$(npx consent-hub env)"   then   npx consent-hub --help');
    options.print('Ctrl-C stops everything.');

    const interrupted = new Promise<'signal'>((resolveSignal) => {
      process.once('SIGINT', () => resolveSignal('signal'));
      process.once('SIGTERM', () => resolveSignal('signal'));
    });
    const first = await Promise.race([
      interrupted,
      workerExited.then(() => 'worker-exit' as const),
      apiExited.then(() => 'worker-exit' as const),
    ]);
    if (first === 'worker-exit') {
      process.exitCode = 1;
      options.print('The worker or the API stopped unexpectedly; stopping the rest.');
    } else {
      options.print('Stopping...');
    }
  } finally {
    await stopAll();
  }
}

/** Waits until the API answers its health check, or fails if its process exits first. */
async function waitForHealth(url: string, exited: Promise<unknown>): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  for (let attempt = 0; attempt < 120; attempt++) {
    if (gone) throw new Error('The intake API exited at start; see its log above.');
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet.
    }
    await delay(250);
  }
  throw new Error(`The intake API did not answer ${url} within 30 s.`);
}
