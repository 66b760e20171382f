import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator, sql } from 'kysely';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from '../../config/parse-env.js';
import { latestMigration, ledgerMigrations } from '../../ledger/migrations.js';
import {
  LedgerFromNewerBuild,
  LedgerUnavailable,
  ledgerConfigSchema,
  openLedger,
} from '../../ledger/open-ledger.js';
import { ledgerBackends, ledgerFromNewerBuild, testDatabaseUrl } from './backends.js';

const silent = pino({ level: 'silent' });
const password = 'Sup3r-s3cret-pw';
const scratch = mkdtempSync(join(tmpdir(), 'consent-hub-open-ledger-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function openFailure(databaseUrl: string): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    const ledger = await openLedger({ databaseUrl, dataDir: scratch }, silent);
    await ledger.close();
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error('openLedger succeeded where it should have failed');
}

describe('opening the ledger fails fast, and never shows the password', () => {
  it('refuses an unparseable DATABASE_URL', async () => {
    const { error } = await openFailure(`postgres://consent_hub:${password}@[not-a-host/consent_hub`);
    expect(error).toBeInstanceOf(LedgerUnavailable);
    expect((error as Error).message).toContain('not a PostgreSQL URL');
    expect((error as Error).message).not.toContain(password);
  });

  it('refuses a URL for another database', async () => {
    const { error } = await openFailure(`mysql://consent_hub:${password}@db.internal:3306/consent_hub`);
    expect(error).toBeInstanceOf(LedgerUnavailable);
    expect((error as Error).message).toContain('mysql://consent_hub@db.internal:3306/consent_hub');
    expect((error as Error).message).not.toContain(password);
  });

  it('fails at open when nothing listens at the address', async () => {
    const { error, ms } = await openFailure(
      `postgres://consent_hub:${password}@127.0.0.1:1/consent_hub?sslmode=disable`,
    );
    expect(error).toBeInstanceOf(LedgerUnavailable);
    const message = (error as Error).message;
    expect(message).toContain('postgres://consent_hub@127.0.0.1:1/consent_hub');
    expect(message).toContain('ECONNREFUSED');
    expect(message).not.toContain(password);
    expect(ms).toBeLessThan(5_000);
  });

  it('gives up within the connect timeout when a server accepts but never answers', async () => {
    // A listener that takes the TCP connection and then says nothing, like a wedged database or a firewall.
    const sockets: Socket[] = [];
    const silentServer = createServer((socket) => {
      sockets.push(socket);
    });
    await new Promise<void>((ready) => silentServer.listen(0, '127.0.0.1', ready));
    const { port } = silentServer.address() as AddressInfo;
    try {
      const { error, ms } = await openFailure(
        `postgresql://consent_hub:${password}@127.0.0.1:${port}/consent_hub`,
      );
      expect(error).toBeInstanceOf(LedgerUnavailable);
      expect((error as Error).message).toMatch(/timeout/i);
      expect((error as Error).message).not.toContain(password);
      expect(ms).toBeGreaterThanOrEqual(4_500);
      expect(ms).toBeLessThan(8_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((closed) => silentServer.close(closed));
    }
  }, 15_000);

  it('names refused credentials without echoing them (against the test PostgreSQL)', async () => {
    const url = new URL(testDatabaseUrl);
    url.password = password;
    const { error } = await openFailure(url.toString());
    expect(error).toBeInstanceOf(LedgerUnavailable);
    const message = (error as Error).message;
    expect(message).toMatch(/password authentication failed|28P01/);
    expect(message).not.toContain(password);
  });

  it('fails when the SQLite data directory cannot be created', async () => {
    const blocker = join(scratch, 'a-file');
    writeFileSync(blocker, '');
    const started = Date.now();
    const error = await openLedger({ dataDir: join(blocker, 'data') }, silent).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(LedgerUnavailable);
    expect((error as Error).message).toContain('SQLite');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('creates the data directory and its SQLite file when missing', async () => {
    const dataDir = join(scratch, 'new', 'nested');
    const ledger = await openLedger({ dataDir }, silent);
    expect(await ledger.getWatermark('google')).toBeUndefined();
    await ledger.close();
  });

  it('creates ledger.sqlite and its -wal and -shm readable by the owner alone (0600), in a 0700 directory', async () => {
    const dataDir = join(scratch, 'private');
    const previous = process.umask(0o022);
    try {
      const ledger = await openLedger({ dataDir }, silent);
      // A write makes SQLite create the write-ahead log and its shared-memory index.
      await ledger.setWatermark('google', '2026-01-01T00:00:00.000Z');
      const file = join(dataDir, 'ledger.sqlite');
      for (const path of [file, `${file}-wal`, `${file}-shm`]) {
        expect(statSync(path).mode & 0o777, path).toBe(0o600);
      }
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      await ledger.close();
    } finally {
      process.umask(previous);
    }
  });

  it('narrows an older ledger file that others could read to 0600 when it is opened', async () => {
    const dataDir = join(scratch, 'older');
    mkdirSync(dataDir, { mode: 0o700 });
    const file = join(dataDir, 'ledger.sqlite');
    writeFileSync(file, '', { mode: 0o644 });
    chmodSync(file, 0o644);
    const ledger = await openLedger({ dataDir }, silent);
    await ledger.setWatermark('google', '2026-01-01T00:00:00.000Z');
    for (const path of [file, `${file}-wal`, `${file}-shm`]) {
      expect(statSync(path).mode & 0o777, path).toBe(0o600);
    }
    await ledger.close();
  });
});

describe('DATABASE_URL in the environment', () => {
  it('is optional: unset or empty means SQLite', () => {
    expect(parseEnv(ledgerConfigSchema, {})).toEqual({ DATABASE_URL: undefined });
    expect(parseEnv(ledgerConfigSchema, { DATABASE_URL: '' })).toEqual({ DATABASE_URL: undefined });
  });

  it('accepts postgres:// and postgresql:// URLs', () => {
    for (const url of ['postgres://u:p@db:5432/hub', 'postgresql://u@db/hub?sslmode=require']) {
      expect(parseEnv(ledgerConfigSchema, { DATABASE_URL: url })).toEqual({ DATABASE_URL: url });
    }
  });

  it('names the variable and never echoes the value it rejects', () => {
    for (const bad of [`mysql://u:${password}@db/hub`, `postgres//u:${password}@db`, password]) {
      let error: unknown;
      try {
        parseEnv(ledgerConfigSchema, { DATABASE_URL: bad });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        expect.stringMatching(/^DATABASE_URL: must be a PostgreSQL URL/),
      ]);
      expect((error as Error).message).not.toContain(password);
    }
  });
});

describe.each(ledgerBackends)('a ledger migrated by a newer consent-hub ($name)', (backend) => {
  it('is refused as unusable by this build, naming its newest migration and this build’s, and left as it was', async () => {
    const store = await backend.createStore();
    try {
      await ledgerFromNewerBuild(store, '0999_from_a_newer_build');
      const error = await openLedger(store.options, silent).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(LedgerUnavailable);
      expect(error).toBeInstanceOf(LedgerFromNewerBuild);
      const message = (error as Error).message;
      expect(message).toContain('migrated by a newer consent-hub');
      expect(message).toContain("the ledger's newest migration is 0999_from_a_newer_build");
      expect(message).toContain(`this build's newest is ${latestMigration}`);
      expect(message).not.toMatch(/corrupted/i);
      const rows = await store.inspect().selectFrom('kysely_migration').select('name').execute();
      expect(rows.map((row: { name: string }) => row.name)).toContain('0999_from_a_newer_build');
    } finally {
      await store.cleanup();
    }
  }, 30_000);

  it('still opens a ledger migrated by this build or an older one', async () => {
    const store = await backend.createStore();
    try {
      // An older build's ledger: every migration but the newest applied.
      const names = Object.keys(await ledgerMigrations.getMigrations()).sort();
      // On PostgreSQL the migrator must be told the store's schema, as openLedger tells it: without it, Kysely
      // takes a migration table of another test file's schema as its own and skips creating this one's.
      const db = store.inspect();
      const schema =
        backend.name === 'postgres'
          ? (
              await db
                .selectNoFrom(sql<string | null>`current_schema()`.as('schema'))
                .executeTakeFirstOrThrow()
            ).schema
          : null;
      const older = new Migrator({
        db,
        provider: ledgerMigrations,
        ...(schema ? { migrationTableSchema: schema } : {}),
      });
      const { error } = await older.migrateTo(names.at(-2) as string);
      expect(error).toBeUndefined();
      const ledger = await openLedger(store.options, silent);
      await ledger.close();
      const rows = await store.inspect().selectFrom('kysely_migration').select('name').execute();
      expect(rows.map((row: { name: string }) => row.name)).toContain(latestMigration);
    } finally {
      await store.cleanup();
    }
  }, 30_000);
});
