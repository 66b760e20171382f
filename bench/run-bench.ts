/**
 * `npm run bench [section...] [flags]`: prints figures, asserts nothing. Sections:
 *   wave      issue 21: an opt-out wave at the vendors' limits next to the vendors' bound and a plain
 *             script, then erasures against GA's pace and single-erasure p50 (default; starts its own
 *             Temporal, sandboxes and workers; bench/opt-out-wave.ts). Flags: --people N (2000),
 *             --latency MS (100), --workers N (1), --erasures N (100), --single-runs N (3), --json;
 *             --temporal dev|postgres (dev: the CLI's dev server on SQLite; postgres: the Temporal server
 *             on a throwaway Debian PostgreSQL, built on first use, bench/temporal-on-postgres.ts;
 *             --history-shards N, default 4) or --temporal-address host:port (a running server)
 *   big-erasure  issue 15: one address on 25,000 Dynamics leads erased end to end: time, vendor calls,
 *             history events/bytes/largest payload, receipt size, worker peak RSS (bench/big-crm-erasure.ts).
 *             Flags: --rows N (25000), --latency MS (0), --vendor-limits, --json
 *   cli       start-up of the `consent-hub` command next to `node -e 0` (starts its own Temporal)
 *   erasure   one erasure end to end at 0 and 50 ms sandbox latency; needs a running `npm start` and
 *             `eval "$(npx consent-hub env)"` first (bench/erasure-latency.ts)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../config/package-paths.js';
import { ensureLocalTls } from '../sandboxes/framework/local-ca.js';
import { benchCliStartup } from './cli-startup.js';

const known = ['wave', 'big-erasure', 'cli', 'erasure'];
const args = process.argv.slice(2);
const sections = args.filter((a) => known.includes(a));
const flags = args.filter((a) => !known.includes(a));
const wanted = sections.length > 0 ? sections : ['wave'];

function runTsx(file: string, fileArgs: string[], env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(packageRoot, 'bench', file), ...fileArgs],
    {
      stdio: 'inherit',
      env,
    },
  );
  if (result.status !== 0) process.exitCode = result.status ?? 1;
}

for (const section of wanted) {
  if (section === 'cli') await benchCliStartup();
  else if (section === 'erasure') runTsx('erasure-latency.ts', []);
  else if (section === 'wave' || section === 'big-erasure') {
    // The sandboxes' CA must be trusted from the process's start (NODE_EXTRA_CA_CERTS is read then).
    const tlsDir = mkdtempSync(join(tmpdir(), 'consent-hub-bench-tls-'));
    try {
      const tls = ensureLocalTls(tlsDir);
      runTsx(section === 'wave' ? 'opt-out-wave.ts' : 'big-crm-erasure.ts', flags, {
        ...process.env,
        NODE_EXTRA_CA_CERTS: tls.caFile,
        CONSENT_HUB_BENCH_TLS_DIR: tlsDir,
      });
    } finally {
      rmSync(tlsDir, { recursive: true, force: true });
    }
  }
}
