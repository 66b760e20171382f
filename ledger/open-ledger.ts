import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from '../logging/logger.js';
import { KyselyLedger } from './kysely-ledger.js';
import type { Ledger } from './ledger.js';
import { isPostgresUrl } from './ledger-config.js';
import { describeDatabaseUrl, LedgerUnavailable, withoutPassword } from './ledger-unavailable.js';
import { latestMigration, ledgerMigrations } from './migrations.js';
import type { LedgerDatabase } from './schema.js';
import { cachingStatements } from './sqlite-statement-cache.js';

export { ledgerConfigSchema } from './ledger-config.js';
export { LedgerUnavailable } from './ledger-unavailable.js';

export interface OpenLedgerOptions {
  /** `postgres://` or `postgresql://`; absent means the SQLite file `<dataDir>/ledger.sqlite`. */
  databaseUrl?: string;
  dataDir: string;
}

/** Long enough for a busy database, short enough that a wrong host fails the start, not the first erasure. */
const connectTimeoutMs = 5_000;
/** How long a SQLite writer waits for another process's write to finish. */
const sqliteBusyTimeoutMs = 5_000;

/**
 * Opens the ledger and brings its schema to the latest migration. Fails fast with LedgerUnavailable, so a
 * worker never starts without somewhere to keep its evidence.
 */
export async function openLedger(options: OpenLedgerOptions, logger: Logger): Promise<Ledger> {
  const log = logger.child({ component: 'ledger' });
  const databaseUrl = options.databaseUrl?.trim() || undefined;
  return databaseUrl ? openPostgres(databaseUrl, log) : openSqlite(options.dataDir, log);
}

async function openPostgres(databaseUrl: string, log: Logger): Promise<Ledger> {
  const where = describeDatabaseUrl(databaseUrl);
  if (!isPostgresUrl(databaseUrl)) {
    throw new LedgerUnavailable(
      `Ledger unavailable: DATABASE_URL (${where}) is not a PostgreSQL URL; expected postgres://user:password@host:5432/database, or leave it unset for the SQLite file in the data directory`,
    );
  }
  const pool = new pg.Pool({ connectionString: databaseUrl, connectionTimeoutMillis: connectTimeoutMs });
  // An idle client that loses its server emits on the pool; unhandled, that would kill the worker.
  pool.on('error', (error) =>
    log.warn({ code: (error as { code?: string }).code }, 'ledger: an idle PostgreSQL connection failed'),
  );
  const db = new Kysely<LedgerDatabase>({ dialect: new PostgresDialect({ pool }) });
  try {
    // The schema the connection's search_path lands in. Kysely's migrator otherwise takes a migration table
    // in any schema of the database as its own.
    const { schema } = await db
      .selectNoFrom(sql<string | null>`current_schema()`.as('schema'))
      .executeTakeFirstOrThrow();
    if (!schema) throw new Error('the search_path names no existing schema');
    await withPostgresMigrationLock(db, schema, () => migrate(db, log, schema));
  } catch (error) {
    await db.destroy().catch(() => {});
    if (error instanceof LedgerUnavailable) throw error;
    throw new LedgerUnavailable(
      `Ledger unavailable: cannot open PostgreSQL at ${where}: ${describeError(error, databaseUrl)}. Check DATABASE_URL and that the database is running and accepts these credentials.`,
    );
  }
  log.info({ backend: 'postgres', database: where }, 'ledger open');
  return new KyselyLedger(db);
}

