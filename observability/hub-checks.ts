import type { Client } from '@temporalio/client';
import type { ConnectorSet } from '../activities/create-activities.js';
import type { Ledger } from '../ledger/ledger.js';
import type { ReadinessCheck } from './readiness.js';

/** Temporal answers (the frontend's system info; no workflow is touched). */
export function temporalCheck(client: Client): ReadinessCheck {
  return {
    name: 'temporal',
    run: async () => {
      await client.workflowService.getSystemInfo({});
    },
  };
}

/** The ledger answers a read (a tombstone lookup by a key no subject has). */
export function ledgerCheck(ledger: Ledger): ReadinessCheck {
  return {
    name: 'ledger',
    run: async () => {
      await ledger.getTombstone('readiness-probe');
    },
  };
}

/**
 * How long (ms) a vendor check's answer is reused by `/readyz`: 30 s. Kubernetes and load balancers probe
 * every few seconds; each vendor then sees one authenticated call per 30 s per process, and a credential
 * revoked at the vendor reads not-ready within 30 s.
 */
export const vendorCheckCacheMs = 30_000;

/**
 * Each configured vendor's credentials work now: each connector's `checkAccess` makes an authenticated call
 * (Dataverse WhoAmI, a fresh Google token exchange, Mailchimp's cheapest list read), never a cached token.
 * Each answer, success or failure, is reused for `cacheMs` (default `vendorCheckCacheMs`), and concurrent
 * probes share one call in flight.
 */
export function vendorChecks(connectors: ConnectorSet, options: { cacheMs?: number } = {}): ReadinessCheck[] {
  const cacheMs = options.cacheMs ?? vendorCheckCacheMs;
  return (['dynamics', 'mailchimp', 'google'] as const).flatMap((system) => {
    const connector = connectors[system];
    const check = connector?.checkAccess?.bind(connector);
    return check ? [reusedFor(cacheMs, { name: system, run: check })] : [];
  });
}

/** The check, its last answer (or the call still in flight) reused until `ttlMs` after it was started. */
export function reusedFor(ttlMs: number, check: ReadinessCheck): ReadinessCheck {
  let last: { startedAt: number; answer: Promise<void> } | undefined;
  return {
    name: check.name,
    run() {
      if (!last || Date.now() - last.startedAt >= ttlMs) {
        const answer = check.run();
        // The failure is read by every probe that reuses it; this keeps it from counting as unhandled.
        answer.catch(() => {});
        last = { startedAt: Date.now(), answer };
      }
      return last.answer;
    },
  };
}
