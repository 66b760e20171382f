import { type LogLevel, type LogMetadata, Runtime } from '@temporalio/worker';
import type { Logger } from '../logging/logger.js';

let installed = false;

/**
 * Sends the Temporal SDK's own logs (worker state, workflow and activity logs) through the hub's pino logger,
 * so they get the same redaction and format. Must run before the first worker or native connection exists.
 */
export function installTemporalRuntimeLogger(
  logger: Logger,
  options: {
    /** Where the SDK runtime's own Prometheus exporter listens (host:port); unset, it exports nothing. */
    metricsBindAddress?: string;
  } = {},
): void {
  if (installed) return;
  installed = true;
  const sdk = logger.child({ component: 'temporal-sdk' });
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const method = { TRACE: 'trace', DEBUG: 'debug', INFO: 'debug', WARN: 'warn', ERROR: 'error' }[level] as
      | 'trace'
      | 'debug'
      | 'warn'
      | 'error';
    sdk[method](meta ?? {}, message);
  };
  Runtime.install({
    ...(options.metricsBindAddress
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: options.metricsBindAddress,
                countersTotalSuffix: true,
                useSecondsForDurations: true,
              },
            },
          },
        }
      : {}),
    logger: {
      log: write,
      trace: (message, meta) => write('TRACE', message, meta),
      debug: (message, meta) => write('DEBUG', message, meta),
      info: (message, meta) => write('INFO', message, meta),
      warn: (message, meta) => write('WARN', message, meta),
      error: (message, meta) => write('ERROR', message, meta),
    },
  });
}
