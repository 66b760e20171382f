import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { formatEncryptionKeys } from '../../privacy/encryption-keys.js';
import type { testSecrets } from './temporal.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'consent-hub.js');

/** The environment a production worker or CLI reads, pointed at the test server and the given vendors. */
export function hubEnv(
  taskQueue: string,
  secrets: ReturnType<typeof testSecrets>,
  vendorEnv: Record<string, string>,
) {
  return {
    ...process.env,
    ...vendorEnv,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    CONSENT_HUB_TASK_QUEUE: taskQueue,
    // Its own data directory (the SQLite ledger lives there), never the developer's .consent-hub.
    CONSENT_HUB_DATA_DIR: mkdtempSync(join(tmpdir(), 'consent-hub-e2e-')),
    CONSENT_HUB_SUBJECT_KEY_SECRET: secrets.subjectKeySecret,
    CONSENT_HUB_ENCRYPTION_KEYS: formatEncryptionKeys(secrets.encryptionKeys),
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    // Several workers run at once in tests: each takes a free port for /metrics, /healthz and /readyz.
    CONSENT_HUB_METRICS_PORT: '0',
  };
}

/** Every worker process a test file started, so that none outlives the file, even after a failed test. */
const started = new Set<ChildProcess>();

export async function stopAllWorkerProcesses(): Promise<void> {
  await Promise.all(
    [...started].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  started.clear();
}

/**
 * Runs `consent-hub worker` as its own process, as production does, so a test can kill it with SIGKILL.
 * Resolves once the worker reports that it polls.
 */
export async function startWorkerProcess(env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn(process.execPath, [bin, 'worker'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker did not start within 180 s:\n${output}`)),
      180_000,
    );
    const check = () => {
      if (output.includes('worker running')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} at start:\n${output}`));
    });
  });
  return {
    output: () => output,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** Runs one CLI command to completion. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
