/**
 * Issue 15's big case: one address (a role address, `info@…`) held by 25,000 Dynamics leads, erased end to
 * end. Prints figures; asserts nothing. Started by `npm run bench -- big-erasure [--rows N]`
 * (bench/run-bench.ts), which makes the local CA first so that this process trusts the sandboxes.
 *
 * It starts what it measures: a Temporal dev server on free ports, the three sandboxes in this process, and
 * one `consent-hub worker` process as production runs it (default delete page: 500 records per activity).
 * Figures: time from request to receipt, vendor calls by kind, the history's events, bytes and largest
 * payload (the README's promise: the history does not grow with the records), the receipt's size, the rows
 * in the ledger, and the worker's peak RSS.
 *
 * Dataverse's service protection (6,000 requests per 5 minutes per user) would make 25,000 deletions plus
 * their audit-history deletions take about 42 minutes of waiting on Retry-After; that measures the vendor,
 * not the hub. It is lifted by default (the figure for it is printed); `--vendor-limits` keeps it. So are
 * Google's pace and daily quota (set GA_REQUESTS_PER_SECOND=100 with `--ga-ids` so the hub sends at that pace).
 *
 * Flags: --rows N (default 25000) · --latency MS (default 0) · --vendor-limits · --ga-ids · --json
 *
 * With `--ga-ids` every lead holds its own GA client id (`new_gaclientid`), so the harvest yields one id
 * per row and Google gets a user deletion for each: how the history grows with harvested GA ids.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import proto from '@temporalio/proto';
import { loadHubConfig } from '../cli/load-config.js';
import { startTemporalDevServer } from '../dev/temporal-dev-server.js';
import { clientContextFor } from '../hub-client/client-context.js';
import { awaitReceipt, requestErasure } from '../hub-client/erasures.js';
import { openLedger } from '../ledger/open-ledger.js';
import { createLogger } from '../logging/logger.js';
import { formatEncryptionKeys } from '../privacy/encryption-keys.js';
import { dynamicsSandboxKit } from '../sandboxes/dynamics/kit.js';
import { ensureLocalTls } from '../sandboxes/framework/local-ca.js';
import { SandboxClient } from '../sandboxes/framework/sandbox-client.js';
import { startSandbox } from '../sandboxes/framework/sandbox-server.js';
import { googleSandboxKit } from '../sandboxes/google/kit.js';
import { mailchimpSandboxKit } from '../sandboxes/mailchimp/kit.js';
import { connectClient } from '../temporal/connection.js';
import { provideTemporalCli } from '../temporal/temporal-cli.js';
import { ensureCompiledBuild } from './compiled-build.js';
import { freePort } from './free-port.js';
import { processStats } from './process-stats.js';
import { startBenchWorker } from './worker-process.js';
import { bundleWorkflowsOnce } from './workflow-bundle.js';

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    rows: { type: 'string', default: '25000' },
    latency: { type: 'string', default: '0' },
    'vendor-limits': { type: 'boolean', default: false },
    'ga-ids': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const rows = Number(flags.rows);
const latencyMs = Number(flags.latency);
const vendorLimits = flags['vendor-limits'] ?? false;
const withGaIds = flags['ga-ids'] ?? false;
const { History } = proto.temporal.api.history.v1;
const { EventType } = proto.temporal.api.enums.v1;
const note = (line: string) => process.stderr.write(`${line}\n`);

const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-bench-big-erasure-'));
const tls = ensureLocalTls(process.env.CONSENT_HUB_BENCH_TLS_DIR ?? dataDir);
const stops: (() => Promise<void>)[] = [];
const logger = createLogger({ level: 'warn', format: 'json' });

try {
  note(
    `big-CRM erasure: one address on ${rows} Dynamics leads${withGaIds ? ', each with its own GA client id' : ''}, ${latencyMs} ms vendor latency`,
  );
  note(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (2 cores: a busy machine is slower)`,
  );
  const cli = await provideTemporalCli({ onStep: note });
  const server = await startTemporalDevServer({
    cli: cli.path,
    dbFile: join(dataDir, 'temporal.sqlite'),
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
    print: note,
  });
  stops.push(server.stop);

  const launch = async (
    kit: typeof dynamicsSandboxKit | typeof mailchimpSandboxKit | typeof googleSandboxKit,
    extra: Record<string, unknown> = {},
  ) => {
    const credentials = kit.devCredentials(dataDir);
    const sandbox = await startSandbox(kit.definition as never, {
      tls,
      options: { ...credentials.options, ...extra },
      maxLogEntries: 1_000_000,
    });
    stops.push(sandbox.close);
    return {
      env: credentials.env(sandbox.url) as Record<string, string>,
      control: new SandboxClient(sandbox.url),
    };
  };
  const dynamics = await launch(dynamicsSandboxKit, vendorLimits ? {} : { requestsPerWindow: 10_000_000 });
  const mailchimp = await launch(mailchimpSandboxKit);
  // Google's documented pace (1.5 deletions a second per property) and daily quota (500) would make
  // `--ga-ids` measure the vendor's waiting, or stop at the quota until midnight Pacific; lifted likewise.
  const google = await launch(
    googleSandboxKit,
    vendorLimits
      ? {}
      : { requestsPerSecond: 100, dailyQuotaPerProperty: 10_000_000, dailyQuotaPerProject: 10_000_000 },
  );

  const email = 'info@big-crm.example.com';
  // The control API takes seeds in slices (a request body has a size limit, as any HTTP server's).
  for (let from = 0; from < rows; from += 2000) {
    const slice = Array.from({ length: Math.min(2000, rows - from) }, (_, i) => ({
      lastname: `Lead ${from + i}`,
      emailaddress1: email,
      ...(withGaIds ? { new_gaclientid: `${1_000_000_000 + from + i}.1600000000` } : {}),
    }));
    await dynamics.control.seed({ leads: slice });
  }
  await Promise.all([dynamics, mailchimp, google].map((v) => v.control.clearRequests()));
  await Promise.all([dynamics, mailchimp, google].map((v) => v.control.setLatency(latencyMs)));

  const env: Record<string, string> = {
    ...dynamics.env,
    ...mailchimp.env,
    ...google.env,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: 'default',
    CONSENT_HUB_TASK_QUEUE: 'consent-hub',
    CONSENT_HUB_DATA_DIR: dataDir,
    CONSENT_HUB_SUBJECT_KEY_SECRET: randomBytes(32).toString('hex'),
    CONSENT_HUB_ENCRYPTION_KEYS: formatEncryptionKeys([{ id: 'bench', key: randomBytes(32) }]),
    NODE_EXTRA_CA_CERTS: tls.caFile,
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'warn',
    CONSENT_HUB_METRICS_PORT: '0',
  };
  ensureCompiledBuild(note);
  note('bundling the workflows once for the worker (takes seconds)...');
  env.CONSENT_HUB_WORKFLOW_BUNDLE = await bundleWorkflowsOnce(dataDir);
  note('starting the worker process...');
  const worker = await startBenchWorker(env);
  stops.push(worker.stop);
  const ledger = await openLedger({ dataDir }, logger);
  stops.push(() => ledger.close());
  const config = loadHubConfig(env);
  const client = await connectClient(config, env, ledger);
  stops.push(() => client.connection.close());
  const context = clientContextFor(client, config);

  let peakWorkerRss = 0;
  const sampler = setInterval(() => {
    peakWorkerRss = Math.max(peakWorkerRss, processStats(worker.pid)?.peakRssMb ?? 0);
  }, 500);
  stops.push(async () => clearInterval(sampler));
  const cpuBefore = processStats(worker.pid)?.cpuSeconds ?? 0;

  const started = performance.now();
  const request = await requestErasure(context, {
    email,
    requestedBy: 'bench-big-crm',
    requestedAt: new Date().toISOString(),
  });
  const progress = setInterval(async () => {
    const done = await ledger
      .countErasureRecords(request.requestId, 'dynamics')
      .catch(() => ({}) as Record<string, number>);
    note(`  ${Math.round((performance.now() - started) / 1000)} s: dynamics ${JSON.stringify(done)}`);
  }, 10_000);
  const receipt = await awaitReceipt(context, request).finally(() => clearInterval(progress));
  const seconds = (performance.now() - started) / 1000;
  const worst = processStats(worker.pid);
  peakWorkerRss = Math.max(peakWorkerRss, worst?.peakRssMb ?? 0);

  const calls = await dynamics.control.requests();
  const byKind = new Map<string, number>();
  for (const entry of calls) {
    const kind = `${entry.method} ${entry.path.replace(/\(.*\)/, '(id)').replace(/^\/api\/data\/v9\.2/, '')}`;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  const history = await client.workflow.getHandle(request.workflowId).fetchHistory();
  const events = history.events ?? [];
  const historyBytes = History.encode(History.fromObject(history)).finish().length;
  let largest = { bytes: 0, eventType: '' };
  const visit = (value: unknown, eventType: string): void => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
    const candidate = value as { metadata?: unknown; data?: unknown };
    if (candidate.metadata && candidate.data instanceof Uint8Array) {
      if (candidate.data.length > largest.bytes) largest = { bytes: candidate.data.length, eventType };
      return;
    }
    for (const inner of Object.values(value)) visit(inner, eventType);
  };
  for (const event of events) visit(event, EventType[Number(event.eventType)] ?? '');
  const activities = events.filter(
    (e) => Number(e.eventType) === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
  ).length;
  const stored = await ledger.countErasureRecords(request.requestId, 'dynamics');

  const figures = {
    rows,
    latencyMs,
    vendorLimits,
    seconds: Number(seconds.toFixed(1)),
    rowsPerSecond: Number((rows / seconds).toFixed(1)),
    outcome: receipt.outcome,
    dynamics: {
      status: receipt.systems.dynamics.status,
      recordCount: receipt.systems.dynamics.recordCount,
      inlineRecords: receipt.systems.dynamics.records.length,
      recordsTruncated: receipt.systems.dynamics.recordsTruncated,
    },
    vendorCalls: { dynamics: calls.length, byKind: Object.fromEntries(byKind) },
    history: { events: events.length, activities, bytes: historyBytes, largestPayload: largest },
    receiptBytes: JSON.stringify(receipt).length,
    ledgerRecords: stored,
    worker: {
      peakRssMb: Number(peakWorkerRss.toFixed(0)),
      cpuSeconds: Number(((worst?.cpuSeconds ?? 0) - cpuBefore).toFixed(1)),
    },
    // What Dataverse's service protection alone would cost: every call at 6,000 per 5 minutes.
    dataverseBoundMinutes: Number(((calls.length / 6000) * 5).toFixed(1)),
  };
  if (flags.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
  else {
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(
      `big-CRM erasure: ${rows} leads on one address, ${latencyMs} ms latency, service protection ${vendorLimits ? 'on' : 'lifted'}`,
    );
    out(
      `  request to receipt      ${figures.seconds} s (${figures.rowsPerSecond} rows/s), outcome ${receipt.outcome}`,
    );
    out(
      `  receipt                 dynamics ${figures.dynamics.status}, recordCount ${figures.dynamics.recordCount}, ${figures.dynamics.inlineRecords} inline, truncated ${figures.dynamics.recordsTruncated}, ${figures.receiptBytes} bytes`,
    );
    out(
      `  google                  ${receipt.systems.google.status}, recordCount ${receipt.systems.google.recordCount ?? 0}${withGaIds ? ' (one GA id per lead)' : ''}`,
    );
    out(`  ledger                  ${JSON.stringify(stored)}`);
    out(`  Dataverse calls         ${calls.length}: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    out(
      `  history                 ${events.length} events, ${activities} activities, ${historyBytes} bytes, largest payload ${largest.bytes} bytes (${largest.eventType})`,
    );
    out(
      `  worker                  peak RSS ${figures.worker.peakRssMb} MB, ${figures.worker.cpuSeconds} CPU s`,
    );
    out(`  Dataverse's own bound   ${figures.dataverseBoundMinutes} min for these calls at 6,000 per 5 min`);
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
}
