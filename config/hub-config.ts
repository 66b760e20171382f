import { msToNumber } from '@temporalio/common';
import { z } from 'zod';
import { encryptionKeysSchema } from '../privacy/encryption-keys.js';

/**
 * The hub's own settings, read from the environment. Temporal's connection settings (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*) are read by @temporalio/envconfig, by Temporal's own
 * conventions (temporal/connection.ts); vendor settings by each connector's config.ts.
 */
/** Milliseconds of a duration this module's schemas accepted (a number of milliseconds, or Temporal's text). */
export function durationMs(value: string): number {
  return msToNumber(/^\d+$/.test(value) ? Number(value) : (value as '1s'));
}

/** As durationMs, or NaN for text that is no duration. */
function durationMsOrNaN(value: string): number {
  try {
    return durationMs(value);
  } catch {
    return Number.NaN;
  }
}

/** A Temporal duration: milliseconds, or text such as `90s`, `1 hour`, `30 days`. */
const durationSchema = z.string().refine(
  (value) => {
    try {
      return msToNumber(/^\d+$/.test(value) ? Number(value) : (value as '1s')) > 0;
    } catch {
      return false;
    }
  },
  { error: 'is not a duration (use milliseconds, or text such as 90s, 1 hour, 30 days)' },
);
/** A Temporal duration that may also be 0 (`0`, `0s`): "not at all". */
const durationOrZeroSchema = z.string().refine(
  (value) => {
    try {
      return msToNumber(/^\d+$/.test(value) ? Number(value) : (value as '1s')) >= 0;
    } catch {
      return false;
    }
  },
  { error: 'is not a duration (use 0, milliseconds, or text such as 90s, 1 hour, 30 days)' },
);

/**
 * API keys are configured as SHA-256 hex hashes, comma-separated, so the environment (and whoever reads it)
 * never holds a usable key. Empty means the API accepts no key: `serve` refuses to start that way.
 */
const apiKeyHashesSchema = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((entry) => entry.trim().toLowerCase())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z.string().regex(/^[0-9a-f]{64}(:(intake|status|operator)(\+(intake|status|operator))*)?$/, {
        error:
          'each entry must be the SHA-256 hex of an API key (64 hex digits), optionally with its scopes (:intake+status+operator), comma-separated',
      }),
    ),
  );

