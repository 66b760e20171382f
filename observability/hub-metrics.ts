import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The hub's own Prometheus metrics, in one registry per process. Labels are closed sets only (kind, system,
 * operation, status class, outcome, activity type): never a subject key, an address, a request id or a
 * vendor record id, so a scrape reveals nothing about a person and the series count stays bounded.
 */
export function createHubMetrics(processName: 'worker' | 'api') {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  collectDefaultMetrics({ register: registry, prefix: 'consent_hub_' });
  const registers = [registry];
  return {
    registry,
    /** Requests the hub took on, by kind (erasure, consent_change) and where they came in (api, webhook). */
    requestsAccepted: new Counter({
      name: 'consent_hub_requests_accepted_total',
      help: 'Requests accepted (answered 202), by kind and source',
      labelNames: ['kind', 'source'] as const,
      registers,
    }),
    /** Erasures ended with a receipt (outcome completed or completed_with_failures). */
    requestsCompleted: new Counter({
      name: 'consent_hub_requests_completed_total',
      help: 'Requests that reached their terminal state, by kind and outcome',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    /** What each system answered to a consent change (applied, already, not_found, failed, ...). */
    consentOutcomes: new Counter({
      name: 'consent_hub_consent_outcomes_total',
      help: "Consent changes' per-system outcomes, by system and outcome",
      labelNames: ['system', 'outcome'] as const,
      registers,
    }),
    /** One connector operation (which may page through several HTTP calls), by its result's status class. */
    vendorCalls: new Counter({
      name: 'consent_hub_vendor_calls_total',
      help: 'Connector operations, by system, operation and status class (ok, 4xx, 5xx, network, not_configured)',
      labelNames: ['system', 'operation', 'status_class'] as const,
      registers,
    }),
    vendorThrottled: new Counter({
      name: 'consent_hub_vendor_throttled_total',
      help: 'Connector operations a vendor refused with 429, by system and operation',
      labelNames: ['system', 'operation'] as const,
      registers,
    }),
    activityRetries: new Counter({
      name: 'consent_hub_activity_retries_total',
      help: 'Activity attempts after the first, by activity type and system',
      labelNames: ['activity', 'system'] as const,
      registers,
    }),
    activityDuration: new Histogram({
      name: 'consent_hub_activity_duration_seconds',
      help: 'Activity attempt latency, by activity type, system and result',
      labelNames: ['activity', 'system', 'result'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    reconciliationDriftFound: new Counter({
      name: 'consent_hub_reconciliation_drift_found_total',
      help: 'Drift found by reconciliation runs, by kind of drift',
      labelNames: ['kind'] as const,
      registers,
    }),
    reconciliationRepairsStarted: new Counter({
      name: 'consent_hub_reconciliation_repairs_started_total',
      help: 'Repairs (opt-outs carried, erasures repeated) reconciliation runs started',
      registers,
    }),
    reconciliationNeedsAttention: new Counter({
      name: 'consent_hub_reconciliation_needs_attention_total',
      help: 'Drift reconciliation reported for a person to decide (not repaired), by kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    httpRequests: new Histogram({
      name: 'consent_hub_http_request_duration_seconds',
      help: 'API requests, by route pattern (never the URL), method and status',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    /** Gauges computed at scrape time (requests needing attention, overdue). */
    gauge(name: string, help: string, labelNames: string[], collect: (gauge: Gauge) => Promise<void>) {
      return new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          await collect(this);
        },
      });
    },
  };
}

export type HubMetrics = ReturnType<typeof createHubMetrics>;

/** `2xx`-style class of an HTTP status; `network` when the vendor never answered. */
export function statusClass(status: number | undefined): string {
  if (status === undefined) return 'network';
  return `${Math.floor(status / 100)}xx`;
}
