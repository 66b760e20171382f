import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  erasureLookupSchema,
  operatorActionResultSchema,
  subjectStatusSchema,
} from '../../api/api-response-schemas.js';
import { openApiDocument } from '../../api/openapi.js';
import type { Ledger } from '../../ledger/ledger.js';
import { stubConnectors } from '../cli/cli-test-kit.js';
import { connectTestTemporal } from '../support/temporal.js';
import { buildTestApi, freshApiKey, hubContext, tempLedger } from './api-test-kit.js';

type Json = Record<string, unknown>;
let counter = 0;
const newEmail = () => `api-op.${Date.now()}.${counter++}@example.com`;

describe('API: follow any request, act on it as an operator, typed answers', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let ledger: Ledger;
  let app: FastifyInstance;
  let worker: { stop(): Promise<void> };
  const key = freshApiKey();
  const stubs = stubConnectors();

  beforeAll(async () => {
    temporal = await connectTestTemporal('api-operator');
    ledger = await tempLedger();
    worker = await temporal.startWorker({ connectors: stubs.connectors, ledger });
    app = await buildTestApi({ hub: hubContext(temporal, temporal.taskQueue), ledger, key });
  });
  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await ledger?.close();
    await temporal?.close();
  });

  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const post = (url: string, body: unknown) =>
    app.inject({ method: 'POST', url, headers, payload: JSON.stringify(body) });
  const get = (url: string) =>
    app.inject({ method: 'GET', url, headers: { authorization: headers.authorization } });

  async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
    for (let i = 0; i < 160; i++) {
      const found = await probe();
      if (found !== undefined) return found;
      await delay(250);
    }
    throw new Error(`never saw: ${what}`);
  }

  it('answers an erasure with Location, shows retries as they happen, and retries by the operator route', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'unavailable', google: 'ok' });
    const accepted = await post('/v1/erasures', { email: newEmail() });
    expect(accepted.statusCode).toBe(202);
    const { requestId } = accepted.json() as { requestId: string };
    expect(accepted.headers.location).toBe(`/v1/erasures/${requestId}`);

    // Retrying: attempt, last failure and next retry, from the pending activity; the body is fully typed.
    const retrying = await waitFor(async () => {
      const lookup = erasureLookupSchema.parse((await get(accepted.headers.location as string)).json());
      const state = lookup.state === 'open' ? lookup.status.systems.mailchimp.retrying : undefined;
      return state && state.attempt >= 2 && state.lastFailure ? state : undefined;
    }, 'mailchimp retrying');
    expect(retrying.lastFailure).toMatchObject({ status: 503, reason: 'Service Unavailable' });
    expect(Date.parse(retrying.nextRetryAt ?? retrying.lastFailure?.at ?? '')).not.toBeNaN();

    stubs.behaviour.mailchimp = 'bad-credentials';
    await waitFor(async () => {
      const lookup = erasureLookupSchema.parse((await get(`/v1/erasures/${requestId}`)).json());
      return lookup.state === 'open' && lookup.status.status === 'needs_attention' ? true : undefined;
    }, 'needs attention');

    // The whole body is checked before anything is done: an unknown field is named, nothing is recorded.
    const extra = await post(`/v1/requests/${requestId}/retry`, { system: 'mailchimp', operator: 'me' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json()).toMatchObject({ errors: [{ field: 'operator', message: 'unknown field' }] });
    expect(await ledger.listOperatorActions(requestId)).toEqual([]);

    stubs.behaviour.mailchimp = 'ok';
    const retried = await post(`/v1/requests/${requestId}/retry`, { system: 'mailchimp' });
    expect(retried.statusCode).toBe(200);
    const result = operatorActionResultSchema.parse(retried.json());
    expect(result).toMatchObject({ kind: 'erasure', recorded: { action: 'retry', system: 'mailchimp' } });
    expect(result.recorded.operator).toMatch(/^api:[0-9a-f]{12}$/);
    expect(await ledger.listOperatorActions(requestId)).toEqual([
      expect.objectContaining({
        action: 'retry',
        operator: result.recorded.operator,
        requestKind: 'erasure',
      }),
    ]);
    const receipt = await waitFor(async () => {
      const lookup = erasureLookupSchema.parse((await get(`/v1/erasures/${requestId}`)).json());
      return lookup.state === 'completed' ? lookup.receipt : undefined;
    }, 'receipt');
    expect(receipt.operatorActions).toEqual([
      expect.objectContaining({ action: 'retry', system: 'mailchimp' }),
    ]);
  });

  it('follows a consent change at its Location and closes it by its id; a second close is a 409', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'bad-credentials', google: 'ok' });
    const email = newEmail();
    const accepted = await post('/v1/consent-events', {
      email,
      purpose: 'phone',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'form:contact',
    });
    expect(accepted.statusCode).toBe(202);
    const { eventId } = accepted.json() as { eventId: string };
    expect(accepted.headers.location).toBe(`/v1/requests/${eventId}`);

    await waitFor(async () => {
      const answer = await get(accepted.headers.location as string);
      if (answer.statusCode !== 200) return undefined;
      const body = answer.json() as { kind: string; subject: unknown };
      expect(body.kind).toBe('consent');
      const subject = subjectStatusSchema.parse(body.subject);
      return subject.systems.mailchimp.status === 'needs_attention' ? true : undefined;
    }, 'consent change needing attention');

    const missingReason = await post(`/v1/requests/${eventId}/close`, { system: 'mailchimp' });
    expect(missingReason.statusCode).toBe(400);
    expect(missingReason.json()).toMatchObject({ errors: [{ field: 'reason' }] });

    const closed = await post(`/v1/requests/${eventId}/close`, {
      system: 'mailchimp',
      reason: 'audience gone',
    });
    expect(closed.statusCode).toBe(200);
    expect(operatorActionResultSchema.parse(closed.json())).toMatchObject({
      kind: 'consent',
      recorded: { action: 'close', reason: 'audience gone' },
    });
    const again = await post(`/v1/requests/${eventId}/close`, { system: 'mailchimp', reason: 'again' });
    expect(again.statusCode).toBe(409);
    expect((again.json() as Json).detail).toMatch(/mailchimp/);
    stubs.behaviour.mailchimp = 'ok';

    const status = await post('/v1/subjects/status', { email });
    expect(status.statusCode).toBe(200);
    expect(subjectStatusSchema.parse(status.json()).purposes.phone?.systems.mailchimp).toBe(
      'closed_by_operator',
    );
  });

  it('answers an unknown request id with 404 naming it, on every route that takes one', async () => {
    const id = randomUUID();
    for (const answer of [
      await get(`/v1/erasures/${id}`),
      await get(`/v1/requests/${id}`),
      await post(`/v1/requests/${id}/retry`, { system: 'google' }),
      await post(`/v1/requests/${id}/close`, { system: 'google', reason: 'x' }),
    ]) {
      expect(answer.statusCode).toBe(404);
      expect((answer.json() as Json).detail).toContain(id);
    }
  });

  it('tells a client that sent another content type to send application/json (415)', async () => {
    const answer = await app.inject({
      method: 'POST',
      url: '/v1/erasures',
      headers: { authorization: headers.authorization, 'content-type': 'application/xml' },
      payload: '<email/>',
    });
    expect(answer.statusCode).toBe(415);
    expect((answer.json() as Json).detail).toContain('Content-Type: application/json');
  });
});

