import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
import { workerProcessEnv } from '../workers/worker-node-options.js';
import { lockDataDir } from './data-dir-lock.js';
import { removeDevJson } from './dev-json.js';
import { registerRunningDev } from './dev-registry.js';
import { ensureDevSecrets } from './dev-secrets.js';
import { LiveDevJson } from './live-dev-json.js';
import { assertPortsFree, type DevPort } from './port-check.js';
import { sandboxLaunchers } from './sandbox-kits.js';
import type { LaunchedSandbox } from './sandbox-launcher.js';
import { SupervisedProcess } from './supervised-process.js';
import { type RunningDevServer, startTemporalDevServer } from './temporal-dev-server.js';
import { answers200, waitUntil } from './wait-until.js';

export interface DevOptions {
  dataDir: string;
  temporalPort: number;
  uiPort: number;
  /** The sandboxes take this port and the next two; the API +10, the worker's and API's metrics +11 and +12. */
  sandboxPortBase: number;
  taskQueue: string;
  namespace: string;
  /** Start the sandboxes over from the demo people, forgetting the records earlier sessions left. */
  reseed?: boolean;
  /** Where the human-readable summary goes. */
  print: (line: string) => void;
}

/** The ports dev derives from --sandbox-port-base, besides the sandboxes' own. */
export const devPortOffsets = { api: 10, workerMetrics: 11, apiMetrics: 12, codec: 13 } as const;

/** `consent-hub dev`'s default ports (its flags move them); `.ci/readme-commands.sh` checks them free. */
export const devPortDefaults = { temporalPort: 7233, uiPort: 8233, sandboxPortBase: 7301 } as const;

/**
 * Every port dev listens on, with what runs there and the flag that moves it: Temporal and its UI, one per
 * emulated vendor (a vendor configured as real gets none), the intake API, both metrics endpoints and the
 * codec server. `sandboxVendors` defaults to all of them.
 */
export function devPorts(
  options: Pick<DevOptions, 'temporalPort' | 'uiPort' | 'sandboxPortBase'>,
  sandboxVendors: readonly (typeof sandboxLaunchers)[number][] = sandboxLaunchers,
): DevPort[] {
  const base = options.sandboxPortBase;
  return [
    { port: options.temporalPort, use: 'Temporal frontend (--temporal-port)' },
    { port: options.uiPort, use: 'Temporal Web UI (--ui-port)' },
    ...sandboxLaunchers.flatMap((launcher, index) =>
      sandboxVendors.includes(launcher)
        ? [{ port: base + index, use: `${launcher.vendor} sandbox (--sandbox-port-base + ${index})` }]
        : [],
    ),
    { port: base + devPortOffsets.api, use: `intake API (--sandbox-port-base + ${devPortOffsets.api})` },
    {
      port: base + devPortOffsets.workerMetrics,
      use: `worker metrics (--sandbox-port-base + ${devPortOffsets.workerMetrics})`,
    },
    {
      port: base + devPortOffsets.apiMetrics,
      use: `API metrics (--sandbox-port-base + ${devPortOffsets.apiMetrics})`,
    },
    {
      port: base + devPortOffsets.codec,
      use: `codec server (--sandbox-port-base + ${devPortOffsets.codec})`,
    },
  ];
}

/**
 * The embedded default behind `npm start`: a Temporal dev server with its UI, every vendor sandbox (its
 * records kept in the data dir across restarts; the demo people on an empty data dir or with --reseed),
 * the worker and the intake API as their own processes, wired together through the same environment
 * variables production reads. Each part is waited for until it answers, with progress shown; dev.json is
 * written atomically only once every part answers. A worker or API process that dies is started again;
 * SIGINT or SIGTERM to this process stops everything it started. Resolves once all has stopped.
 */
