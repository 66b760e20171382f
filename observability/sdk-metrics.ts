import { createServer } from 'node:net';

/** A free loopback port, for the SDK's own exporter that only this process reads. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The Temporal SDK runtime (Core) exports its metrics (polls, task latencies, slots, sticky cache, activity
 * and workflow task failures) through its own Prometheus exporter. It listens on a loopback port only, and
 * the worker's `/metrics` appends that text to the hub's, so Prometheus scrapes one endpoint per process.
 */
export function sdkMetricsReader(bindAddress: string): () => Promise<string> {
  return async () => {
    try {
      const response = await fetch(`http://${bindAddress}/metrics`, { signal: AbortSignal.timeout(3000) });
      return response.ok ? await response.text() : '';
    } catch {
      // The exporter starts with the first worker; until then there is nothing of the SDK's to show.
      return '';
    }
  };
}
