import { Command } from 'commander';
import { createLogger } from '../../logging/logger.js';
import { installTemporalRuntimeLogger } from '../../temporal/runtime-logger.js';
import { runWorker } from '../../workers/run-worker.js';
import { loadHubConfig } from '../load-config.js';

export const workerCommand = new Command('worker')
  .description('run only the worker, configured by the environment (production)')
  .action(async () => {
    const config = loadHubConfig();
    const logger = createLogger({
      level: config.LOG_LEVEL,
      format: config.LOG_FORMAT,
      name: 'consent-hub-worker',
    });
    installTemporalRuntimeLogger(logger);
    await runWorker(config, logger);
  });
