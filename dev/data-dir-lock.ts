import { linkSync, mkdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';

/**
 * `<data dir>/dev.lock`: which `consent-hub dev` process owns a data dir. Two dev processes on one data dir
 * would share its Temporal database, sandbox records and secrets, and the second would delete the first's
 * dev.json; so the second is refused while the first lives.
 */
const lockSchema = z.object({
  pid: z.number().int(),
  /**
   * The process's start time in clock ticks since boot (/proc/<pid>/stat, field 22), where there is a
   * /proc: a pid reused by another process after dev died (or after a reboot) then does not pass for dev.
   */
  startTicks: z.string().optional(),
  startedAt: z.string(),
  /** What the owner serves, so the refusal can say where the running setup is. */
  ports: z.object({
    temporal: z.number().int(),
    ui: z.number().int(),
    sandboxPortBase: z.number().int(),
    api: z.number().int(),
  }),
});
export type DevLockOwner = z.infer<typeof lockSchema>;

export const devLockPath = (dataDir: string) => join(dataDir, 'dev.lock');

export class DataDirInUse extends Error {
  override readonly name = 'DataDirInUse';
  constructor(
    readonly dataDir: string,
    readonly owner: DevLockOwner,
  ) {
    const { ports } = owner;
    super(
      [
        `consent-hub dev cannot start: the data dir ${dataDir} is in use by another consent-hub dev (pid ${owner.pid}, started ${owner.startedAt}):`,
        `  Temporal 127.0.0.1:${ports.temporal}, UI http://127.0.0.1:${ports.ui}, sandboxes from port ${ports.sandboxPortBase}, intake API http://127.0.0.1:${ports.api}`,
        `Use that one (its dev.json is in ${dataDir}), stop it (kill -TERM ${owner.pid}), or start this one with another --data-dir.`,
      ].join('\n'),
    );
  }
}

/** The process's start time from /proc (Linux); undefined where there is no /proc or no such process. */
function startTicksOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses) start at field 3.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * True while the lock's owner runs: a process with its pid exists (EPERM: owned by another user) and, where
 * both start times are known, it is the same process, not a later one that was given the same pid.
 */
function alive(owner: DevLockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTicksOf(owner.pid);
  return owner.startTicks === undefined || now === undefined || now === owner.startTicks;
}

function readOwner(path: string): DevLockOwner | undefined {
  try {
    return lockSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return undefined;
  }
}

/** How long a takeover may hold its guard before another start treats the guard as abandoned. */
const takeoverGuardStaleMs = 10_000;

/**
 * Takes the data dir for this process, or throws DataDirInUse naming the live owner's pid and ports.
 *
 * The lock file appears whole and at once: it is written under a private name and hard-linked to
 * `dev.lock`, which fails with EEXIST when another process holds it (link is atomic, like O_EXCL, and never
 * leaves a half-written lock to be misread). A lock whose pid is gone (dev was killed with SIGKILL, or the
 * machine restarted) is taken over; the takeover runs under a guard directory (mkdir is atomic too), so two
 * starts that both find the same stale lock cannot both win. Returns the release function, which removes
 * the lock only while it is still this process's.
 */
export async function lockDataDir(
  dataDir: string,
  ports: DevLockOwner['ports'],
): Promise<{ release: () => void }> {
  const path = devLockPath(dataDir);
  const startTicks = startTicksOf(process.pid);
  const mine: DevLockOwner = {
    pid: process.pid,
    ...(startTicks ? { startTicks } : {}),
    startedAt: new Date().toISOString(),
    ports,
  };
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(mine)}\n`, { mode: 0o600 });
  const release = () => {
    if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
  };
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(temp, path);
        return { release };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = readOwner(path);
      if (owner && owner.pid !== process.pid && alive(owner)) throw new DataDirInUse(dataDir, owner);
      // Dead owner (or a file that is not a lock at all): take it over under the guard.
      if (await takeOverStale(path, owner)) continue;
      if (attempt > 100) throw new Error(`could not take ${path}: another start keeps taking it over`);
      await delay(100);
    }
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Removes the stale lock if it is still the one that was found; false when another start holds the guard. */
async function takeOverStale(path: string, found: DevLockOwner | undefined): Promise<boolean> {
  const guard = `${path}.takeover`;
  try {
    mkdirSync(guard);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const age = Date.now() - (statSafe(guard) ?? Date.now());
    if (age > takeoverGuardStaleMs) rmdirSync(guard, { recursive: false });
    return false;
  }
  try {
    const now = readOwner(path);
    // Another start may have taken it over and linked its own lock since we looked: keep that one.
    if (now?.pid === found?.pid && now?.startedAt === found?.startedAt) rmSync(path, { force: true });
    return true;
  } finally {
    rmdirSync(guard);
  }
}

function statSafe(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}
