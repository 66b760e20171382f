import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hubConfigSchema } from '../../config/hub-config.js';
import { createHubMetrics } from '../../observability/hub-metrics.js';

const root = join(import.meta.dirname, '..', '..');
const dashboard = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'consent-hub.json'), 'utf8')) as {
  uid: string;
  panels: { title: string; targets: { expr: string }[] }[];
};

describe('the Grafana dashboard shows the metrics the hub exports', () => {
  it('queries only consent_hub_ series that the worker or the API registers', async () => {
    const metrics = createHubMetrics('worker');
    // Scrape-time gauges are registered by the worker (observability/request-gauges.ts).
    const known = new Set([
      ...(await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name),
      'consent_hub_requests_needing_attention',
      'consent_hub_requests_overdue',
    ]);
    const used = dashboard.panels.flatMap((panel) =>
      panel.targets.flatMap((target) => [...target.expr.matchAll(/\bconsent_hub_\w+/g)].map((m) => m[0])),
    );
    expect(used.length).toBeGreaterThan(10);
    const unknown = used
      .map((name) => name.replace(/_(bucket|count|sum)$/, ''))
      .filter((name) => !known.has(name));
    expect(unknown).toEqual([]);
  });

  it('is scraped where the hub listens by default, and provisioned by its uid', () => {
    const prometheus = readFileSync(join(root, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8');
    const port = hubConfigSchema.shape.CONSENT_HUB_METRICS_PORT.parse(undefined);
    expect(prometheus).toContain(`worker:${port}`);
    expect(prometheus).toContain(`api:${port}`);
    expect(dashboard.uid).toBe('consent-hub');
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain(
      './deploy/grafana/consent-hub.json:/var/lib/grafana/dashboards/consent-hub.json',
    );
  });
});
