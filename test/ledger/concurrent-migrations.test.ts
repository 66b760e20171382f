import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { latestMigration } from '../../ledger/migrations.js';
import { ledgerBackends } from './backends.js';

const child = join(import.meta.dirname, 'open-ledger-process.ts');
const processes = 4;

function openIn(options: unknown, goFile: string, onReady: () => void) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child], {
      env: {
        ...process.env,
        CONSENT_HUB_TEST_LEDGER_OPTIONS: JSON.stringify(options),
        CONSENT_HUB_TEST_GO_FILE: goFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let ready = false;
    proc.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.startsWith('ready\n') && !ready) {
        ready = true;
        onReady();
      }
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    proc.on('exit', (code) => resolve({ code, output }));
  });
}

describe.each(ledgerBackends)('first start of several processes on one fresh $name ledger', (backend) => {
  it(`${processes} processes migrating at once all open it, and each migration ran once`, {
    timeout: 120_000,
  }, async () => {
    const store = await backend.createStore();
    try {
      const goFile = join(mkdtempSync(join(tmpdir(), 'consent-hub-go-')), 'go');
      // Node and tsx take a while to load in each process: all say ready and wait on the file, then race.
      let readies = 0;
      let allReady: () => void = () => {};
      const everyoneReady = new Promise<void>((done) => {
        allReady = done;
      });
      const running = Array.from({ length: processes }, () =>
        openIn(store.options, goFile, () => {
          if (++readies === processes) allReady();
        }),
      );
      await everyoneReady;
      writeFileSync(goFile, '');
      const results = await Promise.all(running);
      for (const result of results) {
        expect(result.output.trim(), result.output).toBe('ready\nopened');
        expect(result.code).toBe(0);
      }
      const applied = await store
        .inspect()
        .selectFrom('kysely_migration')
        .select('name')
        .orderBy('name')
        .execute();
      const names = applied.map((row: { name: string }) => row.name);
      expect(new Set(names).size).toBe(names.length);
      expect(names.at(-1)).toBe(latestMigration);
    } finally {
      await store.cleanup();
    }
  });
});
