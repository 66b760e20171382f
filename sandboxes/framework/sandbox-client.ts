import type { FaultInput, RequestLogEntry } from './sandbox-controls.js';

/**
 * Drives a running sandbox's /__sandbox/ controls over HTTPS, for tests and demos. The process must trust
 * the local CA (NODE_EXTRA_CA_CERTS).
 */
export class SandboxClient {
  constructor(readonly baseUrl: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}/__sandbox${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`sandbox ${method} ${path} answered ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  state<T = unknown>(): Promise<T> {
    return this.call('GET', '/state');
  }
  requests(): Promise<RequestLogEntry[]> {
    return this.call('GET', '/requests');
  }
  clearRequests(): Promise<unknown> {
    return this.call('DELETE', '/requests');
  }
  setLatency(ms: number): Promise<unknown> {
    return this.call('PUT', '/latency', { ms });
  }
  fail(fault: FaultInput): Promise<unknown> {
    return this.call('POST', '/faults', fault);
  }
  clearFaults(): Promise<unknown> {
    return this.call('DELETE', '/faults');
  }
  outage(on: boolean): Promise<unknown> {
    return this.call('PUT', '/outage', { on });
  }
  reset(): Promise<unknown> {
    return this.call('POST', '/reset');
  }
  seed(data: unknown): Promise<unknown> {
    return this.call('POST', '/seed', data);
  }
}
