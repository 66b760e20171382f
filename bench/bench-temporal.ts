/**
 * Which Temporal the benchmark measures against: `--temporal dev` (default; the CLI's dev server on a
 * throwaway SQLite file), `--temporal postgres` (the Temporal server on a throwaway cluster of Debian's
 * PostgreSQL, the production topology of docker-compose.yml; bench/temporal-on-postgres.ts), or
 * `--temporal-address host:port` (any running server; TEMPORAL_NAMESPACE or `default`). With postgres,
 * `--history-shards N` (default 4) sets the new cluster's shard count.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { startTemporalDevServer } from '../dev/temporal-dev-server.js';
import { temporalSqlitePragmas } from '../dev/temporal-sqlite-pragmas.js';
import { ensureSearchAttributes } from '../temporal/ensure-search-attributes.js';
import { provideTemporalCli } from '../temporal/temporal-cli.js';
import { freePort } from './free-port.js';
import { startTemporalOnPostgres } from './temporal-on-postgres.js';

/** docker-compose's auto-setup image's default (NUM_HISTORY_SHARDS); the dev server runs 1. */
export const defaultHistoryShards = 4;

export type BenchTemporalChoice =
  | { kind: 'dev' }
  | { kind: 'postgres'; historyShards: number }
  | { kind: 'address'; address: string; namespace: string };

/**
 * The choice from the bench's flags.
 * @throws Error for an unknown `--temporal` value, an address that is not host:port, or both flags at once.
 */
export function benchTemporalChoice(
  flags: { temporal?: string; 'temporal-address'?: string; 'history-shards'?: string },
  env: NodeJS.ProcessEnv = process.env,
): BenchTemporalChoice {
  const address = flags['temporal-address'];
  if (address !== undefined) {
    if (flags.temporal !== undefined && flags.temporal !== 'address')
      throw new Error(`--temporal ${flags.temporal} and --temporal-address ${address}: give one of them`);
    if (!/^[^\s:/]+:\d{1,5}$/.test(address) || Number(address.split(':')[1]) > 65535)
      throw new Error(`--temporal-address ${address}: expected host:port, for example 127.0.0.1:7233`);
    return { kind: 'address', address, namespace: env.TEMPORAL_NAMESPACE || 'default' };
  }
  const kind = flags.temporal ?? 'dev';
  const shards = flags['history-shards'];
  if (shards !== undefined && kind !== 'postgres')
    throw new Error(`--history-shards ${shards}: only for --temporal postgres (the dev server has 1)`);
  if (kind === 'dev') return { kind };
  if (kind === 'postgres') {
    const historyShards = Number(shards ?? defaultHistoryShards);
    if (!Number.isInteger(historyShards) || historyShards < 1 || historyShards > 16_384)
      throw new Error(`--history-shards ${shards}: expected a whole number from 1 to 16384`);
    return { kind, historyShards };
  }
  throw new Error(
    `--temporal ${kind}: expected dev (the CLI's dev server, default) or postgres (the Temporal server on PostgreSQL); for a running server give --temporal-address host:port`,
  );
}

export interface BenchTemporal {
  address: string;
  namespace: string;
  /** Printed with the figures: which Temporal they were measured against. */
  description: string;
  /** Processes whose CPU and memory the bench reports; absent for a server it did not start. */
  serverPid?: number;
  databasePid?: number;
  stop(): Promise<void>;
}

/** Starts (or connects to) the chosen Temporal with the `namespace` and the project's search attributes. */
export async function startBenchTemporal(
  choice: BenchTemporalChoice,
  options: { dataDir: string; namespace: string; print: (line: string) => void },
): Promise<BenchTemporal> {
  if (choice.kind === 'postgres') {
    const server = await startTemporalOnPostgres({
      namespace: options.namespace,
      print: options.print,
      historyShards: choice.historyShards,
    });
    return {
      address: server.address,
      namespace: server.namespace,
      description: server.description,
      serverPid: server.serverPid,
      databasePid: server.postgresPid,
      stop: server.stop,
    };
  }
  if (choice.kind === 'address') {
    const connection = await Connection.connect({ address: choice.address, connectTimeout: 5000 });
    try {
      await ensureSearchAttributes(connection, choice.namespace);
    } finally {
      await connection.close();
    }
    return {
      address: choice.address,
      namespace: choice.namespace,
      description: `the running Temporal at ${choice.address}, namespace ${choice.namespace}`,
      stop: async () => {},
    };
  }
  const cli = await provideTemporalCli({ onStep: options.print });
  const sqlitePragmas = temporalSqlitePragmas();
  const pragmaText = Object.entries(sqlitePragmas)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  const server = await startTemporalDevServer({
    sqlitePragmas,
    cli: cli.path,
    dbFile: join(options.dataDir, 'temporal.sqlite'),
    port: await freePort(),
    uiPort: await freePort(),
    namespace: options.namespace,
    print: options.print,
  });
  return {
    address: server.address,
    namespace: options.namespace,
    description: `the Temporal CLI's dev server on a SQLite file, ${pragmaText || "SQLite's default pragmas"} (${cliVersion(cli.path)})`,
    serverPid: server.process.pid,
    stop: server.stop,
  };
}

/** `temporal --version`'s line, e.g. "temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)". */
function cliVersion(cli: string): string {
  try {
    return execFileSync(cli, ['--version']).toString().trim();
  } catch {
    return cli;
  }
}