async function openSqlite(dataDir: string, log: Logger): Promise<Ledger> {
  const file = resolve(join(dataDir, 'ledger.sqlite'));
  let database: SqliteDatabase.Database | undefined;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    ownerOnly(file);
    database = new SqliteDatabase(file, { timeout: sqliteBusyTimeoutMs });
    // WAL lets the CLI read while the worker writes. On a fresh file that several processes open at once,
    // switching the journal can be refused with SQLITE_BUSY without the busy timeout being waited out.
    const opened = database;
    await withSqliteBusyRetry(async () => opened.pragma('journal_mode = WAL'));
  } catch (error) {
    database?.close();
    throw new LedgerUnavailable(
      `Ledger unavailable: cannot open SQLite file ${file}: ${describeError(error)}`,
    );
  }
  const db = new Kysely<LedgerDatabase>({
    dialect: new SqliteDialect({ database: cachingStatements(database) }),
  });
  try {
    await inProcessTurn(file, () =>
      withSqliteBusyRetry(() => withSqliteExclusiveLock(db, () => migrate(db, log, undefined))),
    );
  } catch (error) {
    await db.destroy().catch(() => {});
    if (error instanceof LedgerUnavailable) throw error;
    throw new LedgerUnavailable(
      `Ledger unavailable: cannot migrate SQLite file ${file}: ${describeError(error)}`,
    );
  }
  log.info({ backend: 'sqlite', file }, 'ledger open');
  return new KyselyLedger(db);
}

/**
 * The ledger file is created 0600 before SQLite opens it, whatever the umask, and an older one that is
 * readable by others is narrowed to 0600, with its `-wal` and `-shm`: SQLite creates those two with the mode
 * of the database file (os_unix.c, findCreateFileMode and unixOpenSharedMemory), so all three stay the
 * owner's alone.
 */
function ownerOnly(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(path) && (statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  }
}

/**
 * Applies pending migrations. Kysely's migration table records what ran. Callers hold the migration lock
 * (withSqliteExclusiveLock, withPostgresMigrationLock) around it: Kysely's own lock covers neither the
 * creation of its migration tables nor, on SQLite, the migrations themselves (it runs them outside any
 * transaction), so two processes opening a fresh ledger at once could both create the same table.
 */
