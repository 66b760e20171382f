import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import { consolePlugin } from '../console/console-plugin.js';
import { useInputMessages } from '../domain/input-messages.js';
import type { ApiDependencies } from './api-dependencies.js';
import { registerApiObservability } from './api-observability.js';
import { openApiDocument } from './openapi.js';
import { ApiProblem, invalidBody, notFoundProblem, sendProblem } from './problem.js';
import { mailchimpWebhookRoutes } from './routes/mailchimp-webhook-routes.js';
import { v1Routes } from './routes/v1-routes.js';

/** Every body the API takes is a few hundred bytes; 64 KiB leaves room for evidence text, not for abuse. */
export const apiBodyLimit = 64 * 1024;

/**
 * The intake HTTP API as a Fastify app, built from injected dependencies so tests build it the same way
 * `consent-hub serve` does. It holds no work in memory: a 202 is sent only once Temporal has the request.
 */
export async function createApiServer(deps: ApiDependencies): Promise<FastifyInstance> {
  useInputMessages();
  const app = Fastify({
    // Fastify's own request logging writes URLs (the webhook's secret is in one) and can be made to write
    // bodies; this app logs one redacted line per request itself (below).
    logger: false,
    disableRequestLogging: true,
    bodyLimit: apiBodyLimit,
    return503OnClosing: true,
  });

  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the URL: `/webhooks/mailchimp/:secret`, not the secret.
    deps.logger.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(no route)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'api request',
    );
  });

  app.setErrorHandler((error: FastifyError | ApiProblem | ZodError, _request, reply) => {
    if (error instanceof ApiProblem) return sendProblem(reply, error);
    // A domain schema re-checked inside a hub-client call: still the caller's input.
    if (error instanceof ZodError) return sendProblem(reply, invalidBody(error));
    const status = 'statusCode' in error ? error.statusCode : undefined;
    if (status !== undefined && status >= 400 && status < 500) {
      // Fastify's own refusals: malformed JSON, body too large (413), unsupported content type (415).
      // Its messages name the problem (never the body's content), so they are safe to return.
      const detail =
        status === 415
          ? 'Send the body as JSON, with the header Content-Type: application/json.'
          : error.message;
      return sendProblem(reply, new ApiProblem(status, titleFor(status), detail));
    }
    deps.logger.error({ err: error }, 'api request failed');
    return sendProblem(
      reply,
      new ApiProblem(500, 'Internal Server Error', 'The request could not be handled; it is safe to retry.'),
    );
  });
  app.setNotFoundHandler((_request, reply) => sendProblem(reply, notFoundProblem()));

  const openApi = JSON.stringify(openApiDocument());
  app.get('/openapi.json', async (_request, reply) => reply.type('application/json').send(openApi));
  app.get('/healthz', async () => ({ status: 'ok' }));
  if (deps.observability) registerApiObservability(app, deps.observability);

  await app.register(v1Routes(deps), { prefix: '/v1' });
  // The operator console: its own pages, cookies and CSRF checks, encapsulated under /console.
  await app.register(consolePlugin(deps), { prefix: '/console' });
  const secret = deps.config.CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET;
  // Without a configured secret the webhook does not exist: every path under it is a 404.
  if (secret) await app.register(mailchimpWebhookRoutes(deps, secret), { prefix: '/webhooks/mailchimp' });
  return app;
}

function titleFor(status: number): string {
  const titles: Record<number, string> = {
    400: 'Bad Request',
    404: 'Not Found',
    405: 'Method Not Allowed',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    429: 'Too Many Requests',
  };
  return titles[status] ?? 'Bad Request';
}
