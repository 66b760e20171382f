import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import { openApiDocument } from '../../api/openapi.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { freshApiKey, hubContext, tempLedger } from './api-test-kit.js';

let counter = 0;
const newEmail = () => `api-hold.${Date.now()}.${counter++}@example.com`;

describe('API: legal holds need the operator scope and keep no address', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let ledger: Ledger;
  let app: FastifyInstance;
  const operatorKey = freshApiKey();
  const intakeKey = freshApiKey();

  beforeAll(async () => {
    temporal = await connectTestTemporal('api-holds');
    ledger = await tempLedger();
    app = await createApiServer({
      hub: hubContext(temporal, temporal.taskQueue),
      ledger,
      logger: silentLogger,
      config: {
        CONSENT_HUB_API_KEYS: [
          `${hashApiKey(operatorKey)}:status+operator`,
          `${hashApiKey(intakeKey)}:intake`,
        ],
        CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET: undefined,
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await ledger?.close();
    await temporal?.close();
  });

  const post = (key: string, url: string, body: unknown) =>
    app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  it('refuses a key without the operator scope, with 403 naming it, and records nothing', async () => {
    const email = newEmail();
    for (const url of ['/v1/holds', '/v1/holds/release']) {
      const answer = await post(intakeKey, url, { email, reason: 'legal_claims' });
      expect(answer.statusCode, url).toBe(403);
      expect(answer.json().detail).toContain('"operator" scope');
    }
    expect(await ledger.getHold(subjectKeyFor(email, temporal.secrets.subjectKeySecret))).toBeUndefined();
  });

  it('places a hold (201), keeps it on a second call (200), releases it once, by the calling key', async () => {
    const email = newEmail();
    const subjectKey = subjectKeyFor(email, temporal.secrets.subjectKeySecret);
    const placed = await post(operatorKey, '/v1/holds', { email, reason: 'legal_claims' });
    expect(placed.statusCode).toBe(201);
    expect(placed.json()).toMatchObject({
      subjectKey,
      placed: true,
      erasureRunning: false,
      hold: { reason: 'legal_claims', placedBy: expect.stringMatching(/^api:/) },
    });
    expect(placed.body).not.toContain(email);
    const again = await post(operatorKey, '/v1/holds', { email, reason: 'authority_order' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ placed: false, hold: { reason: 'legal_claims' } });

    const released = await post(operatorKey, '/v1/holds/release', { email, reason: 'placed_in_error' });
    expect(released.statusCode).toBe(200);
    expect(released.json()).toMatchObject({
      subjectKey,
      erasureSignalled: false,
      hold: { releaseReason: 'placed_in_error', releasedBy: expect.stringMatching(/^api:/) },
    });
    const twice = await post(operatorKey, '/v1/holds/release', { email });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().detail).toBe(`Subject ${subjectKey} is not on hold: nothing was released.`);
  });

  it('answers 409 with one line naming no address when a person never held is released, and records nothing', async () => {
    const email = newEmail();
    const subjectKey = subjectKeyFor(email, temporal.secrets.subjectKeySecret);
    const answer = await post(operatorKey, '/v1/holds/release', { email });
    expect(answer.statusCode).toBe(409);
    expect(answer.json()).toMatchObject({ status: 409, title: 'Conflict' });
    expect(answer.json().detail).toContain(subjectKey);
    expect(answer.json().detail).not.toContain('\n');
    expect(answer.body).not.toContain(email);
    expect(await ledger.getHold(subjectKey)).toBeUndefined();
  });

  it('names a reason that is no code, an unknown field and a bad address, with 400', async () => {
    const free = await post(operatorKey, '/v1/holds', { email: newEmail(), reason: 'the lawyer said so' });
    expect(free.statusCode).toBe(400);
    expect(JSON.stringify(free.json().errors)).toContain('reason');
    expect(JSON.stringify(free.json().errors)).toContain('legal_claims');
    const extra = await post(operatorKey, '/v1/holds', {
      email: newEmail(),
      reason: 'legal_claims',
      note: 'x',
    });
    expect(extra.statusCode).toBe(400);
    const address = await post(operatorKey, '/v1/holds', { email: 'not an address', reason: 'legal_claims' });
    expect(address.statusCode).toBe(400);
    expect(JSON.stringify(address.json().errors)).toContain('email');
  });

  it('documents both routes under the operator tag, with their bodies and answers', () => {
    const paths = openApiDocument().paths as Record<
      string,
      Record<string, { operationId: string; tags: string[] }>
    >;
    expect(paths['/v1/holds']?.post).toMatchObject({ operationId: 'placeHold', tags: ['operator'] });
    expect(paths['/v1/holds/release']?.post).toMatchObject({
      operationId: 'releaseHold',
      tags: ['operator'],
    });
    const schemas = openApiDocument().components.schemas as Record<string, { properties?: object }>;
    expect(Object.keys(schemas.HoldRequest?.properties ?? {})).toEqual(['email', 'reason']);
    expect(Object.keys(schemas.HoldPlaced?.properties ?? {})).toContain('erasureRunning');
  });
});

describe('API: POST /v1/rectifications needs the intake scope and names bad fields', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let ledger: Ledger;
  let app: FastifyInstance;
  const intakeKey = freshApiKey();
  const operatorKey = freshApiKey();

  beforeAll(async () => {
    temporal = await connectTestTemporal('api-rectifications');
    ledger = await tempLedger();
    app = await createApiServer({
      hub: hubContext(temporal, temporal.taskQueue),
      ledger,
      logger: silentLogger,
      config: {
        CONSENT_HUB_API_KEYS: [
          `${hashApiKey(intakeKey)}:intake`,
          `${hashApiKey(operatorKey)}:status+operator`,
        ],
        CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET: undefined,
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await ledger?.close();
    await temporal?.close();
  });
  const post = (key: string, body: unknown) =>
    app.inject({
      method: 'POST',
      url: '/v1/rectifications',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  it('accepts a rectification with 202, its deadline and both subject keys, and no address in the answer', async () => {
    const email = newEmail();
    const next = newEmail();
    const answer = await post(intakeKey, { email, set: { email: next, lastname: 'Nouveau' } });
    expect(answer.statusCode).toBe(202);
    expect(answer.json()).toMatchObject({
      subjectKey: subjectKeyFor(email, temporal.secrets.subjectKeySecret),
      newSubjectKey: subjectKeyFor(next, temporal.secrets.subjectKeySecret),
      dueAt: expect.any(String),
    });
    expect(answer.body).not.toContain(email);
    expect(answer.body).not.toContain(next);
  });

  it('refuses a key without intake (403), an empty or unknown set and a bad new address (400)', async () => {
    expect((await post(operatorKey, { email: newEmail(), set: { lastname: 'X' } })).statusCode).toBe(403);
    for (const set of [{}, { phone: '1' }, { email: 'not an address' }]) {
      const answer = await post(intakeKey, { email: newEmail(), set });
      expect(answer.statusCode, JSON.stringify(set)).toBe(400);
      expect(JSON.stringify(answer.json().errors)).toContain('set');
    }
  });

  it("refuses a caller posing as Mailchimp's upemail webhook (400, requestedBy named), which would change how members are matched", async () => {
    const email = newEmail();
    const answer = await post(intakeKey, {
      email,
      set: { email: newEmail() },
      requestedBy: 'mailchimp:upemail',
    });
    expect(answer.statusCode).toBe(400);
    expect(JSON.stringify(answer.json().errors)).toContain('requestedBy');
    expect(JSON.stringify(answer.json().errors)).toContain('reserved for Mailchimp');
    expect(
      await ledger.listRequestDeadlines({
        subjectKey: subjectKeyFor(email, temporal.secrets.subjectKeySecret),
      }),
    ).toEqual([]);
    // Any other requester id is still the caller's to give.
    expect(
      (await post(intakeKey, { email, set: { lastname: 'Y' }, requestedBy: 'ticket#42' })).statusCode,
    ).toBe(202);
  });
});
