import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { inject } from 'vitest';
import { type ActivityDependencies, createActivities } from '../../activities/create-activities.js';
import { workStarterFor } from '../../hub-client/client-context.js';
import type { ConsentClientContext } from '../../hub-client/consent.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { createLogger } from '../../logging/logger.js';
import { dataConverterFor, subjectDataKeysOf } from '../../privacy/data-converter.js';
import type { EncryptionKey } from '../../privacy/encryption-keys.js';
import { installTemporalRuntimeLogger } from '../../temporal/runtime-logger.js';
import { createHubWorkers, type HubWorkerOptions } from '../../workers/create-worker.js';
import { vendorQueues } from '../../workers/vendor-queues.js';

/** Fresh secrets for one test file, as `consent-hub dev` would create them. */
export function testSecrets() {
  const encryptionKeys: EncryptionKey[] = [
    { id: `test-${randomBytes(3).toString('hex')}`, key: randomBytes(32) },
  ];
  return { subjectKeySecret: randomBytes(32).toString('hex'), encryptionKeys };
}

export const silentLogger = createLogger({ level: 'silent', format: 'json' });

/**
 * Connects a test file to the run's dev server, with its own task queue so that files never pick up each
 * other's tasks. Close it in afterAll.
 */
export async function connectTestTemporal(
  name: string,
  /** A ledger whose subject data keys the client and worker share (crypto-shredding); else master key only. */
  options: { subjectKeyLedger?: Ledger } = {},
) {
  // Failing activities are what many tests are about; only errors are worth printing.
  installTemporalRuntimeLogger(createLogger({ level: 'error', format: 'json' }));
  const address = inject('temporalAddress');
  const namespace = inject('temporalNamespace');
  const secrets = testSecrets();
  const dataConverter = dataConverterFor(secrets.encryptionKeys, options.subjectKeyLedger);
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace, dataConverter });
  const taskQueue = `${name}-${randomUUID()}`;

  /** The context a CLI or API process would build, with timings short enough for tests. */
  const testClientContext = (): ConsentClientContext & { shredPollEvery: string } => {
    const timings = {
      attentionAfter: '2 minutes',
      operatorDeadline: '5 minutes',
      heartbeatTimeout: '5 seconds',
    };
    return {
      client,
      taskQueue,
      subjectKeySecret: secrets.subjectKeySecret,
      timings,
      consentTimings: { ...timings, idleAfter: '5 seconds' },
      shredPollEvery: '1 second',
    };
  };

  return {
    client,
    namespace,
    taskQueue,
    secrets,
    dataConverter,
    context: testClientContext,
    /**
     * Starts a worker on this file's task queue with the given connectors, and a fresh SQLite ledger unless
     * one is given; stop it with stop().
     */
    async startWorker(
      deps: Partial<ActivityDependencies> & Pick<ActivityDependencies, 'connectors'>,
      workerOptions?: HubWorkerOptions['workerOptions'],
    ) {
      const ledger: Ledger =
        deps.ledger ??
        options.subjectKeyLedger ??
        (await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'consent-hub-ledger-')) }, silentLogger));
      // As production runs it: each vendor's activities on the vendor's queue next to this file's queue.
      const worker = await createHubWorkers({
        vendorQueues: vendorQueues(taskQueue, {}),
        connection: nativeConnection,
        namespace,
        taskQueue,
        activities: createActivities({
          logger: silentLogger,
          subjectKeySecret: secrets.subjectKeySecret,
          starter: workStarterFor(testClientContext(), ledger),
          subjectKeys: subjectDataKeysOf(dataConverter),
          ...deps,
          ledger,
        }),
        dataConverter,
        logger: deps.logger ?? silentLogger,
        workflowBundle: { codePath: inject('workflowBundlePath') },
        workerOptions,
      });
      const running = worker.run();
      return {
        worker,
        ledger,
        async stop() {
          worker.shutdown();
          await running;
          if (!deps.ledger && !options.subjectKeyLedger) await ledger.close();
        },
      };
    },
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}
