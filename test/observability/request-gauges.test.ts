import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestErasure } from '../../hub-client/erasures.js';
import { createHubMetrics } from '../../observability/hub-metrics.js';
import { registerRequestGauges } from '../../observability/request-gauges.js';
import { hubContext } from '../api/api-test-kit.js';
import { connectTestTemporal } from '../support/temporal.js';

const daysAgo = (days: number) => new Date(Date.now() - days * 24 * 3600 * 1000).toISOString();

function sample(text: string, name: string, kind: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`kind="${kind}"`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('consent_hub_requests_overdue counts running requests past their DueAt, on this hub’s queue', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;

  beforeAll(async () => {
    temporal = await connectTestTemporal('request-gauges');
  });
  afterAll(async () => {
    await temporal?.close();
  });

  it('counts an erasure received 32 days ago, not one received today, and nothing of another queue', async () => {
    // No worker: signal-with-start makes the workflows, running, with their search attributes.
    const context = hubContext(temporal, temporal.taskQueue);
    const requested = { requestedBy: 'test:gauges', requestedAt: new Date().toISOString() };
    const late = await requestErasure(context, {
      ...requested,
      email: `late.${randomUUID()}@example.com`,
      receivedAt: daysAgo(32),
    });
    await requestErasure(context, { ...requested, email: `today.${randomUUID()}@example.com` });
    const elsewhere = hubContext(temporal, `${temporal.taskQueue}-other-hub`);
    await requestErasure(elsewhere, {
      ...requested,
      email: `other.${randomUUID()}@example.com`,
      receivedAt: daysAgo(40),
    });

    const metrics = createHubMetrics('worker');
    registerRequestGauges(metrics, temporal.client, {
      overdueAfter: '30 days',
      taskQueue: temporal.taskQueue,
      cacheMs: 0,
    });
    // Visibility is eventually consistent: the new workflows show within a moment.
    let overdue: number | undefined;
    for (let i = 0; i < 40 && overdue !== 1; i++) {
      overdue = sample(await metrics.registry.metrics(), 'consent_hub_requests_overdue', 'erasure');
      if (overdue !== 1) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(overdue).toBe(1);
    expect(sample(await metrics.registry.metrics(), 'consent_hub_requests_overdue', 'access')).toBe(0);
    expect(late.dueAt < new Date().toISOString()).toBe(true);
    await Promise.all(
      [context, elsewhere].map(async (hub) => {
        for await (const run of temporal.client.workflow.list({
          query: `TaskQueue = '${hub.taskQueue}' AND ExecutionStatus = 'Running'`,
        }))
          await temporal.client.workflow.getHandle(run.workflowId, run.runId).terminate('test over');
      }),
    );
  });
});
