import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Payload } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import { hashApiKey } from '../../api/api-keys.js';
import { createCodecServer, erasedSubjectPlaceholder } from '../../api/codec-server.js';
import type { FindResult } from '../../connectors/connector.js';
import { NonRetryableVendorError } from '../../connectors/connector-errors.js';
import {
  awaitReceipt,
  lookupErasure,
  requestErasure,
  retryErasureSystem,
} from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { shredWorkflowId } from '../../workflows/shred-subject-keys.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { freshApiKey } from './api-test-kit.js';

const none: FindResult = { records: [], gaClientIds: [], gaUserIds: [] };
let mailchimpFixed = false;
const quiet = {
  find: async () => none,
  erase: async () => ({ outcome: 'not_found' as const, records: [] }),
  readConsent: async () => ({ purposes: {}, records: [] }),
  applyConsent: async () => ({ outcome: 'not_found' as const, records: [] }),
};
const connectors: ConnectorSet = {
  dynamics: quiet,
  google: quiet,
  mailchimp: {
    ...quiet,
    find: async () => {
      if (mailchimpFixed) return none;
      throw new NonRetryableVendorError({
        system: 'mailchimp',
        operation: 'erase',
        status: 401,
        reason: 'bad key',
      });
    },
  },
};

const wire = (payload: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  ),
  data: Buffer.from(payload.data ?? []).toString('base64'),
});
const dataOf = (payload: { data: string }) => Buffer.from(payload.data, 'base64').toString('utf8');

describe('codec server for the Temporal UI', () => {
  let ledger: Ledger;
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let worker: { stop(): Promise<void> };
  let app: FastifyInstance;
  const key = freshApiKey();

  beforeAll(async () => {
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'consent-hub-codec-')) }, silentLogger);
    temporal = await connectTestTemporal('codec', { subjectKeyLedger: ledger });
    worker = await temporal.startWorker({ connectors });
    const codec = temporal.dataConverter.payloadCodecs?.[0];
    if (!codec) throw new Error('no codec');
    app = await createCodecServer({
      codec,
      keyHashes: [hashApiKey(key)],
      corsOrigins: ['http://localhost:8233'],
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await temporal?.close();
    await ledger?.close();
  });

  const decode = (payloads: unknown[], headers: Record<string, string>, url = '/decode') =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
      payload: JSON.stringify({ payloads }),
    });

  it("decodes a running erasure's payloads with the right key, refuses without it, and shows the placeholder once the subject is erased", async () => {
    const email = `codec.${Date.now()}@example.com`;
    const context = temporal.context();
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#3',
      requestedAt: new Date().toISOString(),
    });
    for (let i = 0; i < 80; i++) {
      const found = await lookupErasure(context, started.requestId);
      if (found.state === 'open' && found.status.status === 'needs_attention') break;
      await delay(250);
    }
    const history = await temporal.client.workflow.getHandle(started.workflowId).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    if (!input) throw new Error('no workflow input');
    const payload = wire(input as Payload);
    expect(dataOf(payload)).not.toContain(email);

    const withBearer = await decode([payload], { authorization: `Bearer ${key}` });
    expect(withBearer.statusCode).toBe(200);
    expect(dataOf(withBearer.json().payloads[0])).toContain(email);
    const viaPath = await decode([payload], {}, `/ui/${key}/decode`);
    expect(dataOf(viaPath.json().payloads[0])).toContain(email);

    for (const headers of [{}, { authorization: `Bearer ${freshApiKey()}` }] as Record<string, string>[]) {
      const refused = await decode([payload], headers);
      expect(refused.statusCode).toBe(401);
      expect(refused.body).not.toContain(email);
    }
    expect((await decode([payload], {}, `/ui/${freshApiKey()}/decode`)).statusCode).toBe(401);

    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/decode',
      headers: {
        origin: 'http://localhost:8233',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace',
      },
    });
    expect(preflight.statusCode).toBeLessThan(300);
    expect(preflight.headers['access-control-allow-origin']).toBe('http://localhost:8233');

    // The operator fixes the key and retries: the erasure completes and the subject's key is destroyed.
    mailchimpFixed = true;
    await retryErasureSystem(context, started.requestId, { system: 'mailchimp' });
    await awaitReceipt(context, started);
    await temporal.client.workflow.getHandle(shredWorkflowId(started.subjectKey, started.requestId)).result();
    const after = await decode([payload], { authorization: `Bearer ${key}` });
    expect(after.statusCode).toBe(200);
    expect(JSON.parse(dataOf(after.json().payloads[0]))).toBe(erasedSubjectPlaceholder);
  });
});
