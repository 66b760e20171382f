import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentBatchAcceptedSchema } from '../../api/api-schemas.js';
import { openApiDocument } from '../../api/openapi.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { connectTestTemporal } from '../support/temporal.js';
import { buildTestApi, freshApiKey, hubContext, tempLedger, workflowsOn } from './api-test-kit.js';

type Json = Record<string, unknown>;
let counter = 0;
const newEmail = () => `batch.api.${Date.now()}.${counter++}@example.com`;

/**
 * POST /v1/consent-events/batch against the real dev server. No worker polls these task queues: a 202 means
 * the batch workflow exists in Temporal (test/workflows/consent-batch.test.ts runs one through).
 */
describe('the consent batch route', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let ledger: Ledger;
  let app: FastifyInstance;
  let quietQueue: string;
  let quietApp: FastifyInstance;
  const key = freshApiKey();

  beforeAll(async () => {
    temporal = await connectTestTemporal('api-batch');
    ledger = await tempLedger();
    app = await buildTestApi({ hub: hubContext(temporal, temporal.taskQueue), ledger, key });
    quietQueue = `${temporal.taskQueue}-quiet`;
    quietApp = await buildTestApi({ hub: hubContext(temporal, quietQueue), ledger, key });
  });
  afterAll(async () => {
    await app?.close();
    await quietApp?.close();
    await ledger?.close();
    await temporal?.close();
  });

  const post = (target: FastifyInstance, body: unknown, headers: Record<string, string> = {}) =>
    target.inject({
      method: 'POST',
      url: '/v1/consent-events/batch',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      payload: JSON.stringify(body),
    });
  const optOut = (email = newEmail()) => ({
    email,
    purpose: 'marketing_email',
    decision: 'withdrawn',
    occurredAt: new Date().toISOString(),
    source: 'import:crm',
    evidence: { channel: 'import', requestRef: 'file-1' },
  });

  it('accepts the valid items, refuses each invalid one with its own problem, and starts one batch workflow', async () => {
    const first = newEmail();
    const invalidEmail = newEmail();
    const answer = await post(app, {
      items: [
        optOut(first),
        { ...optOut(invalidEmail), purpose: 'telepathy', colour: 'blue' },
        { ...optOut(), decision: 'granted', evidence: { policyVersion: '2026-01' } },
        { ...optOut(), decision: 'granted', evidence: {} },
      ],
    });
    expect(answer.statusCode).toBe(202);
    const body = consentBatchAcceptedSchema.parse(answer.json());
    expect(answer.headers.location).toBe(`/v1/consent-events/batch/${body.batchId}`);
    expect(body.accepted.map((a) => a.index)).toEqual([0, 2]);
    expect(body.accepted[0]?.subjectKey).toBe(subjectKeyFor(first, temporal.secrets.subjectKeySecret));
    expect(body.refused.map((r) => [r.index, r.problem.status])).toEqual([
      [1, 400],
      [3, 400],
    ]);
    expect(body.refused[0]?.problem.errors?.map((e) => e.field).sort()).toEqual(['colour', 'purpose']);
    expect(body.refused[1]?.problem.errors?.[0]?.field).toBe('evidence');
    // Nothing about a refused item is quoted back, and the workflow id holds only the batch id.
    expect(answer.body).not.toContain(invalidEmail);
    expect(body.workflowId).toBe(`consent-batch-${body.batchId}`);
    const description = await temporal.client.workflow.getHandle(String(body.workflowId)).describe();
    expect(description.type).toBe('consentBatchWorkflow');

    const status = await app.inject({
      method: 'GET',
      url: `/v1/consent-events/batch/${body.batchId}`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toEqual({ batchId: body.batchId, state: 'running' });
  });

  it('replays the first answer for the same Idempotency-Key and body, and refuses another body with 409', async () => {
    const body = { items: [optOut(), optOut()] };
    const headers = { 'idempotency-key': `batch-${Date.now()}` };
    const first = await post(app, body, headers);
    const again = await post(app, body, headers);
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    const other = await post(app, { items: [optOut()] }, headers);
    expect(other.statusCode).toBe(409);
  });

  it('refuses an empty batch and one over 1,000 items as a whole, and starts nothing', async () => {
    const empty = await post(quietApp, { items: [] });
    expect(empty.statusCode).toBe(400);
    const many = await post(quietApp, { items: Array.from({ length: 1001 }, () => optOut()) });
    expect(many.statusCode).toBe(400);
    expect((many.json() as Json).detail).toMatch(/items/);
    const unknownBatch = await quietApp.inject({
      method: 'GET',
      url: '/v1/consent-events/batch/00000000-0000-4000-8000-00000000abcd',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(unknownBatch.statusCode).toBe(404);
    await delay(1500);
    expect(await workflowsOn(temporal.client, quietQueue)).toEqual([]);
  });

  it('is documented in the OpenAPI document with its body limit of 1,000 items', () => {
    const document = openApiDocument() as {
      paths: Record<string, Record<string, { operationId?: string }>>;
      components: { schemas: Record<string, { properties?: Record<string, { maxItems?: number }> }> };
    };
    expect(document.paths['/v1/consent-events/batch']?.post?.operationId).toBe('recordConsentEventBatch');
    expect(document.paths['/v1/consent-events/batch/{id}']?.get?.operationId).toBe('getConsentEventBatch');
    expect(document.components.schemas.ConsentBatch?.properties?.items?.maxItems).toBe(1000);
  });
});
