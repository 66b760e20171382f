import { setTimeout as delay } from 'node:timers/promises';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { LocalTls } from './local-ca.js';
import {
  type Fault,
  faultSchema,
  latencySchema,
  outageSchema,
  type RequestLogEntry,
} from './sandbox-controls.js';
import type { SandboxDefinition, SandboxStore, VendorErrorReply } from './sandbox-definition.js';

export interface StartSandboxOptions<Options> {
  tls: LocalTls;
  /** 0 picks a free port. */
  port?: number;
  /** Vendor-specific options, passed to createStore. */
  options: Options;
  latencyMs?: number;
  /** Keeps the request log bounded in long demo sessions. */
  maxLogEntries?: number;
}

export interface RunningSandbox<Store> {
  vendor: string;
  url: string;
  store: Store;
  close(): Promise<void>;
}

const controlPrefix = '/__sandbox';

/** Starts one vendor's sandbox on HTTPS, with the shared inspection and fault controls under /__sandbox/. */
export async function startSandbox<Store extends SandboxStore<Seed>, Seed, Options>(
  definition: SandboxDefinition<Store, Seed, Options>,
  start: StartSandboxOptions<Options>,
): Promise<RunningSandbox<Store>> {
  const store = definition.createStore(start.options);
  const maxLog = start.maxLogEntries ?? 10_000;
  let latencyMs = start.latencyMs ?? 0;
  let outage = false;
  let faults: Fault[] = [];
  let log: RequestLogEntry[] = [];
  let seq = 0;
  let url = '';

  const app = Fastify({
    // Node's default of 16 KB for a request's head would refuse long URLs before any vendor's own limit
    // (Dataverse takes URLs up to 32 KB) could be judged by the sandbox.
    https: { key: start.tls.key, cert: start.tls.cert, maxHeaderSize: 128 * 1024 },
    logger: false,
    bodyLimit: 10 * 1024 * 1024,
    forceCloseConnections: true,
    // Dataverse keys look like /contacts(<guid>); the default router would treat parentheses as text anyway.
    routerOptions: { ignoreTrailingSlash: true },
  });
  await app.register(formbody);

  const sendVendorError = (reply: FastifyReply, status: number, vendorReply: VendorErrorReply) => {
    reply.code(status).header('content-type', vendorReply.contentType);
    for (const [name, value] of Object.entries(vendorReply.headers ?? {})) reply.header(name, value);
    return reply.send(JSON.stringify(vendorReply.body));
  };

  const isControl = (request: FastifyRequest) => request.url.startsWith(controlPrefix);
  const releases = new WeakMap<FastifyRequest, () => void>();

  /** The first fault matching the request (with `body` set only once the body is read), used up by one. */
  const takeFault = (request: FastifyRequest, body?: string) => {
    const path = request.url.split('?')[0] ?? '';
    const fault = faults.find(
      (f) =>
        (!f.method || f.method === request.method) &&
        new RegExp(f.path).test(path) &&
        (f.body === undefined ? body === undefined : body !== undefined && new RegExp(f.body).test(body)),
    );
    if (!fault) return undefined;
    fault.count -= 1;
    if (fault.count <= 0) faults = faults.filter((f) => f !== fault);
    return fault;
  };
  const sendFault = (reply: FastifyReply, fault: Fault) => {
    const vendorReply = definition.errorReply(fault.status, fault.message);
    if (fault.retryAfter !== undefined) {
      vendorReply.headers = { ...vendorReply.headers, 'retry-after': String(fault.retryAfter) };
    }
    return sendVendorError(reply, fault.status, vendorReply);
  };

  app.addHook('preHandler', async (request, reply) => {
    if (isControl(request) || !faults.some((f) => f.body !== undefined)) return;
    const fault = takeFault(request, JSON.stringify(request.body ?? null));
    if (fault) return sendFault(reply, fault);
  });

  app.addHook('onRequest', async (request, reply) => {
    if (isControl(request)) return;
    if (outage) {
      // An outage looks like an unreachable host: the connection drops without an answer.
      reply.hijack();
      request.raw.socket.destroy();
      return;
    }
    const fault = takeFault(request);
    if (fault) return sendFault(reply, fault);
    const admission = definition.admit?.(request, store);
    if (admission?.rejected)
      return sendVendorError(reply, admission.rejected.status, admission.rejected.reply);
    if (admission?.release) releases.set(request, admission.release);
    if (latencyMs > 0 && !definition.isInnerRequest?.(request)) await delay(latencyMs);
  });

  const release = (request: FastifyRequest) => {
    releases.get(request)?.();
    releases.delete(request);
  };
  // The slot is given back as the answer leaves, so a client that sends its next request the moment it
  // reads this answer never finds its own previous request still counted.
  app.addHook('onSend', async (request, _reply, payload) => {
    release(request);
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    release(request);
    if (isControl(request)) return;
    log.push({
      seq: ++seq,
      method: request.method,
      path: request.url.split('?')[0] ?? '',
      status: reply.statusCode,
      at: new Date().toISOString(),
      durationMs: Math.round(reply.elapsedTime),
      ...(definition.isInnerRequest?.(request) ? { inner: true as const } : {}),
    });
    if (log.length > maxLog) log = log.slice(log.length - maxLog);
  });

  // A request that never got a response (a dropped connection) must still give its slot back.
  app.addHook('onRequestAbort', async (request) => release(request));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (isControl(request)) return reply.code(status).send({ error: error.message });
    return sendVendorError(reply, status, definition.errorReply(status, error.message));
  });

  await app.register(
    async (controls) => {
      controls.get('/state', async () => store.snapshot());
      controls.get('/requests', async () => log);
      controls.delete('/requests', async () => {
        log = [];
        return { cleared: true };
      });
      controls.put('/latency', async (request) => {
        latencyMs = latencySchema.parse(request.body).ms;
        return { ms: latencyMs };
      });
      controls.get('/faults', async () => faults);
      controls.post('/faults', async (request) => {
        const fault = faultSchema.parse(request.body);
        faults.push(fault);
        return fault;
      });
      controls.delete('/faults', async () => {
        faults = [];
        return { cleared: true };
      });
      controls.put('/outage', async (request) => {
        outage = outageSchema.parse(request.body).on;
        return { on: outage };
      });
      controls.post('/reset', async () => {
        store.reset();
        faults = [];
        log = [];
        latencyMs = start.latencyMs ?? 0;
        outage = false;
        return { reset: true };
      });
      controls.post('/seed', async (request) => {
        store.seed(definition.seedSchema.parse(request.body));
        return { seeded: true };
      });
      controls.setErrorHandler((error: FastifyError, _request, reply) => {
        const issues = (error as { issues?: unknown }).issues;
        return reply.code(issues ? 400 : (error.statusCode ?? 500)).send({ error: error.message, issues });
      });
    },
    { prefix: controlPrefix },
  );

  definition.routes(app, { store, baseUrl: () => url });

  await app.listen({ port: start.port ?? 0, host: 'localhost' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : start.port;
  url = `https://localhost:${port}`;

  return {
    vendor: definition.vendor,
    url,
    store,
    close: () => app.close(),
  };
}
