import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectorSet } from '../../activities/create-activities.js';
import { buildConnectors } from '../../connectors/registry.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import type { Logger } from '../../logging/logger.js';
import { AccessExportStore } from '../../privacy/access-export-store.js';
import { connectTestTemporal, silentLogger } from './temporal.js';
import { startVendorSandboxes } from './vendor-sandboxes.js';

/**
 * The hub as one process runs it, for tests about whole flows: the three vendor sandboxes, the real
 * connectors built from the environment they give, a fresh SQLite ledger, and a worker on the test's own
 * task queue. Close it in afterAll.
 */
export async function startHubWithVendors(
  name: string,
  options: {
    /** Wraps the ledger the worker writes to (a test that stops a write at an exact point, say). */
    wrapLedger?: (ledger: Ledger) => Ledger;
    /** The logger of the connectors, activities and worker (a capturing one, to read what was logged). */
    logger?: Logger;
    /** Gives the worker an access export store in a fresh directory (returned as `accessExports`). */
    accessExports?: boolean;
    /**
     * Seals payloads with each person's data key kept in this ledger, as production does (crypto-shredding);
     * without it, everything is under the master key and activities have no subject data keys.
     */
    subjectKeys?: boolean;
    /** The vendor sandboxes' options (Google's lifted pace, say) and env the connectors read on top. */
    vendors?: Parameters<typeof startVendorSandboxes>[0];
    env?: NodeJS.ProcessEnv;
    /** Wraps the real connectors (a test that shortens Google's wait for its daily quota's reset, say). */
    wrapConnectors?: (
      connectors: ConnectorSet,
      vendors: Awaited<ReturnType<typeof startVendorSandboxes>>,
    ) => ConnectorSet;
  } = {},
) {
  const opened: Ledger = await openLedger(
    { dataDir: mkdtempSync(join(tmpdir(), `${name}-ledger-`)) },
    silentLogger,
  );
  const temporal = await connectTestTemporal(name, options.subjectKeys ? { subjectKeyLedger: opened } : {});
  const vendors = await startVendorSandboxes(options.vendors);
  const ledger = options.wrapLedger ? options.wrapLedger(opened) : opened;
  const built: ConnectorSet = buildConnectors(
    { ...process.env, ...vendors.env, ...options.env },
    options.logger ?? silentLogger,
  ).connectors;
  const connectors = options.wrapConnectors ? options.wrapConnectors(built, vendors) : built;
  const logger = options.logger ?? silentLogger;
  const accessExports = options.accessExports
    ? new AccessExportStore(mkdtempSync(join(tmpdir(), `${name}-exports-`)), temporal.secrets.encryptionKeys)
    : undefined;
  const exports = accessExports ? { accessExports } : {};
  let worker = await temporal.startWorker({ connectors, ledger, logger, ...exports });
  return {
    temporal,
    vendors,
    ledger,
    connectors,
    accessExports,
    /** Stops the worker and starts another, as a deploy or a crash-and-restart would. */
    async restartWorker() {
      await worker.stop();
      worker = await temporal.startWorker({ connectors, ledger, logger, ...exports });
    },
    async close() {
      await worker.stop();
      await opened.close();
      await vendors.close();
      await temporal.close();
    },
  };
}
