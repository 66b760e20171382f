import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { checkReadiness, type ReadinessCheck } from './readiness.js';

export interface OpsServerOptions {
  host: string;
  /** 0 picks a free port (tests); the bound port is in the result. */
  port: number;
  registry: Registry;
  readiness: ReadinessCheck[];
  /** More Prometheus text to append to /metrics (the Temporal SDK runtime's own metrics). */
  extraMetrics?: () => Promise<string>;
}

export interface RunningOpsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The small HTTP listener every hub process has for its operators: `GET /metrics` (Prometheus text),
 * `GET /healthz` (the process is alive: 200 while it runs) and `GET /readyz` (200 when every readiness check
 * passes, else 503, with each check's result as JSON). Nothing else is served: it holds no request data.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<RunningOpsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return send(405, 'application/json', '{"error":"only GET"}');
    }
    if (path === '/healthz') return send(200, 'application/json', '{"status":"ok"}');
    if (path === '/readyz') {
      void checkReadiness(options.readiness).then(
        (report) => send(report.ready ? 200 : 503, 'application/json', JSON.stringify(report)),
        (error: Error) =>
          send(503, 'application/json', JSON.stringify({ ready: false, error: error.message })),
      );
      return;
    }
    if (path === '/metrics') {
      void Promise.all([options.registry.metrics(), options.extraMetrics?.() ?? Promise.resolve('')]).then(
        ([own, extra]) => send(200, options.registry.contentType, `${own}\n${extra}`),
        (error: Error) => send(500, 'text/plain', `metrics failed: ${error.message}\n`),
      );
      return;
    }
    send(404, 'application/json', '{"error":"not found; try /metrics, /healthz or /readyz"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `The operations port ${options.host}:${options.port} (/metrics, /healthz, /readyz) is taken; set CONSENT_HUB_METRICS_PORT to a free port (0 picks one).`,
            )
          : error,
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
