import { proxyActivities } from '@temporalio/workflow';
import type { Activities, ConnectorActivityInput } from '../activities/create-activities.js';
import type { EraseResult, FindResult } from '../connectors/connector.js';

const { findInSystem, eraseInSystem } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

export interface ConnectorProbeResult {
  found: FindResult;
  erased: EraseResult;
}

/**
 * The walking skeleton: one workflow that runs a connector through the shared interface, find then erase.
 * It proves client → server → worker → activity → connector with encrypted payloads. Deleted once the erasure
 * workflow exercises real connectors.
 */
export async function connectorProbeWorkflow(input: ConnectorActivityInput): Promise<ConnectorProbeResult> {
  const found = await findInSystem(input);
  const erased = await eraseInSystem(input);
  return { found, erased };
}
