import { Command } from 'commander';
import { z } from 'zod';
import { cliLogger } from '../load-config.js';
import { UsageError } from '../usage-error.js';

const devFlagsSchema = z.object({
  dataDir: z.string().min(1),
  temporalPort: z.coerce.number().int().min(1).max(65535),
  uiPort: z.coerce.number().int().min(1).max(65535),
  sandboxPortBase: z.coerce.number().int().min(1).max(65523),
  taskQueue: z.string().min(1),
  namespace: z.string().min(1),
  reseed: z.boolean().default(false),
});

/**
 * Loads dev/ through `load`. An install without it (the production image, `npm ci --omit=dev` after
 * pruning) gets a UsageError saying what to run instead, not Node's "Cannot find module".
 */
export async function loadDevSetup<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    throw new UsageError(
      '`consent-hub dev` needs a source checkout (npm install, then npm start): this install has no dev setup or sandboxes. Here, run `consent-hub worker` and `consent-hub serve` against a real Temporal and the vendors.',
    );
  }
}

export const devCommand = new Command('dev')
  .description(
    'run the whole hub locally: Temporal dev server and UI, vendor sandboxes, the worker and the intake API',
  )
  .option(
    '--data-dir <dir>',
    'where secrets, certificates and the Temporal database live',
    process.env.CONSENT_HUB_DATA_DIR ?? '.consent-hub',
  )
  .option('--temporal-port <port>', 'Temporal frontend port', '7233')
  .option('--ui-port <port>', 'Temporal Web UI port', '8233')
  .option(
    '--sandbox-port-base <port>',
    'first vendor sandbox port; the others follow, the API is +10, worker and API metrics +11 and +12',
    '7301',
  )
  .option(
    '--task-queue <name>',
    'task queue the worker polls',
    process.env.CONSENT_HUB_TASK_QUEUE ?? 'consent-hub',
  )
  .option('--namespace <name>', 'Temporal namespace', 'default')
  .option(
    '--reseed',
    'start the sandboxes over from the demo people (their records otherwise persist in the data dir)',
  )
  .action(async (flags) => {
    const options = devFlagsSchema.parse(flags);
    const logger = cliLogger({ LOG_LEVEL: 'info', LOG_FORMAT: undefined });
    // Loaded only when asked for: dev/ brings the sandboxes and node-forge, which a production install
    // (`npm ci --omit=dev`) does not have.
    const { runDev } = await loadDevSetup(() => import('../../dev/run-dev.js'));
    await runDev({ ...options, print: (line) => process.stdout.write(`${line}\n`) }, logger);
  });
