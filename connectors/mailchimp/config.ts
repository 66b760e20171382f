import { z } from 'zod';
import { type Purpose, purposeSchema } from '../../domain/purposes.js';

/**
 * How a purpose shows in Mailchimp. `membership` means the member's status in the audiences (withdraw →
 * unsubscribed; grant → subscribed, or pending after an unsubscribe). `marketingPermissions` names GDPR
 * permission ids per audience id that follow the decision. Kept as a zod schema so it can later be loaded
 * from a file (issue 9) instead of this default.
 */
export const mailchimpPurposeRuleSchema = z.object({
  membership: z.boolean().default(true),
  /** Limits the membership change to these audiences; default: every configured audience. */
  audienceIds: z.array(z.string().min(1)).optional(),
  marketingPermissions: z.record(z.string(), z.array(z.string().min(1))).default({}),
});
export type MailchimpPurposeRule = z.output<typeof mailchimpPurposeRuleSchema>;

/** Purposes absent from the map are `not_applicable` in Mailchimp (phone, postal mail, statistics). */
export const mailchimpPurposeMapSchema = z.partialRecord(purposeSchema, mailchimpPurposeRuleSchema);
export type MailchimpPurposeMap = Partial<Record<Purpose, MailchimpPurposeRule>>;

export const defaultMailchimpPurposeMap: MailchimpPurposeMap = mailchimpPurposeMapSchema.parse({
  marketing_email: {},
  event_invitations: {},
  product_information: {},
});

const positiveInt = (variable: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${variable} must be a number` })
    .int({ error: `${variable} must be a whole number` })
    .min(min, { error: `${variable} must be at least ${min}` })
    .max(max, { error: `${variable} must be at most ${max}` });

/**
 * Reads the connector's settings from environment-like variables. Error messages name the variable and
 * never repeat a value (the API key is a secret).
 */
export const mailchimpConfigSchema = z
  .object({
    MAILCHIMP_API_KEY: z
      .string({ error: 'MAILCHIMP_API_KEY is required' })
      .trim()
      .regex(/^[^\s-]+-[a-z]+\d+$/, {
        error: 'MAILCHIMP_API_KEY must look like <key>-<data centre>, such as ...-us21',
      }),
    /** The API's base URL including `/3.0`; only set to reach a sandbox. Default: the key's data centre. */
    MAILCHIMP_API_URL: z
      .url({ protocol: /^https$/, error: 'MAILCHIMP_API_URL must be an https URL' })
      .optional()
      .or(z.literal('').transform(() => undefined)),
    /** Comma-separated audience ids; empty means every audience the key can see. */
    MAILCHIMP_AUDIENCE_IDS: z.string().optional(),
    /** Mailchimp allows 10 simultaneous connections per key, so more than 10 is refused. */
    MAILCHIMP_MAX_CONCURRENCY: positiveInt('MAILCHIMP_MAX_CONCURRENCY', 1, 10).default(10),
    MAILCHIMP_TIMEOUT_MS: positiveInt('MAILCHIMP_TIMEOUT_MS', 100, 600_000).default(30_000),
    /**
     * How long a worker reuses the audience list (`GET /lists`, when MAILCHIMP_AUDIENCE_IDS is empty) and an
     * audience's existence, so that a wave of changes reads them once rather than once per person; a new
     * audience is picked up within this time. 0 reads them for every change.
     */
    MAILCHIMP_AUDIENCE_CACHE_SECONDS: positiveInt('MAILCHIMP_AUDIENCE_CACHE_SECONDS', 0, 86_400).default(60),
  })
  .transform((env) => {
    const dc = env.MAILCHIMP_API_KEY.slice(env.MAILCHIMP_API_KEY.lastIndexOf('-') + 1);
    return {
      apiKey: env.MAILCHIMP_API_KEY,
      dc,
      apiUrl: (env.MAILCHIMP_API_URL ?? `https://${dc}.api.mailchimp.com/3.0`).replace(/\/+$/, ''),
      audienceIds: (env.MAILCHIMP_AUDIENCE_IDS ?? '')
        .split(',')
        .map((id) => id.trim())
        .filter((id) => id !== ''),
      maxConcurrency: env.MAILCHIMP_MAX_CONCURRENCY,
      timeoutMs: env.MAILCHIMP_TIMEOUT_MS,
      audienceCacheMs: env.MAILCHIMP_AUDIENCE_CACHE_SECONDS * 1000,
      purposeMap: defaultMailchimpPurposeMap,
    };
  });
export type MailchimpConfig = z.output<typeof mailchimpConfigSchema>;

export function isMailchimpConfigured(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.MAILCHIMP_API_KEY?.trim());
}