export const hubConfigSchema = z.object({
  CONSENT_HUB_SUBJECT_KEY_SECRET: z
    .string({ error: 'is required (the HMAC secret behind subject keys)' })
    .min(32, { error: 'must be at least 32 characters' }),
  CONSENT_HUB_ENCRYPTION_KEYS: encryptionKeysSchema,
  CONSENT_HUB_DATA_DIR: z.string().min(1).default('.consent-hub'),
  CONSENT_HUB_TASK_QUEUE: z.string().min(1).default('consent-hub'),
  /** A system still failing with retryable errors this long goes to "needs attention". */
  CONSENT_HUB_ATTENTION_AFTER: durationSchema.default('1 hour'),
  /** A system left in "needs attention" this long with no operator action is recorded as failed. */
  CONSENT_HUB_OPERATOR_DEADLINE: durationSchema.default('30 days'),
  /** How soon a vendor call on a worker that died is noticed and retried on another. */
  CONSENT_HUB_HEARTBEAT_TIMEOUT: durationSchema.default('1 minute'),
  /**
   * A person's consent workflow ends after this long with no change; the next change starts a new one. 0:
   * it ends as soon as its writes are done (README "Worker sizing": an open run costs a timer, an upsert and
   * worker memory, and a new run only one local read of the ledger).
   */
  CONSENT_HUB_SUBJECT_IDLE_AFTER: durationOrZeroSchema.default('0'),
  /**
   * How long the intake buffer gathers a bulk source's changes (Mailchimp's webhook deliveries) before they go
   * on together (workflows/consent-intake-buffer.ts): a burst in one window meets in one batch workflow. At
   * most 1 minute: a change waits this long before any vendor hears of it.
   */
  CONSENT_HUB_INTAKE_BUFFER_WINDOW: durationSchema
    // Zod runs this after a refused duration too: an unreadable one is reported once, by the check above.
    .refine((value) => !(durationMsOrNaN(value) > 60_000), { error: 'must be at most 1 minute' })
    .default('2 seconds'),
  /** People in one buffer window from which the webhook's changes go through a batch workflow; fewer go person by person. */
  CONSENT_HUB_WEBHOOK_BULK_FROM: z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .default(5),
  /** People with withdrawals on one reconciliation page from which they go through a batch workflow. */
  CONSENT_HUB_RECONCILE_BULK_FROM: z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .default(10),
  /** Hashes of the bearer keys the intake API accepts (`consent-hub serve`). */
  CONSENT_HUB_API_KEYS: apiKeyHashesSchema,
  /** How long the API keeps an Idempotency-Key's answer (an HMAC of the request and the reply) to replay it. */
  CONSENT_HUB_IDEMPOTENCY_TTL: durationSchema.default('7 days'),
  /** `consent-hub codec-server`: where it listens, and the Temporal UI origins allowed to call it (CORS). */
  CONSENT_HUB_CODEC_PORT: z.coerce.number().int().min(0).max(65535).default(8089),
  CONSENT_HUB_CODEC_HOST: z.string().min(1).default('127.0.0.1'),
  CONSENT_HUB_CODEC_CORS_ORIGINS: z
    .string()
    .default('http://localhost:8233,http://127.0.0.1:8233')
    .transform((value) =>
      value
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean),
    ),
  /** Requests per minute one API key may make; more get 429 with Retry-After. */
  CONSENT_HUB_API_RATE_LIMIT: z.coerce.number().int().min(1).default(600),
  CONSENT_HUB_API_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Loopback by default; a container sets 0.0.0.0 behind its TLS-terminating ingress. */
  CONSENT_HUB_API_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * The path secret of the Mailchimp webhook (`/webhooks/mailchimp/<secret>`): Mailchimp signs nothing, so the
   * URL is the credential. Unset, the webhook route does not exist.
   */
  CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9_-]{32,200}$/, {
      error: 'must be 32 to 200 URL-safe characters (letters, digits, - and _)',
    })
    .optional(),
  /** When the reconciliation schedule runs, as a cron expression (UTC). Nightly by default. */
  CONSENT_HUB_RECONCILE_CRON: z
    .string()
    .regex(/^\S+( \S+){4}$/, { error: 'is not a five-field cron expression, such as "0 2 * * *"' })
    .default('0 2 * * *'),
  /**
   * The operations listener of the worker and of the API (`/metrics`, `/healthz`, `/readyz`). Loopback by
   * default; a container sets 0.0.0.0 for Prometheus and the orchestrator's probes.
   */
  CONSENT_HUB_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  CONSENT_HUB_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** On SIGTERM the worker stops polling and gives activities in hand this long to finish. */
  CONSENT_HUB_SHUTDOWN_GRACE_TIME: durationSchema.default('30 seconds'),
  /** An erasure still running this long counts as overdue (`consent_hub_requests_overdue`): GDPR's month. */
  CONSENT_HUB_OVERDUE_AFTER: durationSchema.default('30 days'),
  /**
   * How many days back a request's `receivedAt` may lie when it is entered late (a letter, an email): older
   * dates are refused as likely typing errors. 90 by default: a quarter, three times GDPR's month.
   */
  CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  /**
   * Where access exports are written, encrypted with the first CONSENT_HUB_ENCRYPTION_KEYS key; default
   * `<CONSENT_HUB_DATA_DIR>/exports`. The worker writes there and the CLI and API read there, so in a
   * deployment with several processes it is a shared volume.
   */
  CONSENT_HUB_EXPORT_DIR: z.string().min(1).optional(),
  /** How long an access export may be fetched; the access workflow deletes it then (a durable timer). */
  CONSENT_HUB_EXPORT_TTL: durationSchema.default('30 days'),
  /** A JSON file of the categories an access report explains; the privacy notice's by default. */
  CONSENT_HUB_ACCESS_CATEGORIES: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
});

export type HubConfig = z.output<typeof hubConfigSchema>;

/** The directory access exports are written to and read from. */
export function exportDirectoryOf(config: HubConfig): string {
  return config.CONSENT_HUB_EXPORT_DIR ?? `${config.CONSENT_HUB_DATA_DIR.replace(/\/+$/, '')}/exports`;
}
