import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import type { AccessReceipt } from '../../domain/access.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { silentLogger } from '../support/temporal.js';

const freshKey = () => `chk_${randomBytes(24).toString('base64url')}`;
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
const cookiesOf = (response: LightMyRequestResponse) =>
  (response.cookies as { name: string; value: string }[]).map((c) => `${c.name}=${c.value}`);
/** The element with this id, as written (its opening tag). */
const tagOf = (html: string, id: string) =>
  new RegExp(`<[a-z]+[^>]*\\bid="${id}"[^>]*>`).exec(html)?.[0] ?? '';

/**
 * What the console says when it refuses what an operator typed: a key of this hub without the operator scope,
 * and an address that is not one on the search form or a form's hidden field. These pages reach no Temporal,
 * so the server is given no real client.
 */
describe('console refusals say why and keep what was typed', () => {
  const operatorKey = freshKey();
  const intakeKey = freshKey();
  let ledger: Ledger;
  let app: FastifyInstance;
  const dataDir = mkdtempSync(join(tmpdir(), 'console-refusals-'));

  beforeAll(async () => {
    ledger = await openLedger({ dataDir }, silentLogger);
    app = await createApiServer({
      hub: {
        client: {} as Client,
        taskQueue: 'console-refusals',
        subjectKeySecret: 'b'.repeat(64),
        timings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes' },
        consentTimings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes', idleAfter: '5 seconds' },
      },
      ledger,
      logger: silentLogger,
      config: {
        CONSENT_HUB_API_KEYS: [hashApiKey(operatorKey), `${hashApiKey(intakeKey)}:intake+status`],
        CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET: undefined,
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await ledger?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const signIn = async (key: string) => {
    const form = await app.inject({ method: 'GET', url: '/console/sign-in' });
    const cookies = cookiesOf(form);
    const answer = await app.inject({
      method: 'POST',
      url: '/console/sign-in',
      headers: { cookie: cookies.join('; ') },
      payload: { _csrf: csrfOf(form.body), apiKey: key },
    });
    return { answer, cookie: [...cookies, ...cookiesOf(answer)].join('; ') };
  };

  it('tells a key of this hub without the operator scope what it lacks, and a wrong key that it is wrong', async () => {
    const intake = await signIn(intakeKey);
    expect(intake.answer.statusCode).toBe(401);
    expect(intake.answer.body).toContain('lacks the operator scope');
    expect(intake.answer.body).not.toContain('not valid');
    expect(intake.answer.cookies.map((c) => c.name)).not.toContain('consent_hub_console');

    const wrong = await signIn(freshKey());
    expect(wrong.answer.statusCode).toBe(401);
    expect(wrong.answer.body).toContain('not valid for this hub');
    expect(wrong.answer.body).not.toContain('operator scope the console needs');

    expect((await signIn(operatorKey)).answer.statusCode).toBe(303);
  });

  it('shows a refused address on the search form again with the reason, from every form that posts one', async () => {
    const { cookie } = await signIn(operatorKey);
    const find = await app.inject({ method: 'GET', url: '/console/people', headers: { cookie } });
    const csrf = csrfOf(find.body);
    const cases = [
      { url: '/console/people', typed: 'ada.lovelace@example', reason: 'not fully qualified' },
      { url: '/console/people', typed: 'ada.lovelace.example.com', reason: 'has no @' },
      {
        url: '/console/new/erasure/for-person',
        typed: 'grace@@example.com',
        reason: 'is not an address under RFC 5321/6531',
      },
      { url: '/console/people/hold', typed: 'x@', reason: 'has nothing after the @' },
    ];
    for (const { url, typed, reason } of cases) {
      const page = await app.inject({
        method: 'POST',
        url,
        headers: { cookie },
        payload: { _csrf: csrf, email: typed, reason: 'legal_claims' },
      });
      expect(page.statusCode, url).toBe(400);
      expect(page.headers['cache-control']).toBe('no-store');
      const error = /<p class="error" role="alert" id="email-error">([^<]*)<\/p>/.exec(page.body)?.[1] ?? '';
      expect(error, url).toContain(reason);
      expect(error).toMatch(/^Not a valid email address: /);
      const field = tagOf(page.body, 'email');
      expect(field).toContain(`value="${typed}"`);
      expect(field).toContain('aria-invalid="true"');
      expect(field).toContain('aria-describedby="email-error"');
    }
    // What is typed is echoed escaped, never as markup.
    const markup = await app.inject({
      method: 'POST',
      url: '/console/people',
      headers: { cookie },
      payload: { _csrf: csrf, email: '"><script>alert(1)</script>' },
    });
    expect(markup.statusCode).toBe(400);
    expect(markup.body).not.toContain('<script>alert(1)');
    expect(tagOf(markup.body, 'email')).toContain('value="&quot;&gt;&lt;script&gt;');
  });

  it('answers a link or form value the console never makes with 400 and what to do, not a 500', async () => {
    const { cookie } = await signIn(operatorKey);
    const find = await app.inject({ method: 'GET', url: '/console/people', headers: { cookie } });
    const csrf = csrfOf(find.body);
    const id = '915da157-a102-4568-8ea1-fe21363ebd8b';
    const answers = [
      await app.inject({ method: 'GET', url: '/console/new/bogus', headers: { cookie } }),
      await app.inject({ method: 'GET', url: '/console/requests/bad%20id', headers: { cookie } }),
      await app.inject({
        method: 'GET',
        url: `/console/requests/${id}/export?format=xml`,
        headers: { cookie },
      }),
      await app.inject({
        method: 'POST',
        url: `/console/requests/${id}/retry`,
        headers: { cookie },
        payload: { _csrf: csrf, system: 'salesforce' },
      }),
      await app.inject({
        method: 'POST',
        url: '/console/new/bogus/for-person',
        headers: { cookie },
        payload: { _csrf: csrf, email: 'ada@example.com' },
      }),
    ];
    for (const answer of answers) {
      expect(answer.statusCode).toBe(400);
      expect(answer.body).toContain('changed from what the console offers');
      expect(answer.headers['cache-control']).toBe('no-store');
    }
  });

  it('answers a form sent after sign-out with the sign-in page saying nothing was done, not a bare text', async () => {
    const { cookie } = await signIn(operatorKey);
    const find = await app.inject({ method: 'GET', url: '/console/people', headers: { cookie } });
    const csrf = csrfOf(find.body);
    const out = await app.inject({
      method: 'POST',
      url: '/console/sign-out',
      headers: { cookie },
      payload: { _csrf: csrf },
    });
    expect(out.statusCode).toBe(303);
    const late = await app.inject({
      method: 'POST',
      url: '/console/new/erasure',
      headers: { cookie },
      payload: { _csrf: csrf, email: 'ada@example.com', reason: 'withdrawn_consent' },
    });
    expect(late.statusCode).toBe(401);
    expect(late.headers['content-type']).toContain('text/html');
    expect(late.headers['cache-control']).toBe('no-store');
    expect(late.body).toContain('<h1>Sign in</h1>');
    expect(late.body).toContain('so nothing was done');
    expect(tagOf(late.body, 'apiKey')).toContain('aria-invalid="true"');
    // The sign-in form it shows works: a fresh token, and the key signs in.
    const again = await app.inject({
      method: 'POST',
      url: '/console/sign-in',
      headers: { cookie: [...cookiesOf(late), ...cookie.split('; ')].join('; ') },
      payload: { _csrf: csrfOf(late.body), apiKey: operatorKey },
    });
    expect(again.statusCode).toBe(303);
  });

  it("shows an access request's receipt from the ledger, with its printable page and JSON download", async () => {
    const receipt: AccessReceipt = {
      kind: 'access',
      requestId: randomUUID(),
      subjectKey: 'e'.repeat(64),
      status: 'withdrawn',
      requestedAt: '2026-03-01T10:00:00.000Z',
      requestedBy: 'console:abc',
      systems: {
        dynamics: { status: 'collected', attempts: 1, counts: { contact: 1 }, recordCount: 1 },
        mailchimp: { status: 'collected', attempts: 2, counts: { member: 2 }, recordCount: 2 },
        google: { status: 'collected', attempts: 1, counts: {}, recordCount: 0 },
      },
      operatorActions: [],
      withdrawn: { reason: 'subject_erased', at: '2026-03-01T10:02:00.000Z', erasureRequestId: randomUUID() },
      outcome: 'withdrawn_subject_erased',
      completedAt: '2026-03-01T10:02:00.000Z',
    };
    await ledger.recordAccessReceipt(receipt);
    const { cookie } = await signIn(operatorKey);
    const page = await app.inject({
      method: 'GET',
      url: `/console/receipts/${receipt.requestId}`,
      headers: { cookie },
    });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Access request receipt</h1>');
    expect(page.body).toContain('withdrawn subject erased');
    expect(page.body).toContain(`href="/console/receipts/${receipt.withdrawn?.erasureRequestId}"`);
    expect(page.body).toMatch(/<th scope="row">mailchimp<\/th>[\s\S]*?<td>2<\/td>/);
    const print = await app.inject({
      method: 'GET',
      url: `/console/receipts/${receipt.requestId}?print=1`,
      headers: { cookie },
    });
    expect(print.body).toContain('<body class="print">');
    const json = await app.inject({
      method: 'GET',
      url: `/console/receipts/${receipt.requestId}/json`,
      headers: { cookie },
    });
    expect(json.headers['content-disposition']).toContain(`access-receipt-${receipt.requestId}.json`);
    expect(JSON.parse(json.body)).toEqual(receipt);
  });
});
