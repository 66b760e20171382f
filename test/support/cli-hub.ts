import type { FastifyInstance } from 'fastify';
import { vi } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import type { Ledger } from '../../ledger/ledger.js';
import { buildTestApi, hubContext } from '../api/api-test-kit.js';
import { cliDataDir, cliEnvironment, ledgerIn } from '../cli/cli-test-kit.js';
import { connectTestTemporal } from './temporal.js';

/**
 * What `consent-hub` talks to in a CLI test file: a fresh data directory whose SQLite ledger the CLI, this
 * test's client and the worker share (the CLI seals each person's payloads with a data key kept there), the
 * file's own Temporal task queue (`name`), the CLI's environment pointed at them with `vi.stubEnv`, and a
 * worker over `connectors`. With `apiKey`, also the HTTP API on the same hub, which `api` calls with that key.
 * close() stops all of it and restores the environment; call it in afterAll.
 */
export async function startCliHub(name: string, connectors: ConnectorSet, options: { apiKey?: string } = {}) {
  const dataDir = cliDataDir();
  const ledger: Ledger = await ledgerIn(dataDir);
  const parts: {
    temporal?: Awaited<ReturnType<typeof connectTestTemporal>>;
    worker?: { stop(): Promise<void> };
    app?: FastifyInstance;
  } = {};
  const close = async () => {
    vi.unstubAllEnvs();
    await parts.app?.close();
    await parts.worker?.stop();
    await ledger.close();
    await parts.temporal?.close();
  };
  try {
    const temporal = await connectTestTemporal(name, { subjectKeyLedger: ledger });
    parts.temporal = temporal;
    const { env } = cliEnvironment(temporal, dataDir);
    for (const [variable, value] of Object.entries(env)) vi.stubEnv(variable, value);
    parts.worker = await temporal.startWorker({ connectors, ledger });
    if (options.apiKey !== undefined)
      parts.app = await buildTestApi({
        hub: hubContext(temporal, temporal.taskQueue),
        ledger,
        key: options.apiKey,
      });
    const { app } = parts;
    const authorization = `Bearer ${options.apiKey}`;
    return {
      temporal,
      ledger,
      close,
      /** Calls the API with the hub's key, sending `body` (if any) as JSON. */
      api(method: 'GET' | 'POST', url: string, body?: unknown) {
        if (!app) throw new Error('startCliHub was given no apiKey: this hub has no API');
        return app.inject({
          method,
          url,
          headers:
            body === undefined ? { authorization } : { authorization, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
        });
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}