describe('the OpenAPI document', () => {
  const document = openApiDocument();
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      path,
      method,
      operation: operation as { operationId?: string; responses: Record<string, unknown> },
    })),
  );

  it('gives every operation an operationId, sets servers, and lists 413/415 only where a body is taken', () => {
    expect(operations.length).toBeGreaterThanOrEqual(9);
    for (const { path, method, operation } of operations) {
      expect(operation.operationId, `${method} ${path}`).toMatch(/^[a-zA-Z]+$/);
      if (method === 'get') {
        expect(Object.keys(operation.responses), `${method} ${path}`).not.toContain('413');
        expect(Object.keys(operation.responses), `${method} ${path}`).not.toContain('415');
      }
    }
    expect(new Set(operations.map((o) => o.operation.operationId)).size).toBe(operations.length);
    expect(document.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  it("passes Redocly's recommended lint with no error", () => {
    const file = join(mkdtempSync(join(tmpdir(), 'consent-hub-openapi-')), 'openapi.json');
    writeFileSync(file, JSON.stringify(document, null, 2));
    const run = spawnSync(
      process.execPath,
      [
        join('node_modules', '@redocly', 'cli', 'bin', 'cli.js'),
        'lint',
        file,
        '--extends',
        'recommended',
        '--format',
        'json',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      },
    );
    const report = JSON.parse(run.stdout) as {
      totals: { errors: number };
      problems: { ruleId: string; severity: string; message: string }[];
    };
    expect(report.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(report.totals.errors).toBe(0);
    expect(run.status).toBe(0);
  }, 60_000);
});

describe('API bad input messages', () => {
  it('names each missing or wrong field with what is expected, never zod default text', async () => {
    const temporal = await connectTestTemporal('api-messages');
    const ledger = await tempLedger();
    const key = freshApiKey();
    const app = await buildTestApi({ hub: hubContext(temporal, temporal.taskQueue), ledger, key });
    try {
      const answer = await app.inject({
        method: 'POST',
        url: '/v1/consent-events',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ decision: 'maybe', occurredAt: 'yesterday', source: 'cli' }),
      });
      expect(answer.statusCode).toBe(400);
      const errors = (answer.json() as { errors: { field: string; message: string }[] }).errors;
      const byField = Object.fromEntries(errors.map((e) => [e.field, e.message]));
      expect(byField.email).toMatch(/required/);
      expect(byField.purpose).toMatch(/^is required; known purposes: .*marketing_email/);
      expect(byField.decision).toBe('must be one of: granted, withdrawn');
      expect(byField.occurredAt).toMatch(/^must be an ISO 8601 date-time with a zone/);
      for (const e of errors)
        expect(e.message).not.toMatch(/Invalid input|Invalid option|received undefined/);
    } finally {
      await app.close();
      await ledger.close();
      await temporal.close();
    }
  });
});
