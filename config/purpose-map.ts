import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { dynamicsPurposeColumnsSchema } from '../connectors/dynamics/config.js';
import { mailchimpPurposeMapSchema } from '../connectors/mailchimp/config.js';
import { purposes } from '../domain/purposes.js';
import { ConfigError } from './parse-env.js';

/**
 * Where each purpose lands in each tool, read from the JSON file named by CONSENT_HUB_PURPOSE_MAP.
 * A tool left out keeps its connector's default mapping; a purpose left out of a tool's map is
 * `not_applicable` there. Google needs no map: only a statistics withdrawal reaches it, as a user deletion.
 */
export const purposeMapSchema = z
  .object({
    /** Per purpose, the contact/lead Boolean column and whether true means "allowed" (followemail). */
    dynamics: dynamicsPurposeColumnsSchema.optional(),
    /** Per purpose, audience membership and marketing-permission ids per audience. */
    mailchimp: mailchimpPurposeMapSchema.optional(),
  })
  .strict();
export type PurposeMap = z.output<typeof purposeMapSchema>;

export function loadPurposeMap(env: NodeJS.ProcessEnv): PurposeMap {
  const file = env.CONSENT_HUB_PURPOSE_MAP;
  if (!file) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError([
      `CONSENT_HUB_PURPOSE_MAP: cannot read ${file} as JSON (${(error as Error).message})`,
    ]);
  }
  const parsed = purposeMapSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const where = issue.path.join('.') || '(file)';
      // Under a tool, an unrecognised key is a purpose the hub does not know: say which ones it does.
      const hint =
        issue.code === 'unrecognized_keys' && issue.path.length === 1
          ? `; known purposes: ${purposes.join(', ')}`
          : '';
      return `CONSENT_HUB_PURPOSE_MAP: ${where}: ${issue.message}${hint}`;
    }),
  );
}
