import { Writable } from 'node:stream';
import { createLogger } from '../../logging/logger.js';

/**
 * The hub's real logger (redaction, email scrubbing, serializers) writing JSON lines into memory, so a test
 * can read what was logged and prove what was not.
 */
export function capturingLogger(options: { level?: string } = {}) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level: options.level ?? 'debug', format: 'json', stream });
  return {
    logger,
    lines,
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
