import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startTemporalDevServer } from '../../dev/temporal-dev-server.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const address = server.address();
  await new Promise((closed) => server.close(closed));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

async function startOn(dbFile: string) {
  return startTemporalDevServer({
    cli: inject('temporalCliPath'),
    dbFile,
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
  });
}

/**
 * The dev server's default SQLite settings (WAL, synchronous=NORMAL; dev/temporal-sqlite-pragmas.ts) trade
 * durability against an OS crash for speed, never against the server process dying: every write the server
 * acknowledged before a kill -9 is there when it starts again on the same file, and the file is intact.
 */
describe('the Temporal dev server killed with SIGKILL mid-write', { timeout: 240_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'temporal-db-kill-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps every workflow start it acknowledged, on a file still in WAL mode and intact', async () => {
    const dbFile = join(dataDir, 'temporal.sqlite');
    const first = await startOn(dbFile);
    const acknowledged: string[] = [];
    // No gRPC retries: a start the dying server never answered fails at once instead of being retried.
    const connection = await Connection.connect({ address: first.address, interceptors: [] });
    const client = new Client({ connection, namespace: 'default' });
    const killAfter = 25;
    const exited = new Promise((resolve) => first.process.once('exit', resolve));
    let killed = false;
    try {
      // Starts keep coming from eight callers at once, so the kill lands while writes are in flight.
      const callers = Array.from({ length: 8 }, async (_, caller) => {
        for (let i = 0; !killed; i++) {
          const workflowId = `kill-test-${caller}-${i}`;
          try {
            await client.workflow.start('unpolledWorkflow', {
              taskQueue: 'kill-test-nobody-polls',
              workflowId,
            });
            acknowledged.push(workflowId);
          } catch {
            // The server died under this request: it was not acknowledged, so nothing is owed for it.
            return;
          }
          if (acknowledged.length >= killAfter && !killed) {
            killed = true;
            process.kill(-(first.process.pid as number), 'SIGKILL');
          }
        }
      });
      await Promise.all(callers);
      await exited;
    } finally {
      await connection.close().catch(() => {});
    }
    expect(first.process.signalCode).toBe('SIGKILL');
    expect(acknowledged.length).toBeGreaterThanOrEqual(killAfter);

    const second = await startOn(dbFile);
    try {
      const again = await Connection.connect({ address: second.address });
      try {
        const after = new Client({ connection: again, namespace: 'default' });
        const found = await Promise.all(
          acknowledged.map(async (workflowId) => {
            const description = await after.workflow.getHandle(workflowId).describe();
            return [workflowId, description.status.name] as const;
          }),
        );
        expect(found).toEqual(acknowledged.map((workflowId) => [workflowId, 'RUNNING']));
      } finally {
        await again.close();
      }
    } finally {
      await second.stop();
    }

    const file = new SqliteDatabase(dbFile, { readonly: true });
    try {
      expect(file.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(file.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      file.close();
    }
  });
});
