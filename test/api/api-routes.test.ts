import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { apiBodyLimit } from '../../api/create-api-server.js';
import { requestHash } from '../../api/idempotency.js';
import type { ErasureReceipt } from '../../domain/erasure.js';
import { addCalendarMonths } from '../../domain/request-deadline.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { connectTestTemporal } from '../support/temporal.js';
import {
  buildTestApi,
  capturingLogger,
  freshApiKey,
  freshWebhookSecret,
  hubContext,
  prng,
  tempLedger,
  workflowsOn,
} from './api-test-kit.js';

type Json = Record<string, unknown>;
let counter = 0;
const newEmail = () => `api.${Date.now()}.${counter++}@example.com`;

/**
 * The intake API against the run's real Temporal dev server. No worker polls these task queues: a 202 means
 * the workflow exists in Temporal, and the "nothing started" checks list the queue.
 */
describe('intake API routes', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let ledger: Ledger;
  let app: FastifyInstance;
  let quietQueue: string;
  let quietApp: FastifyInstance;
  const key = freshApiKey();
  const webhookSecret = freshWebhookSecret();
  const logs = capturingLogger();

  beforeAll(async () => {
    temporal = await connectTestTemporal('api');
    ledger = await tempLedger();
    app = await buildTestApi({ hub: hubContext(temporal, temporal.taskQueue), ledger, key });
    // A second app whose task queue must stay empty: every request to it is refused.
    quietQueue = `${temporal.taskQueue}-quiet`;
    quietApp = await buildTestApi({
      hub: hubContext(temporal, quietQueue),
      ledger,
      key,
      webhookSecret,
      logger: logs.logger,
    });
  });
  afterAll(async () => {
    await app?.close();
    await quietApp?.close();
    await ledger?.close();
    await temporal?.close();
  });

  const auth = (k = key) => ({ authorization: `Bearer ${k}` });
  const post = (target: FastifyInstance, url: string, body: unknown, headers: Json = auth()) =>
    target.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...(headers as Record<string, string>) },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const erasureBody = (email = newEmail()) => ({ email, requestedBy: 'privacy-inbox#1', gaClientIds: [] });
  const consentBody = (email = newEmail()) => ({
    email,
    purpose: 'marketing_email',
    decision: 'withdrawn',
    occurredAt: new Date().toISOString(),
    source: 'form:contact',
    evidence: { channel: 'web' },
  });

  describe('auth: each route with a good key, a wrong key and no key', () => {
    const unauthenticated = [
      ['POST', '/v1/erasures', () => erasureBody()],
      ['GET', `/v1/erasures/${randomUUID()}`, undefined],
      ['POST', '/v1/consent-events', () => consentBody()],
      ['POST', '/v1/subjects/status', () => ({ email: newEmail() })],
    ] as const;

    it.each(unauthenticated)(
      '%s %s: a wrong key or none gets 401 problem+json',
      async (method, url, body) => {
        for (const headers of [{}, auth(freshApiKey()), { authorization: `Basic ${key}` }, auth(`${key}x`)]) {
          const answer = await quietApp.inject({
            method,
            url,
            headers: { ...headers, 'content-type': 'application/json' },
            payload: body ? JSON.stringify(body()) : undefined,
          });
          expect(answer.statusCode).toBe(401);
          expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(answer.headers['www-authenticate']).toBe('Bearer');
          expect(answer.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
        }
      },
    );

    it('POST /v1/erasures with a good key starts the erasure and answers 202; a second request while it runs answers joined: true', async () => {
      const email = newEmail();
      const answer = await post(app, '/v1/erasures', erasureBody(email));
      expect(answer.statusCode).toBe(202);
      const body = answer.json() as Json;
      expect(body).toEqual({
        requestId: expect.any(String),
        subjectKey: subjectKeyFor(email, temporal.secrets.subjectKeySecret),
        joined: false,
        receivedAt: expect.any(String),
        dueAt: addCalendarMonths(new Date(String(body.receivedAt)), 1).toISOString(),
      });
      const description = await temporal.client.workflow.getHandle(`erasure-${body.subjectKey}`).describe();
      expect(description.runId).toBe(body.requestId);
      expect(description.taskQueue).toBe(temporal.taskQueue);
      expect(JSON.stringify(body)).not.toContain('@');
      // No worker polls this queue, so the first erasure still runs: the second request is merged into it.
      const second = await post(app, '/v1/erasures', {
        ...erasureBody(email.toUpperCase()),
        reason: 'objection',
      });
      expect(second.statusCode).toBe(202);
      expect(second.json()).toMatchObject({
        requestId: body.requestId,
        subjectKey: body.subjectKey,
        joined: true,
      });
    });

    it('GET /v1/erasures/{id} with a good key gives the receipt from the ledger, 404 for an unknown id, 400 for a non-UUID', async () => {
      const requestId = randomUUID();
      const receipt: ErasureReceipt = {
        requestId,
        subjectKey: 'a'.repeat(64),
        reason: 'data subject erasure request',
        requestedBy: 'api:test',
        requestedAt: '2024-05-01T11:59:00.000Z',
        completedAt: '2024-05-01T12:00:00.000Z',
        outcome: 'completed',
        systems: {
          dynamics: { status: 'erased', records: [], attempts: 1 },
          mailchimp: { status: 'not_found', records: [], attempts: 1 },
          google: { status: 'submitted', records: [], attempts: 1 },
        },
      };
      await ledger.recordReceipt(receipt);
      const found = await app.inject({ method: 'GET', url: `/v1/erasures/${requestId}`, headers: auth() });
      expect(found.statusCode).toBe(200);
      expect(found.json()).toEqual({ state: 'completed', receipt });
      // A follow-up erasure (requests that came while this receipt was written) is named in the answer.
      const followUp: ErasureReceipt = { ...receipt, requestId: randomUUID(), followUpOf: requestId };
      await ledger.recordReceipt(followUp);
      const followed = await app.inject({ method: 'GET', url: `/v1/erasures/${requestId}`, headers: auth() });
      expect(followed.json()).toEqual({ state: 'completed', receipt, followUps: [followUp.requestId] });
      const itself = await app.inject({
        method: 'GET',
        url: `/v1/erasures/${followUp.requestId}`,
        headers: auth(),
      });
      expect(itself.json()).toEqual({ state: 'completed', receipt: followUp });

      const unknown = await app.inject({
        method: 'GET',
        url: `/v1/erasures/${randomUUID()}`,
        headers: auth(),
      });
      expect(unknown.statusCode).toBe(404);
      const bad = await app.inject({ method: 'GET', url: '/v1/erasures/not-a-uuid', headers: auth() });
      expect(bad.statusCode).toBe(400);
      expect((bad.json() as { errors: Json[] }).errors[0]).toMatchObject({ field: 'id' });
    });

    it('POST /v1/consent-events with a good key hands the change to the subject workflow and answers 202', async () => {
      const email = newEmail();
      const answer = await post(app, '/v1/consent-events', consentBody(email));
      expect(answer.statusCode).toBe(202);
      const body = answer.json() as Json;
      expect(body).toEqual({
        eventId: expect.any(String),
        subjectKey: subjectKeyFor(email, temporal.secrets.subjectKeySecret),
        receivedAt: expect.any(String),
        dueAt: addCalendarMonths(new Date(String(body.receivedAt)), 1).toISOString(),
      });
      const description = await temporal.client.workflow.getHandle(`consent-${body.subjectKey}`).describe();
      expect(description.status.name).toBe('RUNNING');
    });

    it('POST /v1/subjects/status with a good key answers what the ledger proves for an idle subject', async () => {
      const email = newEmail();
      const answer = await post(app, '/v1/subjects/status', { email: ` ${email.toUpperCase()} ` });
      expect(answer.statusCode).toBe(200);
      expect(answer.json()).toMatchObject({
        subjectKey: subjectKeyFor(email, temporal.secrets.subjectKeySecret),
        purposes: {},
        erased: false,
        from: 'ledger',
      });
      expect(answer.body).not.toContain('@');
    });

    it('serves /healthz and /openapi.json without a key (they hold nothing about anyone), with a wrong key too', async () => {
      for (const headers of [{}, auth(), auth(freshApiKey())]) {
        expect((await app.inject({ method: 'GET', url: '/healthz', headers })).json()).toEqual({
          status: 'ok',
        });
        const doc = await app.inject({ method: 'GET', url: '/openapi.json', headers });
        expect(doc.statusCode).toBe(200);
      }
    });
  });

  it('publishes an OpenAPI document whose request schemas are the domain schemas', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      openapi: string;
      paths: Json;
      components: {
        schemas: Record<string, { properties: Record<string, { enum?: string[] }>; required: string[] }>;
      };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/erasures',
        '/v1/erasures/{id}',
        '/v1/consent-events',
        '/v1/subjects/status',
      ]),
    );
    expect(doc.components.schemas.ConsentEvent?.properties.purpose?.enum).toContain('marketing_email');
    expect(doc.components.schemas.ErasureRequest?.required).toEqual(['email']);
    expect(doc.components.schemas.SubjectStatusRequest?.required).toEqual(['email']);
  });

  describe('idempotency', () => {
    it('replays the first answer for the same key and body, and starts nothing new', async () => {
      const idem = { ...auth(), 'idempotency-key': randomUUID() };
      const body = consentBody();
      const first = await post(app, '/v1/consent-events', body, idem);
      // Same body, keys in another order: the same request.
      const reordered = Object.fromEntries(Object.entries(body).reverse());
      const second = await post(app, '/v1/consent-events', reordered, idem);
      expect(first.statusCode).toBe(202);
      expect(second.statusCode).toBe(202);
      expect(second.json()).toEqual(first.json());
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(first.headers['idempotent-replayed']).toBeUndefined();

      const erasureIdem = { ...auth(), 'idempotency-key': randomUUID() };
      const erasure = erasureBody();
      const a = await post(app, '/v1/erasures', erasure, erasureIdem);
      const b = await post(app, '/v1/erasures', erasure, erasureIdem);
      expect(b.statusCode).toBe(202);
      expect(b.json()).toEqual(a.json());
    });

    it('answers 409 for the same key with a different body or on another route, and starts nothing', async () => {
      const conflictQueue = `${temporal.taskQueue}-conflict`;
      const conflictApp = await buildTestApi({ hub: hubContext(temporal, conflictQueue), ledger, key });
      const idem = { 'idempotency-key': randomUUID() };
      const first = await post(conflictApp, '/v1/erasures', erasureBody(), { ...auth(), ...idem });
      expect(first.statusCode).toBe(202);
      const started = await workflowsOnSoon(conflictQueue, 1);
      const conflicting = await post(conflictApp, '/v1/erasures', erasureBody(), { ...auth(), ...idem });
      expect(conflicting.statusCode).toBe(409);
      expect(conflicting.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(conflicting.json()).toMatchObject({ status: 409, errors: [{ field: 'Idempotency-Key' }] });
      const otherRoute = await post(conflictApp, '/v1/consent-events', consentBody(), { ...auth(), ...idem });
      expect(otherRoute.statusCode).toBe(409);
      await delay(1500);
      expect(await workflowsOn(temporal.client, conflictQueue)).toEqual(started);
      await conflictApp.close();
    });

    it('refuses a grant for an erased person with 409 before anything is recorded or started; a withdrawal still gets 202', async () => {
      const refusedQueue = `${temporal.taskQueue}-erased-grant`;
      const refusedApp = await buildTestApi({ hub: hubContext(temporal, refusedQueue), ledger, key });
      const email = newEmail();
      const subjectKey = subjectKeyFor(email, temporal.secrets.subjectKeySecret);
      await ledger.recordTombstone({
        subjectKey,
        erasedAt: '2026-01-02T03:04:05.000Z',
        systems: ['dynamics', 'google'],
        firstRequestId: randomUUID(),
        lastRequestId: randomUUID(),
      });
      const grant = { ...consentBody(email), decision: 'granted', evidence: { formId: 'newsletter' } };
      const refused = await post(refusedApp, '/v1/consent-events', grant);
      expect(refused.statusCode).toBe(409);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.json().detail).toContain('erased at 2026-01-02T03:04:05.000Z');
      expect(refused.body).not.toContain(email);
      // Nothing recorded: no request with a deadline, no workflow on the queue.
      expect(await ledger.listRequestDeadlines({ subjectKey })).toEqual([]);
      await delay(1000);
      expect(await workflowsOn(temporal.client, refusedQueue)).toEqual([]);
      // A withdrawal for the same erased person is never refused.
      const withdrawal = await post(refusedApp, '/v1/consent-events', consentBody(email));
      expect(withdrawal.statusCode).toBe(202);
      // Its consent run, and the shredding of the data key minted for it once the run has closed.
      expect((await workflowsOnSoon(refusedQueue, 2)).sort()).toEqual(
        [`consent-${subjectKey}`, `shred-${subjectKey}-${withdrawal.json().eventId}`].sort(),
      );
      await refusedApp.close();
    });

    it('scopes keys per API key: another caller may use the same key', async () => {
      const otherKey = freshApiKey();
      const other = await buildTestApi({
        hub: hubContext(temporal, temporal.taskQueue),
        ledger,
        key: otherKey,
      });
      const idem = randomUUID();
      const a = await post(app, '/v1/consent-events', consentBody(), { ...auth(), 'idempotency-key': idem });
      const b = await post(other, '/v1/consent-events', consentBody(), {
        ...auth(otherKey),
        'idempotency-key': idem,
      });
      expect(a.statusCode).toBe(202);
      expect(b.statusCode).toBe(202);
      await other.close();
      expect(hashApiKey(otherKey)).not.toBe(hashApiKey(key));
    });
  });

  describe('privacy of what the API keeps', () => {
    const storeKeyOf = (idem: string) => `api:${hashApiKey(key).slice(0, 12)}:${idem}`;

    it('keeps an HMAC of the request (not its SHA-256) with the subject key, and forgets it when the subject is erased', async () => {
      const idem = randomUUID();
      const body = erasureBody();
      const first = await post(app, '/v1/erasures', body, { ...auth(), 'idempotency-key': idem });
      expect(first.statusCode).toBe(202);
      const stored = await ledger.getIdempotentResponse(storeKeyOf(idem));
      const plain = createHash('sha256')
        .update(`POST /v1/erasures\n${JSON.stringify(Object.fromEntries(Object.entries(body).sort()))}`)
        .digest('hex');
      expect(stored?.requestHash).toBe(
        requestHash(temporal.secrets.subjectKeySecret, 'POST /v1/erasures', body),
      );
      expect(stored?.requestHash).not.toBe(plain);
      expect(stored?.subjectKey).toBe(first.json().subjectKey);
      expect(await ledger.deleteIdempotentResponses({ subjectKey: first.json().subjectKey })).toBe(1);
      const reused = await post(app, '/v1/erasures', erasureBody(), { ...auth(), 'idempotency-key': idem });
      expect(reused.statusCode).toBe(202);
    });

    it('lets an idempotency record expire after CONSENT_HUB_IDEMPOTENCY_TTL (7 days by default)', async () => {
      const idem = randomUUID();
      await ledger.saveIdempotentResponse({
        key: storeKeyOf(idem),
        requestHash: 'f'.repeat(64),
        status: 202,
        body: { old: true },
        createdAt: new Date(Date.now() - 7 * 24 * 3600_000 - 60_000).toISOString(),
      });
      const fresh = await post(app, '/v1/consent-events', consentBody(), {
        ...auth(),
        'idempotency-key': idem,
      });
      expect(fresh.statusCode).toBe(202);
      expect(fresh.json()).not.toEqual({ old: true });
      expect((await ledger.getIdempotentResponse(storeKeyOf(idem)))?.requestHash).not.toBe('f'.repeat(64));
    });

    it('refuses unknown keys inside evidence, prose in references and a name as requestedBy with 400, starting nothing', async () => {
      const cases: [string, Json, string][] = [
        [
          '/v1/consent-events',
          { ...consentBody(), evidence: { channel: 'web', person: 'Fiona' } },
          'evidence.person',
        ],
        [
          '/v1/consent-events',
          { ...consentBody(), evidence: { formId: 'Fiona F. form' } },
          'evidence.formId',
        ],
        ['/v1/consent-events', { ...consentBody(), source: 'Fiona (fiona@example.net)' }, 'source'],
        ['/v1/erasures', { ...erasureBody(), requestedBy: 'Fiona F. (fiona@example.net)' }, 'requestedBy'],
        // A key is input too: an address or a name sent as a field name is refused without being echoed.
        ['/v1/erasures', { ...erasureBody(), 'fiona@example.net': true }, '(unnamed field)'],
        [
          '/v1/consent-events',
          { ...consentBody(), evidence: { channel: 'web', 'Fiona F. (fiona@example.net)': 'x' } },
          'evidence.(unnamed field)',
        ],
      ];
      for (const [url, body, field] of cases) {
        const answer = await post(quietApp, url, body);
        expect(answer.statusCode, `${url} ${field}`).toBe(400);
        expect(answer.json().errors.map((e: { field: string }) => e.field)).toContain(field);
        expect(answer.body).not.toContain('fiona@example.net');
        expect(answer.body).not.toContain('Fiona F.');
      }
    });
  });

  async function workflowsOnSoon(taskQueue: string, count: number) {
    for (let i = 0; i < 40; i++) {
      const ids = await workflowsOn(temporal.client, taskQueue);
      if (ids.length >= count) return ids;
      await delay(250);
    }
    throw new Error(`fewer than ${count} workflows on ${taskQueue}`);
  }

  describe('bad input: 400/413/415 problem+json naming the field, nothing started, no PII logged', () => {
    const secretEmail = 'Leaky.Person@example.com';
    const cases: [string, string, string | Buffer, string, number, string | undefined][] = [
      [
        'invalid email',
        '/v1/erasures',
        JSON.stringify({ email: 'not-an-email', requestedBy: 'x' }),
        'application/json',
        400,
        'email',
      ],
      [
        'missing email',
        '/v1/erasures',
        JSON.stringify({ requestedBy: 'x' }),
        'application/json',
        400,
        'email',
      ],
      [
        'bad GA client id',
        '/v1/erasures',
        JSON.stringify({ email: secretEmail, gaClientIds: ['abc'] }),
        'application/json',
        400,
        'gaClientIds.0',
      ],
      [
        'unknown field',
        '/v1/erasures',
        JSON.stringify({ email: secretEmail, gaClientId: '1.2' }),
        'application/json',
        400,
        'gaClientId',
      ],
      [
        'unknown purpose',
        '/v1/consent-events',
        JSON.stringify({ ...consentBody(secretEmail), purpose: 'telepathy' }),
        'application/json',
        400,
        'purpose',
      ],
      [
        'grant without evidence',
        '/v1/consent-events',
        JSON.stringify({ ...consentBody(secretEmail), decision: 'granted', evidence: {} }),
        'application/json',
        400,
        'evidence',
      ],
      [
        'bad occurredAt',
        '/v1/consent-events',
        JSON.stringify({ ...consentBody(secretEmail), occurredAt: 'yesterday' }),
        'application/json',
        400,
        'occurredAt',
      ],
      [
        'invalid email for status',
        '/v1/subjects/status',
        JSON.stringify({ email: 'x@' }),
        'application/json',
        400,
        'email',
      ],
      ['malformed JSON', '/v1/erasures', `{"email": "${secretEmail}",`, 'application/json', 400, undefined],
      ['JSON that is not an object', '/v1/consent-events', '[1,2,3]', 'application/json', 400, '(body)'],
      ['JSON null', '/v1/erasures', 'null', 'application/json', 400, '(body)'],
      ['empty JSON body', '/v1/erasures', '', 'application/json', 400, undefined],
      [
        'prototype poisoning',
        '/v1/erasures',
        `{"email":"${secretEmail}","__proto__":{"x":1}}`,
        'application/json',
        400,
        undefined,
      ],
      [
        'oversized body',
        '/v1/erasures',
        JSON.stringify({ email: secretEmail, reason: 'x'.repeat(apiBodyLimit) }),
        'application/json',
        413,
        undefined,
      ],
      [
        'form body',
        '/v1/erasures',
        `email=${encodeURIComponent(secretEmail)}`,
        'application/x-www-form-urlencoded',
        415,
        undefined,
      ],
      ['text body', '/v1/consent-events', secretEmail, 'text/plain', 415, undefined],
    ];

    it.each(cases)('%s', async (_name, url, payload, contentType, status, field) => {
      const answer = await quietApp.inject({
        method: 'POST',
        url,
        headers: { ...auth(), 'content-type': contentType },
        payload,
      });
      expect(answer.statusCode).toBe(status);
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = answer.json() as { status: number; errors?: { field: string }[] };
      expect(problem.status).toBe(status);
      if (field) expect(problem.errors?.map((e) => e.field)).toContain(field);
    });

    it('an invalid Idempotency-Key header is named', async () => {
      const answer = await post(quietApp, '/v1/erasures', erasureBody(), {
        ...auth(),
        'idempotency-key': 'ü'.repeat(3),
      });
      expect(answer.statusCode).toBe(400);
      expect(answer.json()).toMatchObject({ errors: [{ field: '(Idempotency-Key header)' }] });
    });

    it('a fuzzed round of 200 random JSON and form bodies: no 5xx, nothing started, no address logged', async () => {
      const random = prng(20240501);
      const strings = [
        '',
        ' ',
        'x',
        '0',
        'null',
        'a@',
        '@b.c',
        'ü',
        '"',
        '\\',
        '<script>',
        'marketing_email',
        'withdrawn',
        'granted',
        '2024-13-45T00:00:00Z',
        'yesterday',
        '1.2',
        'a'.repeat(300),
        '__proto__',
        'constructor',
      ];
      const keys = [
        'email',
        'purpose',
        'decision',
        'occurredAt',
        'source',
        'evidence',
        'gaClientIds',
        'requestedBy',
        'reason',
        'type',
        'fired_at',
        'data[email]',
        'x',
        '',
        'constructor',
      ];
      const value = (depth: number): unknown => {
        switch (random.int(depth > 2 ? 4 : 7)) {
          case 0:
            return random.pick(strings);
          case 1:
            return random.int(2) ? random.next() * 1e6 - 5e5 : random.int(1000);
          case 2:
            return random.pick([true, false, null]);
          case 3:
            return random.pick(strings).repeat(random.int(3));
          case 4:
            return Array.from({ length: random.int(4) }, () => value(depth + 1));
          default:
            return Object.fromEntries(
              Array.from({ length: random.int(5) }, () => [random.pick(keys), value(depth + 1)]),
            );
        }
      };
      // Valid bodies with exactly one thing broken, so each is invalid by construction.
      const mutated = () => {
        const base: Json = random.int(2) ? consentBody(secretEmail) : erasureBody(secretEmail);
        const field = random.pick(Object.keys(base));
        base[field] = random.int(3) ? value(1) : undefined;
        if (field !== 'email' || typeof base.email === 'string')
          base.email = random.pick(['a@', 42, null, 'x y@z']);
        return base;
      };
      const routes = [
        '/v1/erasures',
        '/v1/consent-events',
        '/v1/subjects/status',
        `/webhooks/mailchimp/${webhookSecret}`,
        '/webhooks/mailchimp/wrong',
      ];
      const statuses = new Map<number, number>();
      for (let round = 0; round < 200; round++) {
        const url = random.pick(routes);
        const form = random.int(3) === 0;
        const body = random.int(2) ? mutated() : value(0);
        const payload = form
          ? new URLSearchParams(
              Object.entries(body && typeof body === 'object' ? (body as Json) : { v: body }).map(
                ([k, v]): [string, string] => [k, String(v)],
              ),
            ).toString()
          : (JSON.stringify(body) ?? '');
        const answer = await quietApp.inject({
          method: 'POST',
          url,
          headers: {
            ...(random.int(10) ? auth() : {}),
            'content-type': form
              ? 'application/x-www-form-urlencoded'
              : random.pick(['application/json', 'application/json; charset=utf-8']),
          },
          payload,
        });
        statuses.set(answer.statusCode, (statuses.get(answer.statusCode) ?? 0) + 1);
        expect(answer.statusCode, `round ${round}: ${url} ${payload.slice(0, 200)}`).toBeGreaterThanOrEqual(
          400,
        );
        expect(answer.statusCode, `round ${round}: ${url} ${payload.slice(0, 200)}`).toBeLessThan(500);
      }
      expect([...statuses.keys()].every((status) => [400, 401, 404, 413, 415].includes(status))).toBe(true);
      await delay(1500);
      expect(await workflowsOn(temporal.client, quietQueue)).toEqual([]);
      const logged = logs.lines.join('');
      expect(logged).not.toContain('@');
      expect(logged).not.toContain(webhookSecret);
    });
  });
});
