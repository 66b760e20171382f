import { chmodSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { protectDevServerFiles, startTemporalDevServer } from '../../dev/temporal-dev-server.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const address = server.address();
  await new Promise((closed) => server.close(closed));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

const modeOf = (path: string) => {
  try {
    return statSync(path).mode & 0o777;
  } catch {
    // Removed between the listing and now (a finished transaction's journal).
    return 0o600;
  }
};

/**
 * The dev server's SQLite database holds workflow ids with subject keys, search attributes and sealed
 * payloads: only its owner may read it, and its directory is closed to others.
 */
describe("the Temporal dev server's database is private to its user", { timeout: 120_000 }, () => {
  it('keeps temporal.sqlite and its journal files at 0600 and the data directory at 0700 while the server writes them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'temporal-db-mode-'));
    chmodSync(dataDir, 0o755);
    const dbFile = join(dataDir, 'temporal.sqlite');
    const server = await startTemporalDevServer({
      cli: inject('temporalCliPath'),
      dbFile,
      port: await freePort(),
      uiPort: await freePort(),
      namespace: 'default',
    });
    try {
      expect(modeOf(dataDir)).toBe(0o700);
      expect(modeOf(dbFile)).toBe(0o600);
      // Whatever journal files SQLite keeps beside it (-wal, -shm, -journal, by its mode) are private too.
      const files = readdirSync(dataDir).filter((name) => name.startsWith('temporal.sqlite'));
      expect(files).toContain('temporal.sqlite');
      for (const name of files) {
        expect([name, modeOf(join(dataDir, name))]).toEqual([name, 0o600]);
      }
    } finally {
      await server.stop();
    }
  });

  it('closes files a run before this left readable to others', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'temporal-db-old-'));
    chmodSync(dataDir, 0o755);
    const dbFile = join(dataDir, 'temporal.sqlite');
    for (const file of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) writeFileSync(file, '', { mode: 0o644 });
    protectDevServerFiles(dbFile);
    expect(modeOf(dataDir)).toBe(0o700);
    for (const file of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) expect(modeOf(file)).toBe(0o600);
  });
});
