import type { Connector } from '../connector.js';

/**
 * A connector that holds nobody. It proves the wiring (workflow → activity → connector interface) before a
 * real vendor is configured, and stands in for a vendor in workflow tests about the workflow alone.
 */
export function createNoopConnector(): Omit<Connector, 'system'> & { system: 'noop' } {
  return {
    system: 'noop',
    find: async () => ({ records: [], gaClientIds: [], gaUserIds: [] }),
    erase: async () => ({ outcome: 'not_found', records: [] }),
    deleteRecord: async () => 'already_gone',
    readConsent: async () => ({ purposes: {}, records: [] }),
    applyConsent: async () => ({ outcome: 'not_found', records: [] }),
    applyConsentState: async () => ({ outcome: 'not_found', purposes: {}, fields: {}, records: [] }),
    verifyConsentState: async () => ({ fields: [] }),
  };
}
