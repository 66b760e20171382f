import { Command } from 'commander';
import { loadHubConfig } from '../load-config.js';

export const serveCommand = new Command('serve')
  .description('run the intake HTTP API and the Mailchimp webhook, configured by the environment')
  .action(async () => {
    const config = loadHubConfig();
    // Loaded on use, so that `consent-hub --help` and the other commands never load Fastify and the ledger.
    const [{ createLogger }, { runApiServer }] = await Promise.all([
      import('../../logging/logger.js'),
      import('../../api/run-api-server.js'),
    ]);
    const logger = createLogger({
      level: config.LOG_LEVEL,
      format: config.LOG_FORMAT,
      name: 'consent-hub-api',
    });
    await runApiServer(config, logger);
  });
