import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import { runCli } from '../../cli/program.js';
import type { ConsentStateRequest, EraseResult, FindResult } from '../../connectors/connector.js';
import type { ConnectorOperation } from '../../connectors/connector-errors.js';
import { NonRetryableVendorError, RetryableVendorError } from '../../connectors/connector-errors.js';
import type { SystemName } from '../../domain/systems.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { type connectTestTemporal, silentLogger } from '../support/temporal.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI (cli/program.ts) in this process, as `consent-hub <args>` would, and captures what it
 * prints and the exit code it would end with. The environment is the one a CLI process would read.
 */
export async function cli(...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  const stderrWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await runCli(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
}

/**
 * The variables `eval "$(consent-hub env)"` would set, for this test file's Temporal task queue, secrets and a
 * fresh data directory (whose SQLite ledger the worker and the CLI share).
 */
/** A data dir of its own for the CLI's ledger; the worker must share it (subject data keys live there). */
export function cliDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'consent-hub-cli-'));
}

export function cliEnvironment(
  temporal: Awaited<ReturnType<typeof connectTestTemporal>>,
  dataDir: string = cliDataDir(),
) {
  return {
    dataDir,
    env: {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      CONSENT_HUB_TASK_QUEUE: temporal.taskQueue,
      CONSENT_HUB_SUBJECT_KEY_SECRET: temporal.secrets.subjectKeySecret,
      CONSENT_HUB_ENCRYPTION_KEYS: temporal.secrets.encryptionKeys
        .map((k) => `${k.id}:${k.key.toString('base64')}`)
        .join(','),
      CONSENT_HUB_DATA_DIR: dataDir,
      CONSENT_HUB_ATTENTION_AFTER: '3 seconds',
      CONSENT_HUB_OPERATOR_DEADLINE: '5 minutes',
      CONSENT_HUB_HEARTBEAT_TIMEOUT: '5 seconds',
      CONSENT_HUB_SUBJECT_IDLE_AFTER: '30 seconds',
      LOG_LEVEL: 'silent',
    },
  };
}

export async function ledgerIn(dataDir: string): Promise<Ledger> {
  return openLedger({ dataDir }, silentLogger);
}

export type Behaviour = 'ok' | 'bad-credentials' | 'unavailable';

/** Stand-in connectors whose behaviour a test sets per system, for erasures and consent changes alike. */
export function stubConnectors() {
  const behaviour: Record<SystemName, Behaviour> = { dynamics: 'ok', mailchimp: 'ok', google: 'ok' };
  const calls: Record<SystemName, number> = { dynamics: 0, mailchimp: 0, google: 0 };
  /** Calls that answer 503 before the behaviour applies again: a fault for exactly that many attempts. */
  const faultsLeft: Record<SystemName, number> = { dynamics: 0, mailchimp: 0, google: 0 };
  const fail = (system: SystemName, operation: ConnectorOperation) => {
    calls[system] += 1;
    if (faultsLeft[system] > 0) {
      faultsLeft[system] -= 1;
      throw new RetryableVendorError({ system, operation, status: 503, reason: 'Service Unavailable' });
    }
    if (behaviour[system] === 'bad-credentials')
      throw new NonRetryableVendorError({ system, operation, status: 401, reason: 'API Key Invalid' });
    if (behaviour[system] === 'unavailable')
      throw new RetryableVendorError({ system, operation, status: 503, reason: 'Service Unavailable' });
  };
  const none: FindResult = { records: [], gaClientIds: [], gaUserIds: [] };
  const connector = (system: SystemName) => ({
    find: async () => {
      fail(system, 'find');
      return none;
    },
    erase: async (): Promise<EraseResult> => {
      fail(system, 'erase');
      return { outcome: 'not_found', records: [] };
    },
    readConsent: async () => ({ purposes: {}, records: [] }),
    applyConsent: async () => {
      fail(system, 'applyConsent');
      return { outcome: 'applied' as const, records: [] };
    },
    // Every decided purpose "lands" in every stub system, so each change reaches each of them.
    applyConsentState: async (_subject: unknown, request: ConsentStateRequest) => {
      fail(system, 'applyConsent');
      const purposes = Object.fromEntries(Object.keys(request.decisions).map((p) => [p, 'applied' as const]));
      return { outcome: 'applied' as const, purposes, fields: {}, records: [] };
    },
    // Reading consent now answers, or fails, as the system's behaviour says; a stub holds no fields.
    verifyConsentState: async () => {
      fail(system, 'readConsent');
      return { fields: [] };
    },
  });
  const connectors = {
    dynamics: connector('dynamics'),
    mailchimp: connector('mailchimp'),
    google: connector('google'),
  } as unknown as ConnectorSet;
  return { connectors, behaviour, calls, faultsLeft };
}
