import { msToNumber } from '@temporalio/common';
import { z } from 'zod';
import { encryptionKeysSchema } from '../privacy/encryption-keys.js';

/**
 * The hub's own settings, read from the environment. Temporal's connection settings (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*) are read by @temporalio/envconfig, by Temporal's own
 * conventions (temporal/connection.ts); vendor settings by each connector's config.ts.
 */
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
  /** A person's consent workflow ends after this long with no change; the next change starts a new one. */
  CONSENT_HUB_SUBJECT_IDLE_AFTER: durationSchema.default('10 minutes'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
});

export type HubConfig = z.output<typeof hubConfigSchema>;
