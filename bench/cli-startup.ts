/**
 * How long the `consent-hub` command takes to start and answer, side by side with `node -e 0` (Node's own
 * start-up on this machine). Targets (issue 17): `--help` under 1 s and `status` under 1.5 s on an idle
 * 2-core machine. Prints figures; asserts nothing.
 *
 * `status` needs Temporal and a ledger: the section starts its own throwaway Temporal dev server on a free
 * port (the provided Temporal CLI) with a temporary data dir, so it never touches a running `npm start`.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliBinPath, distDir } from '../config/package-paths.js';
import { startTemporalDevServer } from '../dev/temporal-dev-server.js';
import { provideTemporalCli } from '../temporal/temporal-cli.js';
import { freePort } from './free-port.js';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

function timeRuns(args: string[], runs: number, env: NodeJS.ProcessEnv): { median: number; min: number } {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0) {
      throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr.toString().trim()}`);
    }
    times.push(ms);
  }
  return { median: median(times), min: Math.min(...times) };
}

function buildState(): string {
  const stamp = join(distDir, 'build-info.json');
  if (!existsSync(stamp)) return 'no build: the CLI runs its sources through tsx (run `npm run build`)';
  return `compiled build from ${statSync(stamp).mtime.toISOString()} (the launcher falls back to tsx if a source is newer)`;
}

export async function benchCliStartup(runs = 5): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-bench-cli-'));
  const cli = await provideTemporalCli({ onStep: (line) => process.stderr.write(`${line}\n`) });
  const [port, uiPort] = [await freePort(), await freePort()];
  const server = await startTemporalDevServer({
    cli: cli.path,
    dbFile: join(dataDir, 'temporal.sqlite'),
    port,
    uiPort,
    namespace: 'default',
  });
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: 'default',
    CONSENT_HUB_DATA_DIR: dataDir,
    CONSENT_HUB_SUBJECT_KEY_SECRET: randomBytes(32).toString('hex'),
    CONSENT_HUB_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    LOG_LEVEL: 'warn',
  };
  try {
    process.stdout.write(`CLI start-up (${runs} runs each, wall clock; ${buildState()})\n`);
    // The targets are for an idle machine; a busy one slows `node -e 0` by the same factor.
    process.stdout.write(
      `  load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
    );
    const rows: [string, string[]][] = [
      ['node -e 0', ['-e', '0']],
      ['consent-hub --help', [cliBinPath, '--help']],
      ['consent-hub status --email ada…', [cliBinPath, 'status', '--email', 'ada.lovelace@example.com']],
    ];
    // The first status creates and migrates the SQLite ledger; that is a one-time cost, not start-up.
    timeRuns(rows[2]?.[1] ?? [], 1, env);
    for (const [label, args] of rows) {
      const { median: med, min } = timeRuns(args, runs, env);
      process.stdout.write(
        `  ${label.padEnd(34)} median ${med.toFixed(0).padStart(5)} ms   min ${min.toFixed(0).padStart(5)} ms\n`,
      );
    }
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
