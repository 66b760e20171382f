import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * `.consent-hub/dev.json`: how to reach a running `consent-hub dev`. Other tools and people script against
 * it, so its shape is an interface: add fields, never rename or remove them.
 */
export const devJsonSchema = z.object({
  temporal: z.object({
    address: z.string(),
    namespace: z.string(),
    taskQueue: z.string(),
    ui: z.string(),
    /** The temporal binary's path. */
    cli: z.string(),
  }),
  /** The local CA that signs the sandboxes' certificates; clients trust it through NODE_EXTRA_CA_CERTS. */
  caFile: z.string(),
  /** Every variable a worker or CLI process needs to reach this setup, with production names. */
  env: z.record(z.string(), z.string()),
  /** Base URL per vendor sandbox. A vendor running against its real service is absent. */
  sandboxes: z.record(z.string(), z.string()),
  /** The intake API: its URL, the dev API key, and the URL the Mailchimp sandbox posts webhooks to. */
  api: z.object({ url: z.string(), key: z.string(), mailchimpWebhookUrl: z.string() }).optional(),
});
export type DevJson = z.infer<typeof devJsonSchema>;

export const devJsonPath = (dataDir: string) => join(dataDir, 'dev.json');

export function writeDevJson(dataDir: string, devJson: DevJson): string {
  const path = devJsonPath(dataDir);
  writeFileSync(path, `${JSON.stringify(devJsonSchema.parse(devJson), null, 2)}\n`, { mode: 0o600 });
  return path;
}

export function readDevJson(dataDir: string): DevJson {
  const path = devJsonPath(dataDir);
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch {
    throw new Error(
      `${path} does not exist: start the embedded setup first with \`npm start\` (consent-hub dev).`,
    );
  }
  return devJsonSchema.parse(JSON.parse(raw));
}
