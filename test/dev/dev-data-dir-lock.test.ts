import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { devLockPath } from '../../dev/data-dir-lock.js';
import { devJsonPath } from '../../dev/dev-json.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'consent-hub.js');
const holder = join(import.meta.dirname, 'fixtures', 'hold-data-dir.ts');
const children = new Set<ChildProcess>();

/** Runs the real CLI to its end: exit code and everything it printed. */
function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, ...env, CONSENT_HUB_DEV_REGISTRY: mkdtempSync(join(tmpdir(), 'registry-')) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/** A process of its own that holds the data dir as a running dev does; resolves once it holds it. */
async function holdDataDir(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', holder, dataDir, String(port)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.add(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      if (String(chunk).includes('locked')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the holder exited with ${code}`)));
  });
  return child;
}

const devArgs = (dataDir: string, base: number) => [
  'dev',
  '--data-dir',
  dataDir,
  '--temporal-port',
  String(base),
  '--ui-port',
  String(base + 1),
  '--sandbox-port-base',
  String(base + 2),
];

describe('one consent-hub dev per data dir', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.close();
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    children.clear();
  });

  it('refuses a second dev on a data dir a live dev owns, naming its pid and ports, and leaves it and its dev.json alone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-lock-'));
    const first = await holdDataDir(dataDir, 41_000);
    const devJsonBefore = readFileSync(devJsonPath(dataDir), 'utf8');

    // Other ports than the first's, so only the data dir is shared.
    const second = await runCli(devArgs(dataDir, 42_000));
    expect(second.code).not.toBe(0);
    expect(second.output).toContain(`in use by another consent-hub dev (pid ${first.pid}`);
    expect(second.output).toContain('Temporal 127.0.0.1:41000');
    expect(second.output).toContain('intake API http://127.0.0.1:41012');
    expect(first.exitCode).toBeNull();
    expect(readFileSync(devJsonPath(dataDir), 'utf8')).toBe(devJsonBefore);
    expect(JSON.parse(readFileSync(devLockPath(dataDir), 'utf8')).pid).toBe(first.pid);
  });

  it('takes over the lock of a dev that was killed, and releases it when it stops', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-lock-'));
    const killed = await holdDataDir(dataDir, 43_000);
    const exited = new Promise((resolve) => killed.once('exit', resolve));
    killed.kill('SIGKILL');
    await exited;
    expect(existsSync(devLockPath(dataDir))).toBe(true);

    // A port the new dev needs is taken, so it stops right after the lock: the refusal it gives is about
    // the port, which proves it got past the dead dev's lock, and it leaves no lock behind.
    server = createServer();
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(44_000, '127.0.0.1', () => resolve()));
    const next = await runCli(devArgs(dataDir, 44_000));
    expect(next.code).not.toBe(0);
    expect(next.output).toContain('port 44000: Temporal frontend (--temporal-port)');
    expect(next.output).not.toContain('in use by another consent-hub dev');
    expect(existsSync(devLockPath(dataDir))).toBe(false);
  });

  it('takes over a lock whose pid now belongs to another process (reused after dev died or a reboot)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-lock-'));
    // This test's own process is alive, but it started at another time than the lock says.
    writeFileSync(
      devLockPath(dataDir),
      JSON.stringify({
        pid: process.pid,
        startTicks: '1',
        startedAt: new Date().toISOString(),
        ports: { temporal: 1, ui: 2, sandboxPortBase: 3, api: 13 },
      }),
    );
    server = createServer();
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(47_000, '127.0.0.1', () => resolve()));
    const next = await runCli(devArgs(dataDir, 47_000));
    expect(next.output).toContain('port 47000: Temporal frontend (--temporal-port)');
    expect(next.output).not.toContain('in use by another consent-hub dev');
  });

  it('lets exactly one of two starts racing for a stale lock win', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-lock-'));
    writeFileSync(
      devLockPath(dataDir),
      JSON.stringify({
        pid: 999_999_999,
        startedAt: new Date().toISOString(),
        ports: { temporal: 1, ui: 2, sandboxPortBase: 3, api: 13 },
      }),
    );
    const racers = await Promise.allSettled([holdDataDir(dataDir, 45_000), holdDataDir(dataDir, 46_000)]);
    expect(racers.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});
