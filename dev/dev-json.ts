import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
    /** The codec server (`consent-hub codec-server`), for `temporal ... --codec-endpoint`. */
    codecEndpoint: z.string().optional(),
    /** The Authorization header value for it (`--codec-auth`). */
    codecAuth: z.string().optional(),
  }),
  /** The local CA that signs the sandboxes' certificates; clients trust it through NODE_EXTRA_CA_CERTS. */
  caFile: z.string(),
  /** Every variable a worker or CLI process needs to reach this setup, with production names. */
  env: z.record(z.string(), z.string()),
  /** Base URL per vendor sandbox. A vendor running against its real service is absent. */
  sandboxes: z.record(z.string(), z.string()),
  /** The intake API: its URL, the dev API key, and the URL the Mailchimp sandbox posts webhooks to. */
  api: z.object({ url: z.string(), key: z.string(), mailchimpWebhookUrl: z.string() }).optional(),
  /** The operator console, served by the API (sign in with `api.key`). */
  console: z.object({ url: z.string() }).optional(),
  /** The worker's and the API's operations listeners: `/metrics` (Prometheus), `/healthz`, `/readyz`. */
  metrics: z.object({ worker: z.string(), api: z.string() }).optional(),
  /**
   * The file is first written (atomically) only once Temporal, the sandboxes, the worker and the API all
   * answer, with `true`, and removed when dev stops: a script can wait for the file to exist. While dev runs
   * it follows its processes: `false` from the moment the worker or the API process dies until its restarted
   * process answers `/readyz` again, then `true` again; `false` for good once the Temporal dev server exits
   * (dev does not restart it).
   */
  ready: z.boolean().optional(),
  /** While `ready` is false: the parts that are down (`worker`, `api`, `temporal`). Absent when ready. */
  notReady: z.array(z.string()).optional(),
});
export type DevJson = z.infer<typeof devJsonSchema>;

export const devJsonPath = (dataDir: string) => join(dataDir, 'dev.json');

/** Writes dev.json atomically (a temp file renamed over it), so a reader never sees half a file. */
export function writeDevJson(dataDir: string, devJson: DevJson): string {
  const path = devJsonPath(dataDir);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(devJsonSchema.parse(devJson), null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, path);
  return path;
}

/** Removes dev.json: at start (a stale one from a killed session) and when dev stops. */
export function removeDevJson(dataDir: string): void {
  rmSync(devJsonPath(dataDir), { force: true });
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
