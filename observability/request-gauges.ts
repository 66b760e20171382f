import type { Client } from '@temporalio/client';
import { msToNumber } from '@temporalio/common';
import { requestKinds } from '../domain/request-deadline.js';
import type { HubMetrics } from './hub-metrics.js';

/**
 * Gauges read from Temporal's visibility store at scrape time, so they are right whichever worker did the
 * work and survive restarts: requests needing an operator, and requests still running past their deadline
 * (the `DueAt` search attribute: receipt + one calendar month + any extension; a workflow started before
 * `DueAt` existed counts once it has run `overdueAfter`, a Temporal duration). With `taskQueue`, only this
 * hub's workflows count (a namespace may hold several hubs). Counts are cached for `cacheMs` so several
 * scrapers cost one query each per window.
 */
export function registerRequestGauges(
  metrics: HubMetrics,
  client: Client,
  options: { overdueAfter: string; cacheMs?: number; taskQueue?: string },
): void {
  // A queue name is checked before it goes into a query, as listErasures does.
  const queue =
    options.taskQueue && /^[\w.:/-]+$/.test(options.taskQueue)
      ? ` AND TaskQueue = '${options.taskQueue}'`
      : '';
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
        gauge.set(
          { kind },
          await count(`${attribute} = 'needs_attention' AND ExecutionStatus = 'Running'${queue}`),
        );
      }
    },
  );
  metrics.gauge(
    'consent_hub_requests_overdue',
    'Requests still running past their deadline (DueAt: receipt + 1 calendar month + extensions), by kind',
    ['kind'],
    async (gauge) => {
      // To the minute, so the query text (the cache's key) stays the same between scrapes.
      const minute = Math.floor(Date.now() / 60_000) * 60_000;
      const now = new Date(minute).toISOString();
      const before = new Date(minute - msToNumber(options.overdueAfter as '1d')).toISOString();
      const running = `ExecutionStatus = 'Running'${queue}`;
      // `kind` comes from the fixed list in domain/request-deadline.ts, never from input.
      for (const kind of requestKinds.filter((k) => k !== 'consent')) {
        let overdue = await count(`RequestKind = '${kind}' AND DueAt < '${now}' AND ${running}`);
        if (kind === 'erasure') {
          overdue += await count(
            `WorkflowType = 'erasureWorkflow' AND RequestKind IS NULL AND StartTime < '${before}' AND ${running}`,
          );
        }
        gauge.set({ kind }, overdue);
      }
    },
  );
}
