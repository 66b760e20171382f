import type { FastifyInstance } from 'fastify';
import type { HubMetrics } from '../observability/hub-metrics.js';
import { checkReadiness, type ReadinessCheck } from '../observability/readiness.js';

export interface ApiObservability {
  metrics: HubMetrics;
  readiness: ReadinessCheck[];
}

/** Which accepted (202) routes start which kind of request, and where it came in. */
const acceptedRoutes: Record<string, { kind: string; source: string }> = {
  'POST /v1/erasures': { kind: 'erasure', source: 'api' },
  'POST /v1/consent-events': { kind: 'consent_change', source: 'api' },
  'POST /webhooks/mailchimp/:secret': { kind: 'consent_change', source: 'mailchimp_webhook' },
};

/**
 * `/readyz` on the API's own port (200 when Temporal and the ledger answer, else 503 with each check's
 * result), and per-request metrics labelled by the route pattern, never the URL (the webhook's secret is
 * in it) and never anything from the body.
 */
export function registerApiObservability(app: FastifyInstance, observability: ApiObservability): void {
  app.get('/readyz', async (_request, reply) => {
    const report = await checkReadiness(observability.readiness);
    return reply.code(report.ready ? 200 : 503).send(report);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '(no route)';
    const status = reply.statusCode;
    observability.metrics.httpRequests.observe(
      { route, method: request.method, status: String(status) },
      reply.elapsedTime / 1000,
    );
    const accepted = acceptedRoutes[`${request.method} ${route}`];
    if (accepted && status === 202) observability.metrics.requestsAccepted.inc(accepted);
  });
}