export async function runDev(options: DevOptions, logger: Logger): Promise<void> {
  const dataDir = resolve(options.dataDir);
  const print = options.print;
  const aborted = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!aborted.signal.aborted) print(`${signal}: stopping everything consent-hub dev started...`);
    aborted.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const sandboxVendors = sandboxLaunchers.filter((launcher) => !process.env[launcher.realVendorVariable]);
  const apiPort = options.sandboxPortBase + devPortOffsets.api;
  const workerMetricsPort = options.sandboxPortBase + devPortOffsets.workerMetrics;
  const apiMetricsPort = options.sandboxPortBase + devPortOffsets.apiMetrics;
  const codecPort = options.sandboxPortBase + devPortOffsets.codec;
  const codecEndpoint = `http://127.0.0.1:${codecPort}`;
  const ports = devPorts(options, sandboxVendors);

  const stops: (() => Promise<void>)[] = [];
  let ownsDataDir = false;
  let releaseDataDir: (() => void) | undefined;
  let liveDevJson: LiveDevJson | undefined;
  const stopAll = async () => {
    for (const stop of stops.reverse())
      await stop().catch((error) => logger.warn({ err: error }, 'stop failed'));
  };

  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Before anything in the data dir is touched: a dev already running on it (whatever its ports) keeps it,
    // its dev.json included. A lock left by a dev that was killed is taken over.
    releaseDataDir = (
      await lockDataDir(dataDir, {
        temporal: options.temporalPort,
        ui: options.uiPort,
        sandboxPortBase: options.sandboxPortBase,
        api: apiPort,
      })
    ).release;
    await assertPortsFree(ports);
    // A dev.json left by a session that was killed would tell scripts that a setup is ready; it is not yet.
    removeDevJson(dataDir);
    ownsDataDir = true;
    const secrets = ensureDevSecrets(dataDir);
    const tls = ensureLocalTls(dataDir);
    const cli = await provideTemporalCli({ onStep: print });

    // The UI decodes payloads through the codec server; it sends no header, so the dev key is in the path.
    const devCredentials = ensureDevApiCredentials(dataDir);
    print(`Starting the Temporal dev server on 127.0.0.1:${options.temporalPort}...`);
    const server: RunningDevServer = await startTemporalDevServer({
      cli: cli.path,
      dbFile: join(dataDir, 'temporal.sqlite'),
      port: options.temporalPort,
      uiPort: options.uiPort,
      namespace: options.namespace,
      print,
      signal: aborted.signal,
      uiCodecEndpoint: `${codecEndpoint}/ui/${devCredentials.key}`,
    });
    stops.push(server.stop);

    const sandboxes: LaunchedSandbox[] = [];
    const realVendors = sandboxLaunchers
      .filter((launcher) => !sandboxVendors.includes(launcher))
      .map((launcher) => launcher.vendor);
    for (const [index, launcher] of sandboxLaunchers.entries()) {
      if (!sandboxVendors.includes(launcher)) continue;
      const sandbox = await launcher.launch(dataDir, tls, options.sandboxPortBase + index, {
        reseed: options.reseed,
      });
      stops.push(sandbox.close);
      sandboxes.push(sandbox);
    }

    const apiSettings = devApiSettings(devCredentials, apiPort);
    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: options.namespace,
      CONSENT_HUB_TASK_QUEUE: options.taskQueue,
      CONSENT_HUB_DATA_DIR: dataDir,
      CONSENT_HUB_SUBJECT_KEY_SECRET: secrets.subjectKeySecret,
      CONSENT_HUB_ENCRYPTION_KEYS: secrets.encryptionKeys,
      NODE_EXTRA_CA_CERTS: tls.caFile,
      ...apiSettings.env,
      CONSENT_HUB_CODEC_PORT: String(codecPort),
      CONSENT_HUB_CODEC_CORS_ORIGINS: `${server.ui},http://127.0.0.1:${options.uiPort}`,
      ...Object.assign({}, ...sandboxes.map((s) => s.env)),
    };
    const childEnv = (metricsPort: number) => ({
      ...process.env,
      ...env,
      CONSENT_HUB_METRICS_PORT: String(metricsPort),
      CONSENT_HUB_METRICS_HOST: '127.0.0.1',
      LOG_FORMAT: process.env.LOG_FORMAT ?? 'pretty',
    });
    const metrics = {
      worker: `http://127.0.0.1:${workerMetricsPort}`,
      api: `http://127.0.0.1:${apiMetricsPort}`,
    };

    const workerEnv = childEnv(workerMetricsPort);
    const worker = new SupervisedProcess(
      'worker',
      [cliBinPath, 'worker'],
      // The worker's heap flags and malloc arenas (workers/worker-node-options.ts), after any the shell gave.
      { ...workerEnv, ...workerProcessEnv(process.env) },
      print,
    );
    const api = new SupervisedProcess('intake API', [cliBinPath, 'serve'], childEnv(apiMetricsPort), print);
    const codecServer = new SupervisedProcess(
      'codec server',
      [cliBinPath, 'codec-server'],
      childEnv(apiMetricsPort),
      print,
    );
    stops.push(() => worker.stop());
    stops.push(() => api.stop());
    stops.push(() => codecServer.stop());
    worker.start();
    api.start();
    codecServer.start();
    // Until they answer: bundling the workflows alone takes seconds, and much longer on a loaded machine.
    print('Waiting for the worker and the intake API to answer...');
    await Promise.all([
      waitUntil({
        what: `the worker (${metrics.worker}/readyz)`,
        probe: () => answers200(`${metrics.worker}/readyz`),
        print,
        signal: aborted.signal,
      }),
      waitUntil({
        what: `the intake API (${apiSettings.devJson.url}/readyz)`,
        probe: () => answers200(`${apiSettings.devJson.url}/readyz`),
        print,
        signal: aborted.signal,
      }),
    ]);

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

    liveDevJson = new LiveDevJson(dataDir, {
      temporal: {
        address: server.address,
        namespace: options.namespace,
        taskQueue: options.taskQueue,
        ui: server.ui,
        cli: cli.path,
        codecEndpoint,
        codecAuth: `Bearer ${devCredentials.key}`,
      },
      caFile: tls.caFile,
      env,
      sandboxes: Object.fromEntries(sandboxes.map((s) => [s.vendor, s.url])),
      api: apiSettings.devJson,
      console: { url: `${apiSettings.devJson.url}/console/` },
      metrics,
    });
    // From now on dev.json says not ready while the worker or the API is down (restarting), not "ready".
    liveDevJson.track('worker', worker, `${metrics.worker}/readyz`);
    liveDevJson.track('api', api, `${apiSettings.devJson.url}/readyz`);
    // dev does not restart Temporal (its database could be what failed): it says so, and dev.json says so.
    liveDevJson.trackLoss('temporal', server.process, (how) =>
      print(
        `The Temporal dev server on ${server.address} ${how}: the worker and the API cannot work without it (dev.json says ready false). Stop consent-hub dev (Ctrl-C) and start it again; the workflows are kept in ${join(dataDir, 'temporal.sqlite')}.`,
      ),
    );
    const devJsonFile = liveDevJson.write();
    const unregister = registerRunningDev(dataDir);
    stops.push(async () => unregister());

    printBanner({
      options,
      dataDir,
      server,
      sandboxes,
      realVendors,
      apiUrl: apiSettings.devJson.url,
      metrics,
      devJsonFile,
      caFile: tls.caFile,
      cron: config.CONSENT_HUB_RECONCILE_CRON,
      print,
    });
    print(
      `  Codec server  ${codecEndpoint}  (the UI decodes through it; temporal workflow show --codec-endpoint ${codecEndpoint} --codec-auth "$(jq -r .temporal.codecAuth ${devJsonFile})")`,
    );

    await new Promise<void>((resolveStop) =>
      aborted.signal.addEventListener('abort', () => resolveStop(), { once: true }),
    );
  } catch (error) {
    if (!aborted.signal.aborted) throw error;
  } finally {
    // First, so no script reads a dev.json that points at parts being stopped.
    liveDevJson?.close();
    if (ownsDataDir) removeDevJson(dataDir);
    await stopAll();
    releaseDataDir?.();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (ownsDataDir) print('consent-hub dev stopped.');
  }
}

