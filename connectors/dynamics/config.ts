import { z } from 'zod';
import { type Purpose, purposeSchema } from '../../domain/purposes.js';

/** A Dataverse column's logical name; checked so that config can never smuggle syntax into a query. */
const columnNameSchema = z
  .string()
  .regex(/^[a-z_][a-z0-9_]*$/, { error: 'must be a Dataverse column logical name' });

/**
 * Which Boolean column carries each purpose. `inverted` columns mean "allowed" when true (`followemail`);
 * the `donot*` columns mean "do not" when true. Kept as a schema so the mapping can come from a file later.
 */
export const dynamicsPurposeColumnSchema = z.object({
  column: columnNameSchema,
  inverted: z.boolean().default(false),
});
export const dynamicsPurposeColumnsSchema = z.partialRecord(purposeSchema, dynamicsPurposeColumnSchema);
export type DynamicsPurposeColumns = z.output<typeof dynamicsPurposeColumnsSchema>;

export const defaultDynamicsPurposeColumns: Record<Purpose, { column: string; inverted: boolean }> = {
  marketing_email: { column: 'donotbulkemail', inverted: false },
  product_information: { column: 'donotsendmm', inverted: false },
  phone: { column: 'donotphone', inverted: false },
  postal_mail: { column: 'donotpostalmail', inverted: false },
  statistics: { column: 'followemail', inverted: true },
  // Dataverse has no event-invitation column; bulk email is how invitations go out.
  event_invitations: { column: 'donotbulkemail', inverted: false },
};

const httpsUrl = (name: string) =>
  z
    .url({ error: `${name} must be an https URL` })
    .refine((value) => value.startsWith('https://'), { error: `${name} must be an https URL` })
    .transform((value) => value.replace(/\/+$/, ''));

// Secrets get fixed messages: zod's default messages could quote the value.
const secretSchema = (name: string) =>
  z.string({ error: `${name} is required` }).min(1, { error: `${name} is required` });

const positiveInt = (name: string, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a whole number` })
    .int({ error: `${name} must be a whole number` })
    .positive({ error: `${name} must be positive` })
    .default(fallback);

/** Parses the environment (or any env-like object) into the connector's config. */
export const dynamicsConfigSchema = z
  .object({
    DYNAMICS_URL: httpsUrl('DYNAMICS_URL'),
    DYNAMICS_TENANT_ID: z
      .string({ error: 'DYNAMICS_TENANT_ID is required' })
      .regex(/^[0-9A-Za-z.-]+$/, { error: 'DYNAMICS_TENANT_ID must be a tenant id or domain' }),
    DYNAMICS_CLIENT_ID: z
      .string({ error: 'DYNAMICS_CLIENT_ID is required' })
      .min(1, { error: 'DYNAMICS_CLIENT_ID is required' }),
    DYNAMICS_CLIENT_SECRET: secretSchema('DYNAMICS_CLIENT_SECRET'),
    DYNAMICS_AUTHORITY_HOST: httpsUrl('DYNAMICS_AUTHORITY_HOST').default('https://login.microsoftonline.com'),
    DYNAMICS_GA_CLIENT_ID_COLUMN: columnNameSchema.default('new_gaclientid'),
    DYNAMICS_PAGE_SIZE: positiveInt('DYNAMICS_PAGE_SIZE', 500).pipe(
      z.number().max(5000, { error: 'DYNAMICS_PAGE_SIZE must be at most 5000' }),
    ),
    DYNAMICS_TIMEOUT_MS: positiveInt('DYNAMICS_TIMEOUT_MS', 30_000),
    /**
     * Requests this process keeps in flight to Dataverse at most. Dataverse allows 52 at once per
     * application user (learn.microsoft.com power-apps/developer/data-platform/api-limits); the default of 48
     * leaves room for another client. Several workers on one user each take a share (CONSENT_HUB_WORKERS).
     */
    /**
     * Requests in one `$batch` of a bulk consent write. Dataverse takes at most 1,000, and Microsoft advises
     * small batches sent in parallel rather than large ones (execute-batch-operations-using-web-api), so the
     * batches of a bulk write go out together under DYNAMICS_MAX_CONCURRENCY.
     */
    DYNAMICS_BATCH_SIZE: positiveInt('DYNAMICS_BATCH_SIZE', 10).pipe(
      z
        .number()
        .max(1000, { error: 'DYNAMICS_BATCH_SIZE must be at most 1000 (Dataverse refuses larger batches)' }),
    ),
    DYNAMICS_MAX_CONCURRENCY: positiveInt('DYNAMICS_MAX_CONCURRENCY', 48).pipe(
      z
        .number()
        .max(52, { error: 'DYNAMICS_MAX_CONCURRENCY must be at most 52 (Dataverse refuses more at once)' }),
    ),
  })
  .transform((env) => ({
    url: env.DYNAMICS_URL,
    tenantId: env.DYNAMICS_TENANT_ID,
    clientId: env.DYNAMICS_CLIENT_ID,
    clientSecret: env.DYNAMICS_CLIENT_SECRET,
    authorityHost: env.DYNAMICS_AUTHORITY_HOST,
    gaClientIdColumn: env.DYNAMICS_GA_CLIENT_ID_COLUMN,
    pageSize: env.DYNAMICS_PAGE_SIZE,
    timeoutMs: env.DYNAMICS_TIMEOUT_MS,
    maxConcurrency: env.DYNAMICS_MAX_CONCURRENCY,
    batchSize: env.DYNAMICS_BATCH_SIZE,
    purposeColumns: defaultDynamicsPurposeColumns as DynamicsPurposeColumns,
  }));
export type DynamicsConfig = z.output<typeof dynamicsConfigSchema>;

export function isDynamicsConfigured(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.DYNAMICS_URL?.trim());
}
