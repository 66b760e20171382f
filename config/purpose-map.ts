import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ConsentFieldRule } from '../connectors/consent-fields.js';
import {
  defaultDynamicsPurposeColumns,
  dynamicsPurposeColumnsSchema,
} from '../connectors/dynamics/config.js';
import { dynamicsFieldRules } from '../connectors/dynamics/consent-columns.js';
import { defaultMailchimpPurposeMap, mailchimpPurposeMapSchema } from '../connectors/mailchimp/config.js';
import { mailchimpFieldRules } from '../connectors/mailchimp/consent.js';
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

/**
 * How each vendor field is derived from the purposes under this map (a tool left out keeps its default):
 * what `consent-hub config check` and the worker print at start, and what the tests generate pairs from.
 */
export function purposeMapFields(map: PurposeMap): ConsentFieldRule[] {
  return [
    ...dynamicsFieldRules(map.dynamics ?? defaultDynamicsPurposeColumns),
    ...mailchimpFieldRules(map.mailchimp ?? defaultMailchimpPurposeMap),
    {
      system: 'google',
      field: 'user deletion (every configured GA4 property)',
      purposes: ['statistics'],
      rule: 'submitted for the client ids given and those the CRM holds, when statistics is withdrawn',
    },
  ];
}

/** One line per field; a field several purposes share says so, since a withdrawal of any of them wins. */
export function describePurposeMap(map: PurposeMap): string[] {
  return purposeMapFields(map).map((field) => {
    const shared =
      field.purposes.length > 1
        ? `  [shared by ${field.purposes.length} purposes: a withdrawal of any wins]`
        : '';
    return `${field.system.padEnd(9)} ${field.field} <- ${field.purposes.join(', ')}: ${field.rule}${shared}`;
  });
}
