import pino, { type Logger } from 'pino';
import { scrubAddresses } from '../privacy/redaction.js';
import { redactForCurrentSubject } from '../privacy/redaction-context.js';

export type { Logger } from 'pino';

/**
 * Keys whose values are personal data or secrets wherever they sit in a logged object. pino's redaction
 * is path-based, so each key is listed at the top level and under any one or two parents.
 */
const sensitiveKeys = [
  'email',
  'emails',
  'emailaddress1',
  'emailaddress2',
  'emailaddress3',
  'email_address',
  'firstName',
  'lastName',
  'firstname',
  'lastname',
  'fullname',
  'name',
  'merge_fields',
  'phone',
  'password',
  'secret',
  'clientSecret',
  'client_secret',
  'apiKey',
  'api_key',
  'token',
  'accessToken',
  'access_token',
  'refresh_token',
  'authorization',
  'Authorization',
  'cookie',
  'private_key',
  'privateKey',
  'assertion',
  'userProvidedData',
];

// pino's own top-level `name` is the logger's name, not a person's: redact `name` only where nested.
export const redactPaths = sensitiveKeys.flatMap((key) =>
  key === 'name' ? [`*.${key}`, `*.*.${key}`] : [key, `*.${key}`, `*.*.${key}`],
);

/**
 * Strips every address from free text (error messages from vendors, say), found by a parser that follows
 * address syntax (privacy/redaction.ts). Where the subject is known, use `redactSubject` instead.
 */
export const scrubEmails = scrubAddresses;

export interface LoggerOptions {
  level?: string;
  /** `json` in production; `pretty` for people at a terminal. */
  format?: 'json' | 'pretty';
  name?: string;
  /** 1 (stdout, the default for services) or 2 (stderr, for CLI commands whose stdout is their output). */
  fd?: 1 | 2;
  /** Any other destination for JSON lines (tests capture the real logger this way). */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const pretty = format === 'pretty';
  return pino(
    {
      name: options.name ?? 'consent-hub',
      level: options.level ?? 'info',
      redact: { paths: redactPaths, censor: '[redacted]' },
      // Error messages can quote what a vendor echoed back; scrub addresses from them too. Inside a call
      // about one person (privacy/redaction-context.ts), their address, names and identifiers go from
      // every string of the line, in every field, first.
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((arg) => {
            const redacted = redactForCurrentSubject(arg);
            return typeof redacted === 'string' ? scrubEmails(redacted) : redacted;
          }) as typeof args;
          method.apply(this, scrubbed);
        },
      },
      serializers: {
        // `err` is not always an Error: a caught error's message logged by itself (`err: error.message`) is a
        // string, which the standard serializer hands back as it is; scrubbing its missing message threw.
        err: (error: unknown) => {
          if (typeof error === 'string') return scrubEmails(error);
          if (typeof error !== 'object' || error === null) return error;
          const serialized = pino.stdSerializers.err(error as Error);
          if (typeof serialized.message === 'string') serialized.message = scrubEmails(serialized.message);
          serialized.stack = serialized.stack ? scrubEmails(serialized.stack) : serialized.stack;
          return serialized;
        },
      },
      transport: pretty ? { target: 'pino-pretty', options: { colorize: true, destination: 2 } } : undefined,
    },
    pretty ? undefined : (options.stream ?? pino.destination(options.fd ?? 1)),
  );
}