async function migrate(db: Kysely<LedgerDatabase>, log: Logger, schema: string | undefined): Promise<void> {
  await refuseNewerLedger(db, schema);
  const migrator = new Migrator({
    db,
    provider: ledgerMigrations,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  for (const result of results) {
    if (result.status === 'Success')
      log.info({ migration: result.migrationName }, 'ledger migration applied');
  }
  if (error) {
    const failed = results.find((result) => result.status === 'Error')?.migrationName;
    throw failed ? new MigrationFailed(failed, error) : error;
  }
}

/** Kysely's migrator's table (its default name), where each applied migration has one row. */
const migrationTable = 'kysely_migration';

/**
 * Refuses a ledger that a newer consent-hub migrated: it has applied migrations this build does not know.
 * Kysely's migrator would call that "corrupted migrations"; the ledger is fine, this build is too old for it
 * (rolled back, or an old CLI next to a new worker). Migration names sort in the order they were added
 * (ledger/migrations.ts; test/ledger/migration-names.test.ts), so the newest applied is the last by name.
 *
 * @throws LedgerFromNewerBuild naming the ledger's newest migration and this build's.
 */
async function refuseNewerLedger(db: Kysely<LedgerDatabase>, schema: string | undefined): Promise<void> {
  const exists = schema
    ? await sql<{ found: number }>`select 1 as found from information_schema.tables
        where table_schema = ${schema} and table_name = ${migrationTable}`.execute(db)
    : await sql<{ found: number }>`select 1 as found from sqlite_master
        where type = 'table' and name = ${migrationTable}`.execute(db);
  if (exists.rows.length === 0) return;
  const table = schema ? sql.table(`${schema}.${migrationTable}`) : sql.table(migrationTable);
  const applied = await sql<{ name: string }>`select name from ${table}`.execute(db);
  const known = new Set(Object.keys(await ledgerMigrations.getMigrations()));
  const unknown = applied.rows.map((row) => row.name).filter((name) => !known.has(name));
  if (unknown.length === 0) return;
  const newestApplied = applied.rows
    .map((row) => row.name)
    .sort()
    .at(-1) as string;
  throw new LedgerFromNewerBuild(newestApplied, latestMigration);
}

/**
 * SQLite: the whole migration runs inside `BEGIN EXCLUSIVE`, so another process (a worker and an API on one
 * fresh data directory) waits for it (up to the busy timeout) and then finds every migration applied.
 * Kysely's SQLite driver has one connection, so every statement of the migrator runs inside this transaction.
 */
async function withSqliteExclusiveLock<T>(db: Kysely<LedgerDatabase>, run: () => Promise<T>): Promise<T> {
  await sql`begin exclusive`.execute(db);
  try {
    const result = await run();
    await sql`commit`.execute(db);
    return result;
  } catch (error) {
    await sql`rollback`.execute(db).catch(() => {});
    throw error;
  }
}

/** Hashed to the 64-bit advisory-lock key; advisory locks are one namespace per database, so it names us. */
const migrationLockKey = 'consent-hub ledger migrations';

/**
 * PostgreSQL: a session-level advisory lock, held on one pooled connection for the whole migration
 * (Kysely's migrator works on others), keyed per schema so that ledgers in other schemas do not wait.
 */
async function withPostgresMigrationLock<T>(
  db: Kysely<LedgerDatabase>,
  schema: string,
  run: () => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (connection) => {
    const key = `${migrationLockKey}:${schema}`;
    await sql`select pg_advisory_lock(hashtextextended(${key}, 0))`.execute(connection);
    try {
      return await run();
    } finally {
      await sql`select pg_advisory_unlock(hashtextextended(${key}, 0))`.execute(connection);
    }
  });
}

/** The ledger was migrated by a newer consent-hub; this build must not write to it. */
export class LedgerFromNewerBuild extends LedgerUnavailable {
  constructor(
    readonly ledgerMigration: string,
    readonly buildMigration: string,
  ) {
    super(
      `Ledger unusable by this build: it was migrated by a newer consent-hub (the ledger's newest migration is ${ledgerMigration}; this build's newest is ${buildMigration}). Run the newer consent-hub, or upgrade this one; nothing was changed.`,
    );
  }
}

class MigrationFailed extends Error {
  constructor(migration: string, cause: unknown) {
    super(`migration ${migration} failed: ${describeError(cause)}`, { cause });
  }
}

/**
 * Two openers of one SQLite file in one process take turns at migrating. better-sqlite3 waits for a lock
 * synchronously, so one connection waiting on another in the same process would block the event loop the
 * other needs to finish.
 */
const sqliteMigrationTurns = new Map<string, Promise<unknown>>();
async function inProcessTurn<T>(file: string, run: () => Promise<T>): Promise<T> {
  const previous = sqliteMigrationTurns.get(file) ?? Promise.resolve();
  const turn = previous.catch(() => {}).then(run);
  sqliteMigrationTurns.set(file, turn);
  try {
    return await turn;
  } finally {
    if (sqliteMigrationTurns.get(file) === turn) sqliteMigrationTurns.delete(file);
  }
}

/**
 * Another process migrating the same file can make SQLite refuse a transaction whose snapshot went stale
 * (SQLITE_BUSY_SNAPSHOT), without waiting. Trying again sees its work and has nothing left to do.
 */
async function withSqliteBusyRetry<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = String(
        (error as { code?: unknown }).code ?? (error as { cause?: { code?: unknown } }).cause?.code,
      );
      if (!code.startsWith('SQLITE_BUSY') || attempt >= attempts) throw error;
      await new Promise((done) => setTimeout(done, 100 * attempt));
    }
  }
}

function describeError(error: unknown, databaseUrl?: string): string {
  if (!(error instanceof Error)) return withoutPassword(String(error), databaseUrl);
  const code = (error as { code?: unknown }).code;
  // A refused connection to a host with several addresses arrives as an AggregateError with an empty message.
  const message =
    error.message ||
    (error instanceof AggregateError ? error.errors.map((inner) => String(inner?.message)).join('; ') : '') ||
    error.name;
  const text = typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  return withoutPassword(text, databaseUrl);
}
