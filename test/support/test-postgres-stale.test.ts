import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ownerPidFile, removeStaleTestPostgresDirs } from './test-postgres.js';

/** The pid of a process that has exited (and been reaped), so nothing answers to it now. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

describe('cleaning up after test runs killed without their teardown', () => {
  it('removes only directories whose owner and postmaster are both gone, and leaves live or unknown runs alone', () => {
    const root = mkdtempSync(join(tmpdir(), 'stale-postgres-root-'));
    const make = (name: string, owner?: number, postmaster?: number) => {
      const dir = join(root, `consent-hub-postgres-${name}`);
      mkdirSync(join(dir, 'data'), { recursive: true });
      if (owner !== undefined) writeFileSync(join(dir, ownerPidFile), `${owner}\n`);
      if (postmaster !== undefined)
        writeFileSync(join(dir, 'data', 'postmaster.pid'), `${postmaster}\n/tmp/data\n`);
      return dir;
    };
    const gone = deadPid();
    const orphaned = make('orphaned', gone, deadPid());
    const orphanedNoServer = make('no-server', gone);
    const live = make('live', process.pid);
    const serverStillUp = make('server-up', gone, process.pid);
    const unknown = make('unknown');
    const unrelated = join(root, 'something-else');
    mkdirSync(unrelated);
    writeFileSync(join(unrelated, ownerPidFile), `${gone}\n`);

    expect(removeStaleTestPostgresDirs(root).sort()).toEqual([orphanedNoServer, orphaned].sort());
    expect(existsSync(orphaned)).toBe(false);
    expect(existsSync(orphanedNoServer)).toBe(false);
    for (const kept of [live, serverStillUp, unknown, unrelated]) expect(existsSync(kept)).toBe(true);
    rmSync(root, { recursive: true, force: true });
  });
});
