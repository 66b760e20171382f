import { z } from 'zod';

/**
 * The dev server's SQLite settings when CONSENT_HUB_TEMPORAL_SQLITE_PRAGMAS is unset: write-ahead log with
 * `synchronous=NORMAL`. Measured with `npm run bench` (README "Measured"): the CLI's own default for a file
 * (SQLite's: a rollback journal, `synchronous=FULL`, two fsyncs per commit on one connection) is what held
 * the dev server back. WAL with NORMAL keeps every committed transaction through a kill -9 of the server
 * (the log is in the file system's page cache, which outlives the process); only an OS crash or a power
 * loss can take the last transactions back (never a corrupt file). Production runs Temporal on PostgreSQL.
 */
export const defaultTemporalSqlitePragmas: Readonly<Record<string, string>> = {
  journal_mode: 'wal',
  synchronous: 'normal',
};

/**
 * Connection parameters that Temporal's sqlite plugin puts in the SQLite URI itself rather than running as
 * a PRAGMA (go.temporal.io/server common/persistence/sql/sqlplugin/sqlite/plugin.go, `queryParameters`):
 * `mode=memory` given here would silently drop the file, so they are refused.
 */
const uriParameters = new Set(['cache', 'immutable', 'mode', 'modeof', 'nolock', 'psow', 'setup', 'vfs']);

/** Values SQLite documents (https://www.sqlite.org/pragma.html) for the two settings that matter here. */
const knownValues: Record<string, RegExp> = {
  journal_mode: /^(delete|truncate|persist|memory|wal|off)$/i,
  synchronous: /^(off|normal|full|extra|[0-3])$/i,
};

const pragmaEntry = z
  .string()
  .trim()
  .regex(/^[a-z_]+=[A-Za-z0-9_-]+$/, 'expected PRAGMA=VALUE, for example journal_mode=wal')
  .transform((entry) => entry.split('=') as [string, string])
  .superRefine(([name, value], context) => {
    if (uriParameters.has(name))
      context.addIssue({
        code: 'custom',
        message: `${name} is a connection parameter of Temporal's sqlite plugin, not a pragma`,
      });
    const allowed = knownValues[name];
    if (allowed && !allowed.test(value))
      context.addIssue({ code: 'custom', message: `${name}=${value}: SQLite has no such ${name}` });
  });

/**
 * The pragmas for `temporal server start-dev --sqlite-pragma`, from CONSENT_HUB_TEMPORAL_SQLITE_PRAGMAS:
 * unset or empty → {@link defaultTemporalSqlitePragmas}; `sqlite-default` → none (SQLite's own defaults, as
 * the CLI alone runs); else comma-separated `PRAGMA=VALUE` (e.g. `journal_mode=wal,synchronous=full`). The
 * CLI passes any name through to SQLite; the ones Temporal's own test server accepts are `journal_mode`
 * and `synchronous` (temporaltest, `supportedPragmas`). Note that `journal_mode=wal` stays in the file:
 * going back to a rollback journal needs `journal_mode=delete`, not just `sqlite-default`.
 * @throws Error naming the variable and the entry for a malformed entry, a URI parameter or an unknown value.
 */
export function temporalSqlitePragmas(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const raw = env.CONSENT_HUB_TEMPORAL_SQLITE_PRAGMAS?.trim();
  if (!raw) return { ...defaultTemporalSqlitePragmas };
  if (raw === 'sqlite-default') return {};
  const pragmas: Record<string, string> = {};
  for (const entry of raw.split(',')) {
    const parsed = pragmaEntry.safeParse(entry);
    if (!parsed.success)
      throw new Error(
        `CONSENT_HUB_TEMPORAL_SQLITE_PRAGMAS: "${entry.trim()}": ${parsed.error.issues.map((i) => i.message).join('; ')}`,
      );
    const [name, value] = parsed.data;
    if (name in pragmas) throw new Error(`CONSENT_HUB_TEMPORAL_SQLITE_PRAGMAS: ${name} is given twice`);
    pragmas[name] = value.toLowerCase();
  }
  return pragmas;
}

/** `--sqlite-pragma NAME=VALUE` arguments for `temporal server start-dev`. */
export function sqlitePragmaArgs(pragmas: Readonly<Record<string, string>>): string[] {
  return Object.entries(pragmas).flatMap(([name, value]) => ['--sqlite-pragma', `${name}=${value}`]);
}