function printBanner(facts: {
  options: DevOptions;
  dataDir: string;
  server: RunningDevServer;
  sandboxes: LaunchedSandbox[];
  realVendors: string[];
  apiUrl: string;
  metrics: { worker: string; api: string };
  devJsonFile: string;
  caFile: string;
  cron: string;
  print: (line: string) => void;
}): void {
  const { options, print } = facts;
  // The hints name the data dir only when `consent-hub env` would not find it by itself from here.
  const defaultDir = resolve('.consent-hub');
  const dataDirFlag = facts.dataDir === defaultDir ? '' : ` --data-dir ${shellWord(facts.dataDir)}`;
  print('');
  print('consent-hub dev is running');
  print(
    `  Temporal      ${facts.server.address}  (namespace ${options.namespace}, task queue ${options.taskQueue})`,
  );
  print(`  Temporal UI   ${facts.server.ui}`);
  for (const sandbox of facts.sandboxes) {
    print(
      `  ${`${sandbox.vendor} sandbox`.padEnd(18)}${sandbox.url}  (controls: ${sandbox.url}/__sandbox/state${sandbox.seeded ? '; seeded with the demo people' : '; records from the last session'})`,
    );
  }
  for (const vendor of facts.realVendors)
    print(`  ${vendor.padEnd(18)}real service (credentials from the environment)`);
  print(`  Reconciliation schedule  ${facts.cron} (UTC); run now: npx consent-hub reconcile --wait`);
  print(`  Intake API    ${facts.apiUrl}  (key in dev.json; docs ${facts.apiUrl}/openapi.json)`);
  print(`  Console       ${facts.apiUrl}/console/  (sign in with the API key in dev.json)`);
  print(
    `  Metrics       worker ${facts.metrics.worker}/metrics, API ${facts.metrics.api}/metrics (and /healthz, /readyz)`,
  );
  print(
    `  Data dir      ${facts.dataDir}  (sandbox records kept; start over with: npx consent-hub dev --reseed${dataDirFlag})`,
  );
  print(`  dev.json      ${facts.devJsonFile}`);
  print(`  CA            ${facts.caFile}`);
  print('');
  print(`In another terminal:  eval "$(npx consent-hub env${dataDirFlag})"   then   npx consent-hub --help`);
  print('Ctrl-C (or SIGTERM to this process) stops everything.');
}

/** The path as one shell word, quoted only when it needs to be. */
function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
