import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentBatchBodyLimit } from '../../api/routes/v1-routes.js';
import {
  consentBatchByteLimit,
  consentBatchBytes,
  consentBatchLimit,
  consentBatchParts,
} from '../../domain/consent-batch.js';
import type { Ledger } from '../../ledger/ledger.js';
import { connectTestTemporal } from '../support/temporal.js';
import { buildTestApi, freshApiKey, hubContext, tempLedger, workflowsOn } from './api-test-kit.js';

type Json = Record<string, unknown>;
let counter = 0;

/** A valid opt-out with evidence near its longest (a 1,000-character note, a 500-character requestRef). */
const longItem = () => ({
  email: `size.${Date.now()}.${counter++}@example.com`,
  purpose: 'marketing_email',
  decision: 'withdrawn',
  occurredAt: new Date().toISOString(),
  source: 'import:crm',
  evidence: {
    channel: 'import',
    requestRef: `r${'x'.repeat(499)}`,
    policyVersion: `p${'y'.repeat(199)}`,
    note: 'n'.repeat(1000),
  },
});

/**
 * A batch's size against Temporal's real limit (the dev server's blob limit of 2 MiB on a start's payloads):
 * 1,000 valid changes with long evidence fit the route's 2 MiB body but not one batch workflow's input.
 */
describe('a consent batch at the size limits', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let ledger: Ledger;
  let app: FastifyInstance;
  let quietQueue: string;
  const key = freshApiKey();

  beforeAll(async () => {
    temporal = await connectTestTemporal('api-batch-size');
    ledger = await tempLedger();
    quietQueue = `${temporal.taskQueue}-size`;
    app = await buildTestApi({ hub: hubContext(temporal, quietQueue), ledger, key });
  });
  afterAll(async () => {
    await app?.close();
    await ledger?.close();
    await temporal?.close();
  });

  const post = (payload: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/consent-events/batch',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      payload,
    });

  it('refuses 1,000 valid changes too big for one batch workflow with a 413 saying to split them, not a 500 to retry, and starts nothing', async () => {
    const payload = JSON.stringify({ items: Array.from({ length: 1000 }, longItem) });
    expect(Buffer.byteLength(payload)).toBeLessThan(consentBatchBodyLimit);
    const answer = await post(payload);
    expect(answer.statusCode).toBe(413);
    expect((answer.json() as Json).detail).toMatch(/smaller batches/);
    expect(answer.body).not.toMatch(/@example\.com/);
    await delay(1000);
    expect(await workflowsOn(temporal.client, quietQueue)).toEqual([]);
  }, 120_000);

  it('splits long-evidence changes into batches that Temporal accepts, and short ones by 1,000', async () => {
    const long = Array.from({ length: 1000 }, longItem);
    const parts = consentBatchParts(long, consentBatchBytes);
    expect(parts.length).toBe(2);
    expect(parts.flat()).toEqual(long);
    for (const part of parts)
      expect(part.reduce((s, i) => s + consentBatchBytes(i), 0)).toBeLessThan(consentBatchByteLimit);
    // The biggest part goes through the real route and the real start.
    const answer = await post(JSON.stringify({ items: parts[0] }));
    expect(answer.statusCode).toBe(202);
    expect(((answer.json() as Json).accepted as unknown[]).length).toBe(parts[0]?.length);

    const short = Array.from({ length: 1001 }, (_, i) => ({ i }));
    expect(consentBatchParts(short, consentBatchBytes).map((p) => p.length)).toEqual([consentBatchLimit, 1]);
  }, 120_000);
});
