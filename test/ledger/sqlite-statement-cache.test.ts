import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cachingStatements } from '../../ledger/sqlite-statement-cache.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openDatabase() {
  const dir = mkdtempSync(join(tmpdir(), 'consent-hub-statements-'));
  dirs.push(dir);
  const database = new SqliteDatabase(join(dir, 'ledger.sqlite'));
  database.exec('create table t (id integer primary key, name text)');
  return database;
}

describe('the ledger keeps its SQLite statements prepared', () => {
  it('prepares a query once and reuses the statement for every later run of the same SQL', async () => {
    const database = openDatabase();
    const prepare = vi.spyOn(database, 'prepare');
    const db = new Kysely<{ t: { id: number; name: string } }>({
      dialect: new SqliteDialect({ database: cachingStatements(database) }),
    });
    for (let i = 1; i <= 3; i += 1)
      await db
        .insertInto('t')
        .values({ id: i, name: `n${i}` })
        .execute();
    for (let i = 1; i <= 3; i += 1)
      expect(await db.selectFrom('t').select('name').where('id', '=', i).executeTakeFirst()).toEqual({
        name: `n${i}`,
      });
    // One insert and one select, whatever the parameters (Kysely's own begin/pragma statements aside).
    const prepared = prepare.mock.calls.map(([text]) => text);
    expect(prepared.filter((text) => text.startsWith('insert'))).toHaveLength(1);
    expect(prepared.filter((text) => text.startsWith('select'))).toHaveLength(1);
    await db.destroy();
    expect(database.open).toBe(false);
  });

  it('drops the least recently used statement past its size and prepares it again when asked', () => {
    const database = openDatabase();
    const prepare = vi.spyOn(database, 'prepare');
    const cached = cachingStatements(database, 2);
    const a = cached.prepare('select 1');
    cached.prepare('select 2');
    expect(cached.prepare('select 1')).toBe(a);
    cached.prepare('select 3'); // drops 'select 2', the least recently used
    expect(cached.prepare('select 1')).toBe(a);
    cached.prepare('select 2');
    expect(prepare.mock.calls.map(([text]) => text)).toEqual([
      'select 1',
      'select 2',
      'select 3',
      'select 2',
    ]);
    cached.close();
  });

  it('hands out a fresh statement while the kept one is still iterating, so neither run disturbs the other', () => {
    const database = openDatabase();
    database.exec("insert into t values (1, 'a'), (2, 'b')");
    const cached = cachingStatements(database);
    const first = cached.prepare('select name from t order by id');
    const rows = first.iterate([]) as IterableIterator<{ name: string }>;
    expect(rows.next().value).toEqual({ name: 'a' });
    const second = cached.prepare('select name from t order by id');
    expect(second).not.toBe(first);
    expect(second.all([])).toEqual([{ name: 'a' }, { name: 'b' }]);
    expect(rows.next().value).toEqual({ name: 'b' });
    expect(rows.next().done).toBe(true);
    expect(cached.prepare('select name from t order by id')).toBe(second);
    cached.close();
  });

  it('answers from the new schema after a migration changed a table a kept statement reads', async () => {
    const database = openDatabase();
    const db = new Kysely<{ t: { id: number; name: string } }>({
      dialect: new SqliteDialect({ database: cachingStatements(database) }),
    });
    await db.insertInto('t').values({ id: 1, name: 'a' }).execute();
    expect(await sql`select * from t`.execute(db)).toMatchObject({ rows: [{ id: 1, name: 'a' }] });
    await sql`alter table t add column note text default 'x'`.execute(db);
    expect(await sql`select * from t`.execute(db)).toMatchObject({ rows: [{ id: 1, name: 'a', note: 'x' }] });
    await db.destroy();
  });

  it('runs a kept statement again, with its new parameters, after it failed with SQLITE_BUSY while another connection wrote', async () => {
    const database = openDatabase();
    database.pragma('journal_mode = WAL');
    const other = new SqliteDatabase(database.name, { timeout: 0 });
    const prepare = vi.spyOn(database, 'prepare');
    const db = new Kysely<{ t: { id: number; name: string } }>({
      dialect: new SqliteDialect({ database: cachingStatements(database) }),
    });
    const insert = (id: number) =>
      db
        .insertInto('t')
        .values({ id, name: `n${id}` })
        .execute();
    await insert(1);
    database.pragma('busy_timeout = 0');
    other.exec('begin immediate');
    other.exec("insert into t values (2, 'other')");
    await expect(insert(3)).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    await expect(
      db.transaction().execute((tx) => tx.insertInto('t').values({ id: 4, name: 'n4' }).execute()),
    ).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    other.exec('commit');
    other.close();
    await insert(3);
    await db.transaction().execute((tx) => tx.insertInto('t').values({ id: 4, name: 'n4' }).execute());
    expect(await db.selectFrom('t').select(['id', 'name']).orderBy('id').execute()).toEqual([
      { id: 1, name: 'n1' },
      { id: 2, name: 'other' },
      { id: 3, name: 'n3' },
      { id: 4, name: 'n4' },
    ]);
    // The insert that failed was the kept one, run again rather than prepared anew.
    expect(prepare.mock.calls.filter(([text]) => text.startsWith('insert'))).toHaveLength(1);
    await db.destroy();
  });
});
