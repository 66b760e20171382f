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

/** Each configured vendor's credentials work (a token obtained, or Mailchimp's cheapest authenticated call). */
export function vendorChecks(connectors: ConnectorSet): ReadinessCheck[] {
  return (['dynamics', 'mailchimp', 'google'] as const).flatMap((system) => {
    const connector = connectors[system];
    const check = connector?.checkAccess?.bind(connector);
    return check ? [{ name: system, run: check }] : [];
  });
}
