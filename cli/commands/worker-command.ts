import { Command } from 'commander';
import { loadHubConfig } from '../load-config.js';

export const workerCommand = new Command('worker')
  .description('run only the worker, configured by the environment (production)')
  .action(async () => {
    const config = loadHubConfig();
    // Loaded here, not at the top: the worker SDK and every vendor SDK take seconds to load, and no other
    // command needs them.
    const [{ createLogger }, { runWorker }] = await Promise.all([
      import('../../logging/logger.js'),
      import('../../workers/run-worker.js'),
    ]);
    const logger = createLogger({
      level: config.LOG_LEVEL,
      format: config.LOG_FORMAT,
      name: 'consent-hub-worker',
    });
    await runWorker(config, logger);
  });
