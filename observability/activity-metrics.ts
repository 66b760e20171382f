import type { Context as ActivityContext } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { type ConnectorCallReport, observeConnectorCalls } from '../activities/connector-call-report.js';
import type { HubMetrics } from './hub-metrics.js';
import { statusClass } from './hub-metrics.js';

/** The only values a `system` label takes; anything else (a typo, a future vendor) is `other`. */
const knownSystems = new Set(['dynamics', 'mailchimp', 'google', 'noop']);
const systemLabel = (system: string) => (knownSystems.has(system) ? system : 'other');

interface VendorFailureDetails {
  status?: number;
}

function systemOf(args: unknown[]): string {
  const first = args[0] as { system?: unknown } | undefined;
  const system = typeof first?.system === 'string' ? first.system : undefined;
  if (system === undefined) return 'none';
  return systemLabel(system);
}

function resultOf(error: unknown): { result: string; statusClass: string; status?: number } {
  if (error instanceof CancelledFailure) return { result: 'cancelled', statusClass: 'cancelled' };
  if (error instanceof ApplicationFailure) {
    const details = (error.details?.[0] ?? {}) as VendorFailureDetails;
    const status = typeof details.status === 'number' ? details.status : undefined;
    if (error.type === 'SystemNotConfigured')
      return { result: 'non_retryable', statusClass: 'not_configured' };
    return {
      result: error.nonRetryable ? 'non_retryable' : 'retryable',
      statusClass: statusClass(status),
      status,
    };
  }
  return { result: 'error', statusClass: 'error' };
}

/** One connector operation as a vendor call, by status class, with a 429 counted apart as well. */
function countVendorCall(metrics: HubMetrics, report: ConnectorCallReport): void {
  const system = systemLabel(report.system);
  const { operation } = report;
  if (report.failure === undefined) {
    metrics.vendorCalls.inc({ system, operation, status_class: 'ok' });
    return;
  }
  const outcome = resultOf(report.failure);
  metrics.vendorCalls.inc({ system, operation, status_class: outcome.statusClass });
  if (outcome.status === 429) metrics.vendorThrottled.inc({ system, operation });
}

/**
 * Counts every activity attempt from the outside, so no activity carries metric code: latency by type,
 * system and result; retries (attempt > 1); and every connector operation an activity runs through the
 * activities' `call` wrapper, whatever the activity (consent, erasure, reconciliation, later ones), by the
 * system and operation `call` names and the status class of its result, with 429s apart. Terminal outcomes come from the ledger-writing activities' arguments: an erasure's receipt
 * outcome, a consent change's per-system outcome, a reconciliation run's drift and repairs.
 */
export function activityMetricsInterceptor(metrics: HubMetrics): ActivityInterceptorsFactory {
  return (context: ActivityContext) => ({
    inbound: {
      async execute(input, next) {
        const activity = context.info.activityType;
        const system = systemOf(input.args);
        if (context.info.attempt > 1) metrics.activityRetries.inc({ activity, system });
        const stop = metrics.activityDuration.startTimer({ activity, system });
        try {
          const result = await observeConnectorCalls(
            (report) => countVendorCall(metrics, report),
            () => next(input),
          );
          stop({ result: 'ok' });
          countTerminalOutcome(metrics, activity, input.args);
          return result;
        } catch (error) {
          const outcome = resultOf(error);
          stop({ result: outcome.result });
          throw error;
        }
      },
    },
  });
}

function countTerminalOutcome(metrics: HubMetrics, activity: string, args: unknown[]): void {
  const first = args[0] as Record<string, unknown> | undefined;
  if (!first) return;
  if (activity === 'recordErasureOutcome' && typeof first.outcome === 'string') {
    metrics.requestsCompleted.inc({ kind: 'erasure', outcome: first.outcome });
  } else if (activity === 'recordConsentOutcome' && typeof first.outcome === 'string') {
    const system = typeof first.system === 'string' ? systemLabel(first.system) : 'other';
    metrics.consentOutcomes.inc({ system, outcome: first.outcome });
  } else if (activity === 'recordReconciliationRun') {
    const drift = (first.drift ?? {}) as Record<string, number>;
    for (const [kind, count] of Object.entries(drift)) {
      if (count > 0) metrics.reconciliationDriftFound.inc({ kind }, count);
    }
    if (typeof first.repairsStarted === 'number' && first.repairsStarted > 0) {
      metrics.reconciliationRepairsStarted.inc(first.repairsStarted);
    }
    const needsAttention = Array.isArray(first.needsAttention) ? first.needsAttention : [];
    for (const item of needsAttention as { kind?: unknown }[]) {
      if (typeof item.kind === 'string') metrics.reconciliationNeedsAttention.inc({ kind: item.kind });
    }
  }
}
