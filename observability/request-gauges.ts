import type { Client } from '@temporalio/client';
import { msToNumber } from '@temporalio/common';
import type { HubMetrics } from './hub-metrics.js';

/**
 * Gauges read from Temporal's visibility store at scrape time, so they are right whichever worker did the
 * work and survive restarts: requests needing an operator, and requests still running past the deadline
 * (`overdueAfter`, a Temporal duration; GDPR's one month by default). Counts are cached for `cacheMs` so
 * several scrapers cost one query each per window.
 */
export function registerRequestGauges(
  metrics: HubMetrics,
  client: Client,
  options: { overdueAfter: string; cacheMs?: number },
): void {
  const cacheMs = options.cacheMs ?? 15_000;
  const cache = new Map<string, { at: number; value: number }>();
  const count = async (query: string): Promise<number> => {
    const cached = cache.get(query);
    if (cached && Date.now() - cached.at < cacheMs) return cached.value;
    const { count: value } = await client.workflow.count(query);
    cache.set(query, { at: Date.now(), value });
    return value;
  };
  const kinds = [
    { kind: 'erasure', attribute: 'ErasureStatus', type: 'erasureWorkflow' },
    { kind: 'consent_change', attribute: 'ConsentStatus', type: 'consentWorkflow' },
  ];

  metrics.gauge(
    'consent_hub_requests_needing_attention',
    'Running requests waiting for an operator (retry or close), by kind',
    ['kind'],
    async (gauge) => {
      for (const { kind, attribute } of kinds) {
        gauge.set({ kind }, await count(`${attribute} = 'needs_attention' AND ExecutionStatus = 'Running'`));
      }
    },
  );
  metrics.gauge(
    'consent_hub_requests_overdue',
    'Erasures still running after the overdue threshold (CONSENT_HUB_OVERDUE_AFTER)',
    ['kind'],
    async (gauge) => {
      const before = new Date(Date.now() - msToNumber(options.overdueAfter as '1d')).toISOString();
      gauge.set(
        { kind: 'erasure' },
        await count(
          `WorkflowType = 'erasureWorkflow' AND ExecutionStatus = 'Running' AND StartTime < '${before}'`,
        ),
      );
    },
  );
}
