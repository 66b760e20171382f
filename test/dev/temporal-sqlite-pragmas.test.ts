import { describe, expect, it } from 'vitest';
import {
  defaultTemporalSqlitePragmas,
  sqlitePragmaArgs,
  temporalSqlitePragmas,
} from '../../dev/temporal-sqlite-pragmas.js';

const from = (value?: string) => temporalSqlitePragmas({ CONSENT_HUB_TEMPORAL_SQLITE_PRAGMAS: value });

describe("the dev server's SQLite pragmas from CONSENT_HUB_TEMPORAL_SQLITE_PRAGMAS", () => {
  it('defaults to WAL with synchronous=NORMAL when the variable is unset or blank', () => {
    expect(from(undefined)).toEqual({ journal_mode: 'wal', synchronous: 'normal' });
    expect(from('  ')).toEqual(defaultTemporalSqlitePragmas);
  });

  it("gives no pragma at all for sqlite-default (the CLI's own settings)", () => {
    expect(from('sqlite-default')).toEqual({});
    expect(sqlitePragmaArgs(from('sqlite-default'))).toEqual([]);
  });

  it('reads comma-separated PRAGMA=VALUE entries into --sqlite-pragma arguments', () => {
    const pragmas = from('journal_mode=WAL, synchronous=full,busy_timeout=5000');
    expect(pragmas).toEqual({ journal_mode: 'wal', synchronous: 'full', busy_timeout: '5000' });
    expect(sqlitePragmaArgs(pragmas)).toEqual([
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=full',
      '--sqlite-pragma',
      'busy_timeout=5000',
    ]);
  });

  it.each([
    ['journal_mode', /"journal_mode": expected PRAGMA=VALUE/],
    ['synchronous=sometimes', /synchronous=sometimes: SQLite has no such synchronous/],
    ['journal_mode=wal2', /journal_mode=wal2: SQLite has no such journal_mode/],
    ['mode=memory', /mode is a connection parameter of Temporal's sqlite plugin, not a pragma/],
    ['cache=shared', /cache is a connection parameter/],
    ['journal_mode=wal;drop', /expected PRAGMA=VALUE/],
    ['synchronous=normal,synchronous=full', /synchronous is given twice/],
  ])('refuses %s naming the variable and what is wrong', (value, message) => {
    expect(() => from(value)).toThrow(/^CONSENT_HUB_TEMPORAL_SQLITE_PRAGMAS: /);
    expect(() => from(value)).toThrow(message);
  });
});
