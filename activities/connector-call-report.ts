import { AsyncLocalStorage } from 'node:async_hooks';
import type { ConnectorName } from './create-activities.js';

/**
 * One connector operation an activity ran through the activities' `call` wrapper, which every connector
 * activity uses (consent, erasure, reconciliation and any added later): the system, the operation name the
 * activity gave `call`, and the Temporal failure it ended with, if any (already classified and redacted).
 */
export interface ConnectorCallReport {
  system: ConnectorName;
  operation: string;
  failure?: unknown;
}

/**
 * Whoever watches an activity attempt from the outside (the metrics interceptor) runs it inside
 * `observeConnectorCalls`; `call` reports each operation to it. Activities carry no metric code, and the
 * labels come from what the call itself names, not from a list of activity names kept elsewhere.
 */
const storage = new AsyncLocalStorage<(report: ConnectorCallReport) => void>();

export function observeConnectorCalls<T>(
  observer: (report: ConnectorCallReport) => void,
  run: () => Promise<T>,
): Promise<T> {
  return storage.run(observer, run);
}

/** Tells the observer of the current attempt, if any, about one finished connector operation. */
export function reportConnectorCall(report: ConnectorCallReport): void {
  storage.getStore()?.(report);
}
