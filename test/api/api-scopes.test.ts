import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import type { ConsentClientContext } from '../../hub-client/consent.js';
import type { Ledger } from '../../ledger/ledger.js';
import { silentLogger } from '../support/temporal.js';
import { freshApiKey, tempLedger } from './api-test-kit.js';

/**
 * Scopes and the per-key rate limit act before any route's work, so no Temporal is needed: a hub context
 * that fails if touched proves nothing was started or looked up.
 */
const untouchable = new Proxy({} as ConsentClientContext, {
  get: (_target, property) => {
    if (property === 'then') return undefined;
    if (property === 'subjectKeySecret') return 's'.repeat(40);
    throw new Error(`the hub was touched (${String(property)}) by a request that should have been refused`);
  },
});

describe('API keys carry scopes; each key has its own rate limit', () => {
  let ledger: Ledger;
  let app: FastifyInstance;
  const intakeKey = freshApiKey();
  const statusKey = freshApiKey();
  const legacyKey = freshApiKey();
  const otherStatusKey = freshApiKey();

  beforeAll(async () => {
    ledger = await tempLedger();
    app = await createApiServer({
      hub: untouchable,
      ledger,
      logger: silentLogger,
      config: {
        CONSENT_HUB_API_KEYS: [
          `${hashApiKey(intakeKey)}:intake`,
          `${hashApiKey(statusKey)}:status`,
          `${hashApiKey(otherStatusKey)}:status+operator`,
          hashApiKey(legacyKey),
        ],
        CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET: undefined,
        CONSENT_HUB_API_RATE_LIMIT: 5,
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await ledger?.close();
  });

  const call = (key: string, method: 'GET' | 'POST', url: string, body?: unknown) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: body === undefined ? undefined : JSON.stringify(body),
    });

  it('refuses a key without status any answer about an erasure or a person, with 403 that names the scope', async () => {
    for (const [method, url, body] of [
      ['GET', `/v1/erasures/${randomUUID()}`, undefined],
      ['GET', `/v1/requests/${randomUUID()}`, undefined],
      ['POST', '/v1/subjects/status', { email: 'erased.person@example.com' }],
    ] as const) {
      const answer = await call(intakeKey, method, url, body);
      expect(answer.statusCode, url).toBe(403);
      expect(answer.json()).toMatchObject({ status: 403, detail: expect.stringContaining('"status" scope') });
    }
  });

  it('refuses a status-only key the intake and operator routes', async () => {
    const erase = await call(statusKey, 'POST', '/v1/erasures', { email: 'a@example.com' });
    expect(erase.statusCode).toBe(403);
    expect(erase.json().detail).toContain('"intake" scope');
    const close = await call(statusKey, 'POST', `/v1/requests/${randomUUID()}/close`, { system: 'google' });
    expect(close.statusCode).toBe(403);
    expect(close.json().detail).toContain('"operator" scope');
  });

  it('lets a key with the scope through to the route (its validation answers), and a key without scopes do everything', async () => {
    expect((await call(statusKey, 'POST', '/v1/subjects/status', {})).statusCode).toBe(400);
    expect((await call(legacyKey, 'POST', '/v1/subjects/status', {})).statusCode).toBe(400);
    expect((await call(legacyKey, 'POST', '/v1/erasures', {})).statusCode).toBe(400);
  });

  it('answers 429 with Retry-After once a key used up its requests per minute, and other keys carry on', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++)
      statuses.push((await call(otherStatusKey, 'POST', '/v1/subjects/status', {})).statusCode);
    expect(statuses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
    const limited = await call(otherStatusKey, 'POST', '/v1/subjects/status', {});
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await call(legacyKey, 'POST', '/v1/subjects/status', {})).statusCode).toBe(400);
  });
});
