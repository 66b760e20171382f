import { Command } from 'commander';
import { loadHubConfig } from '../load-config.js';

export const codecServerCommand = new Command('codec-server')
  .description(
    'serve /encode and /decode for the Temporal UI and `temporal workflow show --codec-endpoint` (needs an API key)',
  )
  .action(async () => {
    const config = loadHubConfig();
    const [{ createLogger }, { runCodecServer }] = await Promise.all([
      import('../../logging/logger.js'),
      import('../../api/run-codec-server.js'),
    ]);
    const logger = createLogger({
      level: config.LOG_LEVEL,
      format: config.LOG_FORMAT,
      name: 'consent-hub-codec',
    });
    await runCodecServer(config, logger);
  });
