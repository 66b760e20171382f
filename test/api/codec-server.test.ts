import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Payload } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
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
      isErased: async (subjectKey) => (await ledger.getTombstone(subjectKey)) !== undefined,
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

  it('refuses to encode a payload of an erased subject with a 409 problem, creating no data key, and encodes one of anyone else', async () => {
    const personal = (subjectKey: string) => ({
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from(JSON.stringify({ subjectKey, email: 'someone@example.org' })).toString('base64'),
    });
    const erasedKey = 'e'.repeat(63) + Date.now().toString(16).slice(-1);
    await ledger.recordTombstone({
      subjectKey: erasedKey,
      erasedAt: new Date().toISOString(),
      systems: ['dynamics', 'mailchimp', 'google'],
      firstRequestId: '00000000-0000-4000-8000-000000000001',
      lastRequestId: '00000000-0000-4000-8000-000000000001',
    });
    const refused = await decode([personal(erasedKey)], { authorization: `Bearer ${key}` }, '/encode');
    expect(refused.statusCode).toBe(409);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json()).toMatchObject({ status: 409, title: 'Subject erased' });
    expect(refused.json().detail).toContain(`Subject ${erasedKey} was erased`);
    expect(refused.body).not.toContain('someone@example.org');
    expect(await ledger.activeSubjectDataKey(erasedKey)).toBeUndefined();

    const liveKey = 'a'.repeat(63) + Date.now().toString(16).slice(-1);
    const sealed = await decode([personal(liveKey)], { authorization: `Bearer ${key}` }, '/encode');
    expect(sealed.statusCode).toBe(200);
    expect(dataOf(sealed.json().payloads[0])).not.toContain('someone@example.org');
    expect(await ledger.activeSubjectDataKey(liveKey)).toBeDefined();
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

    // The whole finished history, as the UI asks for it: every payload decodes (none is an error), the
    // person's are the placeholder, the receipt and statuses stay readable, and the address is nowhere.
    const finished = await temporal.client.workflow.getHandle(started.workflowId).fetchHistory();
    const payloads: Payload[] = [];
    const visit = (value: unknown): void => {
      if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
      if (Array.isArray(value)) value.forEach(visit);
      else if ('metadata' in value && 'data' in value && (value as Payload).data instanceof Uint8Array)
        payloads.push(value as Payload);
      else Object.values(value).forEach(visit);
    };
    visit(finished.events);
    const decodedHistory = await decode(payloads.map(wire), { authorization: `Bearer ${key}` });
    expect(decodedHistory.statusCode).toBe(200);
    const texts = (decodedHistory.json().payloads as { data: string }[]).map(dataOf);
    expect(texts).toHaveLength(payloads.length);
    const erased = texts.filter((text) => text === JSON.stringify(erasedSubjectPlaceholder));
    expect(erased.length).toBeGreaterThanOrEqual(2);
    expect(texts.some((text) => text.includes(started.requestId) && text.includes('"outcome"'))).toBe(true);
    expect(texts.join('\n')).not.toContain(email);

    // Live, from a terminal: Temporal's own CLI decodes the history through this codec server, as README's
    // `temporal workflow show --codec-endpoint ... --codec-auth ...` does.
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const show = (codec: string[]) =>
      promisify(execFile)(
        inject('temporalCliPath'),
        [
          'workflow',
          'show',
          '--address',
          inject('temporalAddress'),
          '--namespace',
          inject('temporalNamespace'),
          '--workflow-id',
          started.workflowId,
          '--run-id',
          started.requestId,
          '--output',
          'json',
          ...codec,
        ],
        { maxBuffer: 64 * 1024 * 1024 },
      );
    /** The payloads the CLI printed (base64 in its JSON output), as text, with their encodings. */
    const printed = (stdout: string) => {
      const found: { encoding: string; text: string }[] = [];
      const walk = (value: unknown): void => {
        if (!value || typeof value !== 'object') return;
        if (Array.isArray(value)) {
          value.forEach(walk);
          return;
        }
        const record = value as { metadata?: { encoding?: string }; data?: unknown };
        if (record.metadata && typeof record.data === 'string') {
          found.push({
            encoding: Buffer.from(record.metadata.encoding ?? '', 'base64').toString('utf8'),
            text: Buffer.from(record.data, 'base64').toString('utf8'),
          });
        } else Object.values(value).forEach(walk);
      };
      walk(JSON.parse(stdout));
      return found;
    };
    const live = printed((await show(['--codec-endpoint', address, '--codec-auth', `Bearer ${key}`])).stdout);
    expect(live.filter((p) => p.encoding === 'binary/encrypted')).toEqual([]);
    expect(
      live.filter((p) => p.text === JSON.stringify(erasedSubjectPlaceholder)).length,
    ).toBeGreaterThanOrEqual(2);
    expect(live.some((p) => p.text.includes(started.requestId) && p.text.includes('"outcome"'))).toBe(true);
    expect(live.map((p) => p.text).join('\n')).not.toContain(email);
    // Without the codec the CLI shows ciphertext only: neither the address nor the placeholder.
    const raw = printed((await show([])).stdout);
    expect(raw.filter((p) => p.encoding === 'binary/encrypted').length).toBeGreaterThan(5);
    expect(raw.map((p) => p.text).join('\n')).not.toContain(email);
    expect(raw.map((p) => p.text).join('\n')).not.toContain(erasedSubjectPlaceholder);
    // The codec server refuses the CLI without the key, as it refuses the UI.
    await expect(show(['--codec-endpoint', address])).rejects.toThrow();
  });
});
