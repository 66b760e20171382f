import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { z } from 'zod';
import { hashApiKey } from './api-keys.js';

const devApiCredentialsSchema = z.object({ key: z.string().min(32), webhookSecret: z.string().min(32) });
export type DevApiCredentials = z.infer<typeof devApiCredentialsSchema>;

/**
 * The dev API key and webhook secret, made on the first `consent-hub dev` and kept (mode 0600) in the data
 * directory, so scripts and a saved Mailchimp webhook keep working across restarts.
 */
export function ensureDevApiCredentials(dataDir: string): DevApiCredentials {
  const file = join(dataDir, 'api-credentials.json');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const fresh: DevApiCredentials = {
      key: `chk_dev_${randomBytes(24).toString('base64url')}`,
      webhookSecret: randomBytes(24).toString('base64url'),
    };
    writeFileSync(file, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return devApiCredentialsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/**
 * What `consent-hub dev` adds: the variables the `serve` process reads, and the `api` block of dev.json. The
 * API is plain HTTP on loopback in dev; in production it sits behind TLS (Mailchimp sends the secret in the
 * URL, which only HTTPS keeps private).
 */
export function devApiSettings(credentials: DevApiCredentials, port: number) {
  const url = `http://127.0.0.1:${port}`;
  return {
    env: {
      CONSENT_HUB_API_KEYS: hashApiKey(credentials.key),
      CONSENT_HUB_API_PORT: String(port),
      CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET: credentials.webhookSecret,
    },
    devJson: {
      url,
      key: credentials.key,
      mailchimpWebhookUrl: `${url}/webhooks/mailchimp/${credentials.webhookSecret}`,
    },
  };
}

/**
 * Saves the webhook on each sandbox audience (once: an audience that has it already is left alone), through
 * Mailchimp's own API. `sources.api` stays off: the hub's own unsubscribes must not come back as webhooks.
 * Call it once the API answers, since saving makes the sandbox GET the URL.
 */
export async function registerSandboxWebhook(options: {
  mailchimpApiUrl: string;
  apiKey: string;
  ca: string;
  listIds: readonly string[];
  webhookUrl: string;
}): Promise<void> {
  const call = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      const target = new URL(`${options.mailchimpApiUrl}${path}`);
      const outgoing = request(
        target,
        {
          method,
          ca: options.ca,
          headers: {
            authorization: `Basic ${Buffer.from(`dev:${options.apiKey}`).toString('base64')}`,
            'content-type': 'application/json',
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: response.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body === undefined ? undefined : JSON.stringify(body));
    });
  for (const listId of options.listIds) {
    const existing = (await call('GET', `/lists/${listId}/webhooks`)).json as {
      webhooks?: { url: string }[];
    };
    if (existing.webhooks?.some((hook) => hook.url === options.webhookUrl)) continue;
    const saved = await call('POST', `/lists/${listId}/webhooks`, {
      url: options.webhookUrl,
      events: { unsubscribe: true, cleaned: true, profile: true, upemail: true },
      sources: { user: true, admin: true, api: false },
    });
    if (saved.status !== 200)
      throw new Error(`saving the Mailchimp webhook on audience ${listId} answered ${saved.status}`);
  }
}
