import { z } from 'zod';
import { encryptionKeysSchema } from '../privacy/encryption-keys.js';

/**
 * The hub's own settings, read from the environment. Temporal's connection settings (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*) are read by @temporalio/envconfig, by Temporal's own
 * conventions (temporal/connection.ts); vendor settings by each connector's config.ts.
 */
export const hubConfigSchema = z.object({
  CONSENT_HUB_SUBJECT_KEY_SECRET: z
    .string({ error: 'is required (the HMAC secret behind subject keys)' })
    .min(32, { error: 'must be at least 32 characters' }),
  CONSENT_HUB_ENCRYPTION_KEYS: encryptionKeysSchema,
  CONSENT_HUB_DATA_DIR: z.string().min(1).default('.consent-hub'),
  CONSENT_HUB_TASK_QUEUE: z.string().min(1).default('consent-hub'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
});

export type HubConfig = z.output<typeof hubConfigSchema>;
