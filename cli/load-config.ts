import { type HubConfig, hubConfigSchema } from '../config/hub-config.js';
import { parseEnv } from '../config/parse-env.js';
import { createLogger, type Logger } from '../logging/logger.js';

export function loadHubConfig(env: NodeJS.ProcessEnv = process.env): HubConfig {
  return parseEnv(hubConfigSchema, env);
}

/** CLI commands log to stderr, so that stdout stays clean for their output and --json. */
export function cliLogger(config?: Pick<HubConfig, 'LOG_LEVEL' | 'LOG_FORMAT'>): Logger {
  // A command's own output is what a person reads; its logs stay quiet unless LOG_LEVEL asks for more.
  return createLogger({
    level: process.env.LOG_LEVEL ?? 'warn',
    format: config?.LOG_FORMAT ?? 'pretty',
    fd: 2,
  });
}
