/**
 * Issue 21's benchmark: an opt-out wave through the hub at the vendors' limits, side by side with the
 * vendors' lower bound and a plain script; then erasures against Google's pace. Prints figures (or one JSON
 * object with --json); asserts nothing. Started by `npm run bench -- wave ...` (bench/run-bench.ts), which
 * makes the local CA first so that this process trusts the sandboxes (NODE_EXTRA_CA_CERTS).
 *
 * It starts everything it measures, apart from any running `npm start`: a Temporal dev server on free
 * ports with a throwaway SQLite file (or the Temporal server on a throwaway PostgreSQL, or none: a running
 * server's address), the three sandboxes in this process with their documented limits
 * (Dataverse 52 at once and 6,000 per 5 minutes, Mailchimp 10 connections, GA 1.5/s per property) and
 * the added latency, and `consent-hub worker` processes exactly as production runs them.
 *
 * Flags: --people N (default 2000) · --latency MS (default 100) · --workers N (default 1) ·
 *        --erasures N (default 100; 0 skips) · --single-runs N (default 3; 0 skips) · --json ·
 *        --temporal dev|postgres [--history-shards N] · --temporal-address host:port (bench/bench-temporal.ts) ·
 *        --path bulk|person|both (default both: the bulk path's figures are the main ones, the per-person
 *        path's follow under `personPath`) ·
 *        --slowest N (default 2; 0 skips): the per-person path's N people consistent last, each with their
 *        workflow history as a timeline and its gaps over 5 s (bench/history-summary.ts), to stderr and in
 *        --json's `slowest`
 * The dev server's SQLite pragmas come from CONSENT_HUB_TEMPORAL_SQLITE_PRAGMAS (dev/temporal-sqlite-pragmas.ts).
 * The worker's sizing and the idle period come from the shell when set there (CONSENT_HUB_SUBJECT_IDLE_AFTER,
 * CONSENT_HUB_MAX_CACHED_WORKFLOWS, CONSENT_HUB_MAX_WORKFLOW_TASKS, CONSENT_HUB_MAX_LEDGER_ACTIVITIES).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { temporal } from '@temporalio/proto';
import proto from '@temporalio/proto';

import pLimit from 'p-limit';
import { loadHubConfig } from '../cli/load-config.js';
import {
  type ConsentBatchResult,
  consentBatchLimit,
  consentBatchWorkflowId,
} from '../domain/consent-batch.js';
import { clientContextFor } from '../hub-client/client-context.js';
import { recordConsentChange } from '../hub-client/consent.js';
import { recordConsentBatch } from '../hub-client/consent-batch.js';
import { awaitReceipt, requestErasure } from '../hub-client/erasures.js';
import { openLedger } from '../ledger/open-ledger.js';
import { createLogger } from '../logging/logger.js';
import { formatEncryptionKeys } from '../privacy/encryption-keys.js';
import { dynamicsSandboxKit } from '../sandboxes/dynamics/kit.js';
import type { DynamicsStore } from '../sandboxes/dynamics/store.js';
import { ensureLocalTls } from '../sandboxes/framework/local-ca.js';
import { SandboxClient } from '../sandboxes/framework/sandbox-client.js';
import type { RequestLogEntry } from '../sandboxes/framework/sandbox-controls.js';
import { startSandbox } from '../sandboxes/framework/sandbox-server.js';
import { googleSandboxKit } from '../sandboxes/google/kit.js';
import { demoAudienceIds, mailchimpSandboxKit } from '../sandboxes/mailchimp/kit.js';
import type { MailchimpSandboxStore } from '../sandboxes/mailchimp/store.js';
import { connectClient } from '../temporal/connection.js';
import { benchTemporalChoice, startBenchTemporal } from './bench-temporal.js';
import { ensureCompiledBuild } from './compiled-build.js';
import { formatSummary, type HistorySummary, summariseHistory } from './history-summary.js';
import { runPlainScript } from './plain-script.js';
import { type ProcessStats, processStats, processTreeCpuSeconds, sumStats } from './process-stats.js';
import { dataverseLimits, googleDeletionLimits, mailchimpLimits, workloadBound } from './vendor-bound.js';
import { startBenchWorker } from './worker-process.js';
import { bundleWorkflowsOnce } from './workflow-bundle.js';

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    people: { type: 'string', default: '2000' },
    latency: { type: 'string', default: '100' },
    workers: { type: 'string', default: '1' },
    erasures: { type: 'string', default: '100' },
    'single-runs': { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    temporal: { type: 'string' },
    'temporal-address': { type: 'string' },
    'history-shards': { type: 'string' },
    path: { type: 'string', default: 'both' },
    slowest: { type: 'string', default: '2' },
  },
  allowPositionals: true,
});
const people = Number(flags.people);
const latencyMs = Number(flags.latency);
const workerCount = Number(flags.workers);
const erasureCount = Number(flags.erasures);
const singleRuns = Number(flags['single-runs']);
const slowestCount = Number(flags.slowest);
const json = flags.json ?? false;
const wavePath = flags.path ?? 'both';
if (!['person', 'bulk', 'both'].includes(wavePath)) {
  process.stderr.write(`--path: expected person, bulk or both, not ${JSON.stringify(wavePath)}\n`);
  process.exit(2);
}
const temporalChoice = benchTemporalChoice(flags);
const audiences = [demoAudienceIds.newsletter, demoAudienceIds.events];
const EventType = proto.temporal.api.enums.v1.EventType;
const sizingVariables = [
  'CONSENT_HUB_SUBJECT_IDLE_AFTER',
  'CONSENT_HUB_MAX_CACHED_WORKFLOWS',
  'CONSENT_HUB_MAX_WORKFLOW_TASKS',
  'CONSENT_HUB_MAX_LEDGER_ACTIVITIES',
] as const;

/** Progress and notes go to stderr, so that --json's stdout is the one object. */
const note = (line: string) => process.stderr.write(`${line}\n`);
const lastBar = new Map<string, { text: string; at: number }>();
function bar(label: string, done: number, total: number, started: number, extra = '') {
  const width = 30;
  const filled = total > 0 ? Math.round((done / total) * width) : width;
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const text = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${extra}`;
  const last = lastBar.get(label);
  const now = performance.now();
  // A terminal's bar is redrawn when it moves, else every 5 s; a log file (no TTY) gets a line at most every
  // 5 s (and the last one), timed from the last line written, so a bar that moves all the time still shows.
  if (process.stderr.isTTY) {
    if (last && last.text === text && now - last.at < 5000 && done < total) return;
    lastBar.set(label, { text, at: now });
    process.stderr.write(`\r${`${text} ${seconds} s`.padEnd(110)}`);
    if (done >= total) process.stderr.write('\n');
  } else if (!last || now - last.at >= 5000 || done >= total) {
    lastBar.set(label, { text, at: now });
    process.stderr.write(`${text} ${seconds} s\n`);
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-bench-wave-'));
const tls = ensureLocalTls(process.env.CONSENT_HUB_BENCH_TLS_DIR ?? dataDir);
const stops: (() => Promise<void>)[] = [];
const logger = createLogger({ level: 'warn', format: 'json' });

try {
  note(`opt-out wave: ${people} people, ${latencyMs} ms vendor latency, ${workerCount} worker process(es)`);
  note(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (2 cores: figures on a busy machine are slower than the hub is)`,
  );
  const workerBuild = ensureCompiledBuild(note);
  const server = await startBenchTemporal(temporalChoice, { dataDir, namespace: 'default', print: note });
  stops.push(server.stop);
  note(`Temporal: ${server.description} at ${server.address}`);

  // The sandboxes run here, with the vendors' documented limits (their defaults) and a log big enough to
  // count every call of the run.
  const launch = async <
    K extends typeof dynamicsSandboxKit | typeof mailchimpSandboxKit | typeof googleSandboxKit,
  >(
    kit: K,
  ) => {
    const credentials = kit.devCredentials(dataDir);
    const sandbox = await startSandbox(kit.definition as never, {
      tls,
      options: credentials.options,
      maxLogEntries: 1_000_000,
    });
    stops.push(sandbox.close);
    return {
      sandbox,
      env: credentials.env(sandbox.url) as Record<string, string>,
      control: new SandboxClient(sandbox.url),
    };
  };
  const dynamics = await launch(dynamicsSandboxKit);
  const mailchimp = await launch(mailchimpSandboxKit);
  const google = await launch(googleSandboxKit);
  const vendors = { dynamics, mailchimp, google };
  const dynamicsStore = dynamics.sandbox.store as DynamicsStore;
  const mailchimpStore = mailchimp.sandbox.store as MailchimpSandboxStore;

  const secrets = {
    subject: randomBytes(32).toString('hex'),
    keys: formatEncryptionKeys([{ id: 'bench', key: randomBytes(32) }]),
  };
  const env: Record<string, string> = {
    ...dynamics.env,
    ...mailchimp.env,
    ...google.env,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: server.namespace,
    CONSENT_HUB_TASK_QUEUE: 'consent-hub',
    CONSENT_HUB_DATA_DIR: dataDir,
    CONSENT_HUB_SUBJECT_KEY_SECRET: secrets.subject,
    CONSENT_HUB_ENCRYPTION_KEYS: secrets.keys,
    NODE_EXTRA_CA_CERTS: tls.caFile,
    LOG_FORMAT: 'json',
    LOG_LEVEL: process.env.BENCH_WORKER_LOG_LEVEL ?? 'warn',
    CONSENT_HUB_METRICS_PORT: '0',
    // The worker's sizing and the idle period may be tried from the shell (README "Worker sizing").
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        (entry): entry is [string, string] =>
          entry[1] !== undefined && sizingVariables.includes(entry[0] as (typeof sizingVariables)[number]),
      ),
    ),
  };

  const emails = Array.from({ length: people }, (_, i) => `wave.${i}@example.com`);
  const scriptEmails = Array.from({ length: people }, (_, i) => `script.${i}@example.com`);
  /**
   * Each phase gets its own people and a fresh request window, as separate runs would have. The sandboxes
   * are not reset (that would also revoke the worker's tokens); Dataverse's 5-minute window is cleared.
   */
  function freshWindow() {
    (dynamicsStore as unknown as { requestTimes: Map<string, number[]> }).requestTimes.clear();
  }
  async function seedWave(who: string[]) {
    await dynamics.control.seed({
      contacts: who.map((email, i) => ({ firstname: 'Wave', lastname: `Person${i}`, emailaddress1: email })),
    });
    await mailchimp.control.seed({
      lists: audiences.map((id) => ({
        id,
        name: `Audience ${id}`,
        members: who.map((email) => ({ email_address: email, status: 'subscribed' })),
      })),
    });
    freshWindow();
    await Promise.all(Object.values(vendors).map((v) => v.control.clearRequests()));
    await Promise.all(Object.values(vendors).map((v) => v.control.setLatency(latencyMs)));
  }

  /** People whose opt-out shows in each tool, read from the sandboxes' own stores. */
  function consistent(who = emails) {
    const wanted = new Set(who);
    let inDynamics = 0;
    for (const row of dynamicsStore.table('contacts').values()) {
      if (row.donotbulkemail === true && wanted.has(String(row.emailaddress1))) inDynamics += 1;
    }
    const unsubscribed = new Map<string, number>();
    for (const id of audiences) {
      for (const member of mailchimpStore.lists.get(id)?.members.values() ?? []) {
        if (member.status === 'unsubscribed' && wanted.has(member.email_address)) {
          unsubscribed.set(member.email_address, (unsubscribed.get(member.email_address) ?? 0) + 1);
        }
      }
    }
    const inMailchimp = [...unsubscribed.values()].filter((n) => n === audiences.length).length;
    return { dynamics: inDynamics, mailchimp: inMailchimp };
  }

  /** The people of `who` whose opt-out shows in Dynamics and in every audience. */
  function consistentPeople(who: string[]) {
    const wanted = new Set(who);
    const inDynamics = new Set<string>();
    for (const row of dynamicsStore.table('contacts').values()) {
      const email = String(row.emailaddress1);
      if (row.donotbulkemail === true && wanted.has(email)) inDynamics.add(email);
    }
    const unsubscribed = new Map<string, number>();
    for (const id of audiences) {
      for (const member of mailchimpStore.lists.get(id)?.members.values() ?? []) {
        if (member.status === 'unsubscribed' && inDynamics.has(member.email_address)) {
          unsubscribed.set(member.email_address, (unsubscribed.get(member.email_address) ?? 0) + 1);
        }
      }
    }
    return [...unsubscribed].filter(([, n]) => n === audiences.length).map(([email]) => email);
  }

  async function vendorLogs() {
    const entries = await Promise.all(
      (Object.keys(vendors) as (keyof typeof vendors)[]).map(
        async (name) => [name, await vendors[name].control.requests()] as const,
      ),
    );
    return Object.fromEntries(entries) as Record<keyof typeof vendors, RequestLogEntry[]>;
  }
  const throttledIn = (logs: Record<string, RequestLogEntry[]>) =>
    Object.values(logs)
      .flat()
      .filter((e) => e.status === 429).length;

  // ---- the hub ----
  note('bundling the workflows once for the workers (takes seconds)...');
  env.CONSENT_HUB_WORKFLOW_BUNDLE = await bundleWorkflowsOnce(dataDir);
  note(`starting ${workerCount} worker process(es)...`);
  const workers = await Promise.all(Array.from({ length: workerCount }, () => startBenchWorker(env)));
  stops.push(async () => {
    await Promise.all(workers.map((w) => w.stop()));
  });
  const ledger = await openLedger({ dataDir }, logger);
  stops.push(() => ledger.close());
  const config = loadHubConfig(env);
  const client = await connectClient(config, env, ledger);
  stops.push(() => client.connection.close());
  const context = clientContextFor(client, config);

  let peakWorkerRss = 0;
  const workerStats = () => sumStats(workers.map((w) => processStats(w.pid)));
  // The workers' memory before any work (ready, polling, a moment to settle): what each costs idle.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const idleWorkerRss = workerStats()?.rssMb;
  const sampler = setInterval(() => {
    peakWorkerRss = Math.max(peakWorkerRss, workerStats()?.rssMb ?? 0);
  }, 500);
  stops.push(async () => clearInterval(sampler));
  // The V8 heaps beside RSS, from each worker's /metrics: its workflow thread's (where every cached run
  // lives; observability/worker-thread-heap.ts) and its main thread's; the largest worker's, in MB.
  const heapPeaks = { workflowUsed: 0, workflowTotal: 0, mainUsed: 0, mainTotal: 0 };
  const readHeaps = async () => {
    const read = await Promise.all(workers.map((w) => workerHeaps(w.metricsUrl)));
    for (const heaps of read) {
      if (!heaps) continue;
      for (const key of Object.keys(heapPeaks) as (keyof typeof heapPeaks)[])
        heapPeaks[key] = Math.max(heapPeaks[key], heaps[key]);
    }
    return read[0];
  };
  const idleHeaps = await readHeaps();
  let heapSampling = false;
  const heapSampler = setInterval(() => {
    if (heapSampling) return;
    heapSampling = true;
    void readHeaps().finally(() => {
      heapSampling = false;
    });
  }, 2000);
  stops.push(async () => clearInterval(heapSampler));
  const serverStats = () => ({
    server: processStats(server.serverPid),
    database: processTreeCpuSeconds(server.databasePid),
  });

  /**
   * One opt-out wave through the hub, by the bulk path (batches of 1,000 through POST
   * /v1/consent-events/batch's hub-client function, one batch workflow each) or the per-person path (one
   * consent workflow per person): time to consistent in both tools, vendor calls, Temporal actions.
   */
  async function runWave(path: 'bulk' | 'person', who: string[]) {
    const label = path === 'bulk' ? 'bulk  ' : 'person';
    await seedWave(who);
    const before = { worker: workerStats(), ...serverStats() };
    const waveStarted = performance.now();
    const waveStartedAt = Date.now();
    const subjectKeyOf = new Map<string, string>();
    const personDoneAt = new Map<string, number>();
    const occurredAt = new Date().toISOString();
    const subjectKeys: string[] = [];
    const batchIds: string[] = [];
    let accepted = 0;
    const change = (email: string) => ({
      email,
      purpose: 'marketing_email' as const,
      decision: 'withdrawn' as const,
      occurredAt,
      source: 'bench-wave',
      evidence: {},
    });
    const acceptedAll =
      path === 'bulk'
        ? Promise.all(
            Array.from({ length: Math.ceil(who.length / consentBatchLimit) }, async (_, n) => {
              const part = who.slice(n * consentBatchLimit, (n + 1) * consentBatchLimit);
              const batch = await recordConsentBatch(
                context,
                part.map((email, index) => ({ index, change: change(email) })),
              );
              batchIds.push(batch.batchId);
              accepted += batch.accepted.length;
            }),
          )
        : Promise.all(
            who.map((email) =>
              starts(async () => {
                const result = await recordConsentChange(context, change(email));
                subjectKeys.push(result.subjectKey);
                subjectKeyOf.set(email, result.subjectKey);
                accepted += 1;
              }),
            ),
          );
    const reached: Record<'dynamics' | 'mailchimp', number | undefined> = {
      dynamics: undefined,
      mailchimp: undefined,
    };
    // When half, 90 % and 99 % of the people were consistent in both tools: one slow person (a retry's
    // back-off) sets the wave's end, these show the pace of the rest.
    const shareReached = new Map<number, number>();
    const deadline = waveStarted + Math.max(600_000, who.length * 1000);
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const now = consistent(who);
      const elapsed = (performance.now() - waveStarted) / 1000;
      for (const tool of ['dynamics', 'mailchimp'] as const) {
        if (reached[tool] === undefined && now[tool] >= who.length) reached[tool] = elapsed;
      }
      const done = Math.min(now.dynamics, now.mailchimp);
      if (path === 'person' && slowestCount > 0 && personDoneAt.size < who.length) {
        for (const email of consistentPeople(who)) {
          if (!personDoneAt.has(email)) personDoneAt.set(email, elapsed);
        }
      }
      for (const share of shares) {
        if (!shareReached.has(share) && done >= Math.ceil(who.length * share))
          shareReached.set(share, elapsed);
      }
      bar(
        label,
        done,
        who.length,
        waveStarted,
        `accepted ${accepted} · dynamics ${now.dynamics} · mailchimp ${now.mailchimp}`,
      );
      if (done >= who.length || performance.now() > deadline) break;
    }
    await acceptedAll;
    const waveSeconds = (performance.now() - waveStarted) / 1000;
    const after = { worker: workerStats(), ...serverStats() };
    // VmHWM never falls: read after each wave, it is the peak of this wave and all before it.
    peakWorkerRss = Math.max(peakWorkerRss, after.worker?.peakRssMb ?? 0);
    const peakRssSoFar = peakWorkerRss;
    await readHeaps();
    const peakHeapsSoFar = { ...heapPeaks };
    const logs = await vendorLogs();
    const finished = reached.dynamics !== undefined && reached.mailchimp !== undefined;

    // Temporal actions per change: per person, a sample of their workflows' histories; for the bulk path,
    // every batch workflow's history divided by the people it carried, plus anyone it handed over.
    let perChange: ReturnType<typeof averageCounts>;
    let handedOver = 0;
    if (path === 'bulk') {
      const histories = await Promise.all(
        batchIds.map(async (batchId) => {
          const handle = client.workflow.getHandle(consentBatchWorkflowId(batchId));
          const result = (await handle.result()) as ConsentBatchResult;
          handedOver += result.results.filter((r) => r.route !== 'bulk' || r.handedOff).length;
          return countHistory((await handle.fetchHistory()).events ?? []);
        }),
      );
      const total = histories.reduce(
        (sum, h) => ({
          events: sum.events + h.events,
          workflowTasks: sum.workflowTasks + h.workflowTasks,
          activities: sum.activities + h.activities,
          actions: sum.actions + h.actions,
        }),
        { events: 0, workflowTasks: 0, activities: 0, actions: 0 },
      );
      perChange = {
        events: total.events / who.length,
        workflowTasks: total.workflowTasks / who.length,
        activities: total.activities / who.length,
        actions: total.actions / who.length,
      };
    } else {
      const sample = subjectKeys.slice(0, Math.min(20, subjectKeys.length));
      perChange = averageCounts(
        await Promise.all(
          sample.map(async (subjectKey) => {
            const history = await client.workflow.getHandle(`consent-${subjectKey}`).fetchHistory();
            return countHistory(history.events ?? []);
          }),
        ),
      );
    }
    return {
      path,
      waveSeconds,
      reached,
      shareReached,
      logs,
      finished,
      before,
      after,
      perChange,
      sampled: path === 'bulk' ? batchIds.length : Math.min(20, subjectKeys.length),
      handedOver,
      peakRssSoFar,
      peakHeapsSoFar,
      slowest: path === 'person' ? await slowestPeople(who, subjectKeyOf, personDoneAt, waveStartedAt) : [],
    };
  }

  /** The people consistent last (never consistent first), each with their history's timeline. */
  async function slowestPeople(
    who: string[],
    subjectKeyOf: Map<string, string>,
    doneAt: Map<string, number>,
    waveStartedAt: number,
  ): Promise<
    ({ rank: number; consistentSeconds?: number; workflowId?: string } & Partial<HistorySummary>)[]
  > {
    const at = (email: string) => doneAt.get(email) ?? Number.POSITIVE_INFINITY;
    const last = [...who].sort((a, b) => at(b) - at(a)).slice(0, Math.max(0, slowestCount));
    return Promise.all(
      last.map(async (email, index) => {
        const rank = index + 1;
        const subjectKey = subjectKeyOf.get(email);
        const consistentSeconds = round(doneAt.get(email));
        if (!subjectKey) return { rank, consistentSeconds };
        const workflowId = `consent-${subjectKey}`;
        const history = await client.workflow.getHandle(workflowId).fetchHistory();
        const summary = summariseHistory(history.events ?? [], waveStartedAt);
        for (const line of formatSummary(
          `slowest #${rank}: ${workflowId}, consistent after ${consistentSeconds ?? 'never'} s`,
          summary,
        ))
          note(line);
        return { rank, consistentSeconds, workflowId, ...summary };
      }),
    );
  }

  const shares = [0.5, 0.9, 0.99] as const;
  const starts = pLimit(64);
  const personEmails = Array.from({ length: people }, (_, i) => `person.${i}@example.com`);
  const mainWave = await runWave(wavePath === 'person' ? 'person' : 'bulk', emails);
  const personWave = wavePath === 'both' ? await runWave('person', personEmails) : undefined;
  const { waveSeconds, reached, shareReached, finished, before, after } = mainWave;
  const hubLogs = mainWave.logs;
  const perChange = mainWave.perChange;
  const counted = { length: mainWave.sampled };

  // ---- the plain script, same sandboxes and limits ----
  await seedWave(scriptEmails);
  const scriptStarted = performance.now();
  const script = await runPlainScript(
    {
      dynamics: {
        url: env.DYNAMICS_URL ?? '',
        tenantId: env.DYNAMICS_TENANT_ID ?? '',
        clientId: env.DYNAMICS_CLIENT_ID ?? '',
        clientSecret: env.DYNAMICS_CLIENT_SECRET ?? '',
      },
      mailchimp: {
        apiUrl: env.MAILCHIMP_API_URL ?? '',
        apiKey: env.MAILCHIMP_API_KEY ?? '',
        audienceIds: audiences,
      },
    },
    scriptEmails,
    (done) => {
      if (done % Math.max(1, Math.floor(people / 50)) === 0 || done === people)
        bar('script', done, people, scriptStarted);
    },
  );
  const scriptCheck = consistent(scriptEmails);
  if (scriptCheck.dynamics < people || scriptCheck.mailchimp < people) {
    note(
      `the plain script left ${people - Math.min(scriptCheck.dynamics, scriptCheck.mailchimp)} people behind`,
    );
  }

  // ---- the vendors' bound for the minimal calls ----
  // Minimal per person: Dataverse one query per table (contacts, leads: the Web API has no query across
  // tables) and one PATCH of the one contact; Mailchimp one PATCH per audience (no GET first: a 404 says
  // "not a member"). The token and reading the audience list once are negligible.
  const minimal = { dynamics: 3, mailchimp: audiences.length };
  const bound = workloadBound(
    [
      { vendor: 'dynamics', calls: people * minimal.dynamics, ...dataverseLimits },
      { vendor: 'mailchimp', calls: people * minimal.mailchimp, ...mailchimpLimits },
    ],
    latencyMs,
  );
  // HTTP calls the hub made; a `$batch`'s inner requests are counted apart (Dataverse's limits count them).
  const callsOf = (logs: typeof hubLogs) => ({
    dynamics: logs.dynamics.filter((e) => !e.inner).length,
    dynamicsInner: logs.dynamics.filter((e) => e.inner).length,
    mailchimp: logs.mailchimp.length,
    google: logs.google.length,
  });
  const hubCalls = callsOf(hubLogs);
  const cpu = (a?: ProcessStats, b?: ProcessStats) =>
    a && b ? Math.max(0, b.cpuSeconds - a.cpuSeconds) : undefined;

  // ---- erasures against GA's pace, then single-erasure latency ----
  const erasures = erasureCount > 0 ? await runErasures() : undefined;
  const single = singleRuns > 0 ? await singleErasureLatency() : undefined;
  peakWorkerRss = Math.max(peakWorkerRss, workerStats()?.peakRssMb ?? 0);
  await readHeaps();
  const mb = (bytes: number | undefined) => (bytes === undefined ? undefined : round(bytes / 2 ** 20));

  const result = {
    people,
    latencyMs,
    workers: workerCount,
    finished,
    waveSeconds: round(waveSeconds),
    consistentSeconds: { dynamics: round(reached.dynamics), mailchimp: round(reached.mailchimp) },
    consistentShareSeconds: Object.fromEntries(
      shares.map((share) => [`${share * 100}%`, round(shareReached.get(share))]),
    ),
    boundSeconds: round(bound.seconds),
    boundHow: bound.bounds.map((b) => `${b.vendor}: ${b.how}`),
    scriptSeconds: round(script.seconds),
    ratioToBound: round(waveSeconds / bound.seconds),
    ratioToScript: round(waveSeconds / script.seconds),
    callsPerChange: {
      dynamics: round(hubCalls.dynamics / people),
      mailchimp: round(hubCalls.mailchimp / people),
      google: round(hubCalls.google / people),
      total: round((hubCalls.dynamics + hubCalls.mailchimp + hubCalls.google) / people),
      minimal: minimal.dynamics + minimal.mailchimp,
      script: round((script.calls.dynamics + script.calls.mailchimp) / people),
    },
    path: mainWave.path,
    /** People of the bulk wave that went to their own workflow (none expected in this wave). */
    handedOver: mainWave.handedOver,
    dynamicsBatchInnerPerChange: round(hubCalls.dynamicsInner / people),
    actionsPerChange: round(perChange.actions),
    historyPerChange: {
      events: round(perChange.events),
      workflowTasks: round(perChange.workflowTasks),
      activities: round(perChange.activities),
      sampled: counted.length,
    },
    throttled: throttledIn(hubLogs),
    scriptThrottled: script.throttled,
    workerCpuSeconds: round(cpu(before.worker, after.worker)),
    temporal: server.description,
    serverCpuSeconds: round(cpu(before.server, after.server)),
    databaseCpuSeconds:
      before.database !== undefined && after.database !== undefined
        ? round(after.database - before.database)
        : undefined,
    peakWorkerRssMb: round(peakWorkerRss),
    /** The first wave's peak alone (the per-person wave and erasures run later in the same worker). */
    peakWorkerRssMbFirstWave: round(mainWave.peakRssSoFar),
    idleWorkerRssMb: round(idleWorkerRss),
    /** What the workers ran: the compiled build (as production), or their sources through tsx when asked. */
    workerBuild,
    /**
     * V8 heaps of the (largest) worker, in MB, sampled every 2 s: the workflow thread's (the SDK's, where
     * the cached runs live) and the main thread's, used and committed (total); idle, first wave, whole run.
     */
    workerHeapMb: {
      workflowThread: {
        idleUsed: mb(idleHeaps?.workflowUsed),
        peakUsedFirstWave: mb(mainWave.peakHeapsSoFar.workflowUsed),
        peakUsed: mb(heapPeaks.workflowUsed),
        peakTotal: mb(heapPeaks.workflowTotal),
      },
      mainThread: {
        idleUsed: mb(idleHeaps?.mainUsed),
        peakUsedFirstWave: mb(mainWave.peakHeapsSoFar.mainUsed),
        peakUsed: mb(heapPeaks.mainUsed),
        peakTotal: mb(heapPeaks.mainTotal),
      },
    },
    erasures: erasures?.count ?? 0,
    erasureSeconds: round(erasures?.seconds),
    erasureBoundSeconds: round(erasures?.boundSeconds),
    erasureOutcomes: erasures?.outcomes,
    singleErasureP50Ms: single,
    loadAverage: loadavg().map((l) => round(l)),
    /** The per-person path's last people with their history timelines (--slowest N). */
    slowest: (personWave ?? mainWave).slowest,
    personPath: personWave
      ? (() => {
          const calls = callsOf(personWave.logs);
          return {
            waveSeconds: round(personWave.waveSeconds),
            finished: personWave.finished,
            ratioToBound: round(personWave.waveSeconds / bound.seconds),
            ratioToScript: round(personWave.waveSeconds / script.seconds),
            callsPerChange: round((calls.dynamics + calls.mailchimp + calls.google) / people),
            actionsPerChange: round(personWave.perChange.actions),
            eventsPerChange: round(personWave.perChange.events),
            throttled: throttledIn(personWave.logs),
            workerCpuSeconds: round(cpu(personWave.before.worker, personWave.after.worker)),
          };
        })()
      : undefined,
  };

  const printTable = (r: typeof result) => {
    const s = (v: unknown, unit = 's') => (v === undefined ? 'n/a' : `${v} ${unit}`);
    const lines = [
      '',
      `Temporal: ${r.temporal}`,
      `Opt-out wave: ${r.people} people, ${r.latencyMs} ms vendor latency, ${r.workers} worker process(es)${r.finished ? '' : ' — NOT consistent before the deadline'}`,
      `  consent-hub            ${s(r.waveSeconds)}   (consistent in Dynamics after ${s(r.consistentSeconds.dynamics)}, Mailchimp after ${s(r.consistentSeconds.mailchimp)})`,
      `  people consistent      ${Object.entries(r.consistentShareSeconds)
        .map(([share, at]) => `${share} after ${s(at)}`)
        .join(', ')}`,
      `  vendors' lower bound   ${s(r.boundSeconds)}   hub / bound = ${r.ratioToBound ?? 'n/a'}`,
      ...r.boundHow.map((h: string) => `      ${h}`),
      `  plain script           ${s(r.scriptSeconds)}   hub / script = ${r.ratioToScript ?? 'n/a'}`,
      `  vendor calls / change  hub ${r.callsPerChange.total} (dynamics ${r.callsPerChange.dynamics}, mailchimp ${r.callsPerChange.mailchimp}, google ${r.callsPerChange.google}); minimal ${r.callsPerChange.minimal}; script ${r.callsPerChange.script}`,
      `  Temporal / change      ${r.actionsPerChange} actions, ${r.historyPerChange.events} history events, ${r.historyPerChange.workflowTasks} workflow tasks, ${r.historyPerChange.activities} activities (mean of ${r.historyPerChange.sampled} histories)`,
      `  429s                   hub ${r.throttled}, script ${r.scriptThrottled}`,
      `  path                   ${r.path}${r.path === 'bulk' ? ` (Temporal actions are the batch workflows' divided by the people; ${r.dynamicsBatchInnerPerChange} Dataverse $batch inner requests per change; ${r.handedOver} people handed to their own workflow)` : ''}`,
      ...(r.personPath
        ? [
            `Per-person path, same wave: ${s(r.personPath.waveSeconds)}${r.personPath.finished ? '' : ' — NOT consistent before the deadline'}   hub / bound = ${r.personPath.ratioToBound ?? 'n/a'}, hub / script = ${r.personPath.ratioToScript ?? 'n/a'}`,
            `  ${r.personPath.callsPerChange} vendor calls, ${r.personPath.actionsPerChange} Temporal actions, ${r.personPath.eventsPerChange} history events per change; 429s ${r.personPath.throttled}; worker ${s(r.personPath.workerCpuSeconds, 'CPU s')}`,
          ]
        : []),
      `  worker (${r.workerBuild})${' '.repeat(Math.max(1, 14 - r.workerBuild.length))}${s(r.workerCpuSeconds, 'CPU s')} during the wave, RSS idle ${s(r.idleWorkerRssMb, 'MB')}, peak ${s(r.peakWorkerRssMbFirstWave, 'MB')} in the first wave, ${s(r.peakWorkerRssMb, 'MB')} over the run; Temporal server ${s(r.serverCpuSeconds, 'CPU s')}${r.databaseCpuSeconds === undefined ? '' : `, PostgreSQL ${s(r.databaseCpuSeconds, 'CPU s')}`}`,
      `  worker heaps           workflow thread used ${s(r.workerHeapMb.workflowThread.idleUsed, 'MB')} idle, peak ${s(r.workerHeapMb.workflowThread.peakUsedFirstWave, 'MB')} in the first wave, ${s(r.workerHeapMb.workflowThread.peakUsed, 'MB')} (committed ${s(r.workerHeapMb.workflowThread.peakTotal, 'MB')}) over the run; main thread used ${s(r.workerHeapMb.mainThread.idleUsed, 'MB')} idle, peak ${s(r.workerHeapMb.mainThread.peakUsed, 'MB')} (committed ${s(r.workerHeapMb.mainThread.peakTotal, 'MB')})`,
      r.erasures > 0
        ? `Erasures: ${r.erasures} in ${s(r.erasureSeconds)} against GA's bound ${s(r.erasureBoundSeconds)} (1.5 deletions/s per property); outcomes ${JSON.stringify(r.erasureOutcomes)}`
        : 'Erasures: skipped',
      r.singleErasureP50Ms
        ? `Single erasure p50: ${Object.entries(r.singleErasureP50Ms)
            .map(([k, v]) => `${v} ms at ${k}`)
            .join(', ')}`
        : '',
      `load average at the end ${r.loadAverage.join(' ')}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  };

  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else printTable(result);

  async function runErasures() {
    freshWindow();
    const victims = Array.from({ length: erasureCount }, (_, i) => ({
      email: `erase.${i}@example.com`,
      ga: `${1000 + i}.${1700000000 + i}`,
    }));
    await dynamics.control.seed({
      contacts: victims.map((v, i) => ({
        firstname: 'Erase',
        lastname: `Person${i}`,
        emailaddress1: v.email,
        new_gaclientid: v.ga,
      })),
    });
    await mailchimp.control.seed({
      lists: [
        {
          id: audiences[0],
          name: 'Newsletter',
          members: victims.map((v) => ({ email_address: v.email, status: 'subscribed' })),
        },
      ],
    });
    await Promise.all(Object.values(vendors).map((v) => v.control.setLatency(latencyMs)));
    const started = performance.now();
    let done = 0;
    const outcomes: Record<string, number> = {};
    await Promise.all(
      victims.map((v) =>
        starts(async () => {
          const request = await requestErasure(context, {
            email: v.email,
            requestedBy: 'bench',
            requestedAt: new Date().toISOString(),
          });
          return request;
        }).then(async (request) => {
          const receipt = await awaitReceipt(context, request);
          outcomes[receipt.outcome] = (outcomes[receipt.outcome] ?? 0) + 1;
          done += 1;
          bar('erase ', done, victims.length, started);
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    // One GA client id per person, one deletion request each, at 1.5 a second for the one property.
    const gaBound = workloadBound(
      [{ vendor: 'google', calls: victims.length, ...googleDeletionLimits }],
      latencyMs,
    );
    return { count: victims.length, seconds, boundSeconds: gaBound.seconds, outcomes };
  }

  async function singleErasureLatency() {
    const medians: Record<string, number> = {};
    for (const latency of [0, 50]) {
      await Promise.all(Object.values(vendors).map((v) => v.control.setLatency(latency)));
      const times: number[] = [];
      for (let i = 0; i < singleRuns; i++) {
        // GA is paced at 1.5 a second per property: back to back, the pace would be measured, not an erasure.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const email = `single.${latency}.${i}@example.com`;
        await dynamics.control.seed({
          contacts: [
            {
              firstname: 'Single',
              lastname: 'Person',
              emailaddress1: email,
              new_gaclientid: `7.${i}${latency}`,
            },
          ],
        });
        const t0 = performance.now();
        await awaitReceipt(
          context,
          await requestErasure(context, {
            email,
            requestedBy: 'bench',
            requestedAt: new Date().toISOString(),
          }),
        );
        times.push(performance.now() - t0);
      }
      medians[`${latency}ms`] = Math.round(
        [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? 0,
      );
      note(`single erasure at ${latency} ms latency: p50 ${medians[`${latency}ms`]} ms (${singleRuns} runs)`);
    }
    return medians;
  }
} finally {
  for (const stop of stops.reverse()) {
    try {
      await stop();
    } catch (error) {
      note(`stopping: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
}

/**
 * A worker's V8 heaps in bytes from its `/metrics` (the hub's gauges: consent_hub_worker_threads_heap_*
 * for the workflow thread, consent_hub_nodejs_heap_size_* for the main thread); undefined when unreadable.
 */
async function workerHeaps(metricsUrl: string) {
  try {
    const text = await (await fetch(`${metricsUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const value = (name: string) =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    return {
      workflowUsed: value('consent_hub_worker_threads_heap_used_bytes'),
      workflowTotal: value('consent_hub_worker_threads_heap_total_bytes'),
      mainUsed: value('consent_hub_nodejs_heap_size_used_bytes'),
      mainTotal: value('consent_hub_nodejs_heap_size_total_bytes'),
    };
  } catch {
    return undefined;
  }
}

function round(value: number | undefined): number | undefined {
  return value === undefined || !Number.isFinite(value) ? undefined : Math.round(value * 100) / 100;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
/**
 * What one person's workflow cost Temporal. Actions as Temporal counts them for billing: the start, each
 * signal, each activity scheduled (local activities as markers), timers, search-attribute upserts and
 * continue-as-new.
 */
function countHistory(events: HistoryEvent[]) {
  const of = (...types: number[]) => events.filter((e) => types.includes(Number(e.eventType))).length;
  return {
    events: events.length,
    workflowTasks: of(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    activities: of(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, EventType.EVENT_TYPE_MARKER_RECORDED),
    actions: of(
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
      EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
      EventType.EVENT_TYPE_MARKER_RECORDED,
      EventType.EVENT_TYPE_TIMER_STARTED,
      EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
      EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    ),
  };
}

function averageCounts(rows: ReturnType<typeof countHistory>[]) {
  const mean = (key: keyof ReturnType<typeof countHistory>) =>
    rows.length === 0 ? Number.NaN : rows.reduce((sum, r) => sum + r[key], 0) / rows.length;
  return {
    events: mean('events'),
    workflowTasks: mean('workflowTasks'),
    activities: mean('activities'),
    actions: mean('actions'),
  };
}
