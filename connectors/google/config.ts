import { z } from 'zod';
import { googleTokenUrl } from './google-scopes.js';
import { normalisePropertyId } from './property-ids.js';

const truthy = new Set(['1', 'true', 'yes', 'on']);
const falsy = new Set(['', '0', 'false', 'no', 'off']);

const httpsUrl = (variable: string) =>
  z
    .url({ protocol: /^https$/, error: `${variable} must be an https:// URL` })
    .transform((url) => (url.endsWith('/') ? url : `${url}/`));

/**
 * The Google connector's environment. Every message names its variable; none echoes a value (the key
 * file's path is not secret, its content is, and it is read elsewhere).
 */
export const googleConfigSchema = z
  .object({
    GOOGLE_APPLICATION_CREDENTIALS: z
      .string({
        error: 'GOOGLE_APPLICATION_CREDENTIALS is required: the path of the service-account key file',
      })
      .trim()
      .min(1, {
        error: 'GOOGLE_APPLICATION_CREDENTIALS is empty: give the path of the service-account key file',
      }),
    GA4_PROPERTY_IDS: z
      .string({ error: 'GA4_PROPERTY_IDS is required: a comma-separated list of GA4 property ids' })
      .transform((list, context) => {
        const entries = list
          .split(',')
          .map((entry) => entry.trim())
          .filter(Boolean);
        const ids = entries.map(normalisePropertyId);
        const bad = ids.indexOf(undefined);
        if (entries.length === 0 || bad >= 0) {
          context.addIssue({
            code: 'custom',
            message:
              entries.length === 0
                ? 'GA4_PROPERTY_IDS lists no property: give at least one, such as properties/123456789'
                : `GA4_PROPERTY_IDS entry ${bad + 1} is not a GA4 property id (write properties/123456789 or 123456789)`,
          });
          return z.NEVER;
        }
        return [...new Set(ids as string[])];
      }),
    // Unset: each API keeps its own default root (analytics.googleapis.com, analyticsadmin.googleapis.com).
    GOOGLE_API_ROOT_URL: httpsUrl('GOOGLE_API_ROOT_URL').optional(),
    GOOGLE_TOKEN_URL: z
      .url({ protocol: /^https$/, error: 'GOOGLE_TOKEN_URL must be an https:// URL' })
      .default(googleTokenUrl),
    GA_SUBMIT_USER_PROVIDED_DATA: z
      .string()
      .optional()
      .transform((value, context) => {
        const normalised = (value ?? '').trim().toLowerCase();
        if (truthy.has(normalised)) return true;
        if (falsy.has(normalised)) return false;
        context.addIssue({ code: 'custom', message: 'GA_SUBMIT_USER_PROVIDED_DATA must be true or false' });
        return z.NEVER;
      }),
    GA_REQUESTS_PER_SECOND: z.coerce
      .number({ error: 'GA_REQUESTS_PER_SECOND must be a number' })
      .positive({ error: 'GA_REQUESTS_PER_SECOND must be above 0' })
      .max(100, { error: 'GA_REQUESTS_PER_SECOND must be at most 100' })
      .default(1.5),
    GOOGLE_TIMEOUT_MS: z.coerce
      .number({ error: 'GOOGLE_TIMEOUT_MS must be a number' })
      .int({ error: 'GOOGLE_TIMEOUT_MS must be whole milliseconds' })
      .min(100, { error: 'GOOGLE_TIMEOUT_MS must be at least 100' })
      .default(30_000),
  })
  .transform((env) => ({
    credentialsFile: env.GOOGLE_APPLICATION_CREDENTIALS,
    /** Bare GA4 property numbers, without duplicates. */
    propertyIds: env.GA4_PROPERTY_IDS,
    /** Both APIs' root when set; otherwise each API uses its own default. */
    apiRootUrl: env.GOOGLE_API_ROOT_URL,
    tokenUrl: env.GOOGLE_TOKEN_URL,
    submitUserProvidedData: env.GA_SUBMIT_USER_PROVIDED_DATA,
    requestsPerSecond: env.GA_REQUESTS_PER_SECOND,
    timeoutMs: env.GOOGLE_TIMEOUT_MS,
  }));

export type GoogleConfig = z.output<typeof googleConfigSchema>;

/** The connector is used when a service-account key file is configured. */
export function isGoogleConfigured(env: NodeJS.ProcessEnv): boolean {
  return (env.GOOGLE_APPLICATION_CREDENTIALS ?? '').trim() !== '';
}
