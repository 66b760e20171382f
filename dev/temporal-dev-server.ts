import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../temporal/ensure-search-attributes.js';
import { searchAttributeArgs } from '../temporal/search-attributes.js';
import { sqlitePragmaArgs, temporalSqlitePragmas } from './temporal-sqlite-pragmas.js';
import { waitUntil } from './wait-until.js';

export interface DevServerOptions {
  cli: string;
  dbFile: string;
  port: number;
  uiPort: number;
  namespace: string;
  /** Progress lines while it starts (a loaded machine can take minutes). */
  print?: (line: string) => void;
  /** Aborts the wait (Ctrl-C during start). */
  signal?: AbortSignal;
  /** The codec server the UI decodes payloads with (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
  /**
   * SQLite pragmas for the database file (`--sqlite-pragma`); default: from CONSENT_HUB_TEMPORAL_SQLITE_PRAGMAS,
   * else WAL with synchronous=NORMAL (dev/temporal-sqlite-pragmas.ts).
   */
  sqlitePragmas?: Readonly<Record<string, string>>;
}

export interface RunningDevServer {
  address: string;
  ui: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Makes the dev server's database private to this user: the directory 0700, the SQLite file and its `-wal`
 * and `-shm` 0600 (they hold workflow ids with subject keys, search attributes and sealed payloads), for
 * files a run before this left. New ones the server creates under umask 077 (`startTemporalDevServer`).
 */
export function protectDevServerFiles(dbFile: string): void {
  chmodSync(dirname(dbFile), 0o700);
  for (const file of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}

/**
 * Starts `temporal server start-dev` with its UI and a database file that survives restarts, then waits
 * until it answers and has the project's search attributes: with no fixed deadline (progress is printed),
 * until it answers, exits, or the signal aborts.
 */
export async function startTemporalDevServer(options: DevServerOptions): Promise<RunningDevServer> {
  const address = `127.0.0.1:${options.port}`;
  const pragmas = options.sqlitePragmas ?? temporalSqlitePragmas();
  protectDevServerFiles(options.dbFile);
  // The server creates its SQLite files itself (and sets up its schema only in a file it created), so it
  // runs under umask 077: the database and its -wal and -shm are the user's alone.
  const serverArgs = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--db-filename',
    options.dbFile,
    ...sqlitePragmaArgs(pragmas),
    '--namespace',
    options.namespace,
    '--log-level',
    'warn',
    ...(options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
    ...searchAttributeArgs(),
  ];
  const [command, args] =
    process.platform === 'win32'
      ? [options.cli, serverArgs]
      : ['/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', options.cli, ...serverArgs]];
  const child = spawn(
    command,
    args,
    // Its own process group: a Ctrl-C at the terminal reaches dev alone, which stops the server last.
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  try {
    await waitUntil({
      what: `the Temporal dev server on ${address}`,
      print: options.print ?? (() => {}),
      signal: options.signal,
      failed: () =>
        exited
          ? `it exited at start (is port ${options.port} or ${options.uiPort} taken?): ${stderr.trim()}`
          : undefined,
      probe: async () => {
        const connection = await Connection.connect({ address, connectTimeout: 1000 });
        try {
          await ensureSearchAttributes(connection, options.namespace);
        } finally {
          await connection.close();
        }
        return true;
      },
    });
  } catch (error) {
    if (!exited) child.kill('SIGTERM');
    throw error;
  }

  return {
    address,
    ui: `http://localhost:${options.uiPort}`,
    process: child,
    async stop() {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
