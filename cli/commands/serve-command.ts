import { Command } from 'commander';
import { runApiServer } from '../../api/run-api-server.js';
import { createLogger } from '../../logging/logger.js';
import { loadHubConfig } from '../load-config.js';

export const serveCommand = new Command('serve')
  .description('run the intake HTTP API and the Mailchimp webhook, configured by the environment')
  .action(async () => {
    const config = loadHubConfig();
    const logger = createLogger({
      level: config.LOG_LEVEL,
      format: config.LOG_FORMAT,
      name: 'consent-hub-api',
    });
    await runApiServer(config, logger);
  });
