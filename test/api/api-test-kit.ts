import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { ApiDependencies } from '../../api/api-dependencies.js';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import type { ConsentClientContext } from '../../hub-client/consent.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { silentLogger } from '../support/temporal.js';

export { capturingLogger } from '../support/capturing-logger.js';

export const freshApiKey = () => `chk_${randomBytes(24).toString('base64url')}`;
export const freshWebhookSecret = () => randomBytes(24).toString('base64url');

export function hubContext(
  temporal: { client: Client; secrets: { subjectKeySecret: string } },
  taskQueue: string,
): ConsentClientContext {
  const timings = {
    attentionAfter: '2 minutes',
    operatorDeadline: '5 minutes',
    heartbeatTimeout: '5 seconds',
  };
  return {
    client: temporal.client,
    taskQueue,
    subjectKeySecret: temporal.secrets.subjectKeySecret,
    timings,
    consentTimings: { ...timings, idleAfter: '5 seconds' },
  };
}

export async function tempLedger(): Promise<Ledger> {
  return openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'consent-hub-api-ledger-')) }, silentLogger);
}

/** An API app on its own task queue, with one valid key and (optionally) the webhook. */
export async function buildTestApi(options: {
  hub: ConsentClientContext;
  ledger: Ledger;
  key: string;
  webhookSecret?: string;
  logger?: ApiDependencies['logger'];
}) {
  return createApiServer({
    hub: options.hub,
    ledger: options.ledger,
    logger: options.logger ?? silentLogger,
    config: {
      CONSENT_HUB_API_KEYS: [hashApiKey(freshApiKey()), hashApiKey(options.key)],
      CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET: options.webhookSecret,
    },
  });
}

/** The workflows Temporal knows on a task queue (visibility lags a little, so callers wait first). */
export async function workflowsOn(client: Client, taskQueue: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const execution of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` }))
    ids.push(execution.workflowId);
  return ids;
}

/** A small seeded PRNG (mulberry32), so a failing fuzz round can be replayed. */
export function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (max: number) => Math.floor(next() * max),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
  };
}
