import type SqliteDatabase from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase } from 'kysely';

/** How many prepared statements are kept: the ledger issues a few dozen distinct queries (IN lists vary). */
export const sqliteStatementCacheSize = 256;

/**
 * The better-sqlite3 database as Kysely's SqliteDialect uses it (`prepare` and `close`), with each query's
 * prepared statement kept and reused by its SQL text, least recently used dropped past `size`. Kysely's driver
 * prepares every query anew, which was about 2.5 % of the worker's main-thread CPU in a per-person opt-out
 * wave (README "Worker sizing"). Reuse is safe because better-sqlite3 runs a statement to completion inside
 * one synchronous call (`all`, `run`) and the driver holds one connection at a time; a statement still busy
 * (an `iterate` of a stream not read to its end) is not handed out again: a fresh one is prepared instead.
 * SQLite prepares a kept statement again by itself when the schema changes (sqlite3_prepare_v2).
 */
export function cachingStatements(
  database: SqliteDatabase.Database,
  size = sqliteStatementCacheSize,
): KyselySqliteDatabase {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close() {
      statements.clear();
      database.close();
    },
    prepare(sql: string) {
      const kept = statements.get(sql);
      if (kept && !kept.busy) {
        // Most recently used last: Map keeps insertion order, so the first key is the one to drop.
        statements.delete(sql);
        statements.set(sql, kept);
        return kept;
      }
      const statement = database.prepare(sql);
      statements.delete(sql);
      statements.set(sql, statement);
      if (statements.size > size) {
        const oldest = statements.keys().next().value;
        if (oldest !== undefined) statements.delete(oldest);
      }
      return statement;
    },
  };
}
