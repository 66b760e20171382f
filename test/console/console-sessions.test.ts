import { createHash, randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import { sessionCookie } from '../../console/console-plugin.js';
import { consoleSessionStore } from '../../console/console-sessions.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { type LedgerStore, ledgerBackends } from '../ledger/backends.js';
import { silentLogger } from '../support/temporal.js';

const freshKey = () => `chk_${randomBytes(24).toString('base64url')}`;

/** The cookies a response sets, as a Cookie header's name=value pairs (later ones win). */
function cookieJar() {
  const jar = new Map<string, string>();
  return {
    take(response: LightMyRequestResponse) {
      for (const cookie of response.cookies as { name: string; value: string; maxAge?: number }[]) {
        if (cookie.value === '' || cookie.maxAge === 0) jar.delete(cookie.name);
        else jar.set(cookie.name, cookie.value);
      }
    },
    get: (name: string) => jar.get(name),
    header: () => [...jar].map(([name, value]) => `${name}=${value}`).join('; '),
  };
}

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/**
 * Console sessions live in the ledger, so a restarted API process (a new server object on the same ledger)
 * keeps the operator signed in; sign-out ends the session for every copy of the cookie. The pages used here
 * (sign-in, find a person) reach no Temporal, so the server is given no real client.
 */
describe.each(ledgerBackends)('console sessions on $name', (backend) => {
  let store: LedgerStore;
  let ledger: Ledger;
  const operatorKey = freshKey();
  const otherKey = freshKey();
  const servers: FastifyInstance[] = [];

  const server = async (keys = [hashApiKey(operatorKey), hashApiKey(otherKey)]) => {
    const app = await createApiServer({
      hub: {
        client: {} as Client,
        taskQueue: 'console-sessions',
        subjectKeySecret: 'a'.repeat(64),
        timings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes' },
        consentTimings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes', idleAfter: '5 seconds' },
      },
      ledger,
      logger: silentLogger,
      config: { CONSENT_HUB_API_KEYS: keys, CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET: undefined },
    });
    servers.push(app);
    return app;
  };

  const signIn = async (app: FastifyInstance, key: string) => {
    const jar = cookieJar();
    const form = await app.inject({ method: 'GET', url: '/console/sign-in' });
    jar.take(form);
    const answer = await app.inject({
      method: 'POST',
      url: '/console/sign-in',
      headers: { cookie: jar.header() },
      payload: { _csrf: csrfOf(form.body), apiKey: key },
    });
    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe('/console/');
    jar.take(answer);
    return jar;
  };
  const findPersonPage = (app: FastifyInstance, jar: ReturnType<typeof cookieJar>) =>
    app.inject({ method: 'GET', url: '/console/people', headers: { cookie: jar.header() } });

  beforeAll(async () => {
    store = await backend.createStore();
    ledger = await openLedger(store.options, silentLogger);
  });
  afterAll(async () => {
    await Promise.all(servers.map((app) => app.close()));
    await ledger?.close();
    await store?.cleanup();
  });

  it('keeps the operator signed in across a restart of the API, with only the token hash in the ledger', async () => {
    const first = await server();
    const jar = await signIn(first, operatorKey);
    const token = jar.get(sessionCookie) as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await findPersonPage(first, jar)).statusCode).toBe(200);
    await first.close();

    const restarted = await server();
    const page = await findPersonPage(restarted, jar);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Find a person');
    expect(page.headers['cache-control']).toBe('no-store');

    // The ledger holds the token's SHA-256, the key's name and the end; neither the token nor the key.
    const rows = await store.inspect().selectFrom('console_sessions').selectAll().execute();
    const hash = createHash('sha256').update(token).digest('hex');
    const ours = rows.find((row) => row.token_hash === hash);
    expect(ours).toMatchObject({ key_id: hashApiKey(operatorKey).slice(0, 12) });
    expect(Date.parse(ours?.expires_at) - Date.parse(ours?.created_at)).toBe(8 * 60 * 60 * 1000);
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(JSON.stringify(rows)).not.toContain(operatorKey);
  });

  it('ends the session at sign-out for every copy of the cookie, also after another restart', async () => {
    const app = await server();
    const jar = await signIn(app, operatorKey);
    const copied = jar.header();
    const page = await findPersonPage(app, jar);
    const out = await app.inject({
      method: 'POST',
      url: '/console/sign-out',
      headers: { cookie: jar.header() },
      payload: { _csrf: csrfOf(page.body) },
    });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/console/sign-in');

    // A copy of the cookie kept from before the sign-out no longer signs anyone in, here or after a restart.
    for (const target of [app, await server()]) {
      const again = await target.inject({
        method: 'GET',
        url: '/console/people',
        headers: { cookie: copied },
      });
      expect(again.statusCode).toBe(303);
      expect(again.headers.location).toBe('/console/sign-in');
      // A request page's status refresh (htmx) is told to take the whole page to the sign-in form, so the
      // form is not swapped into the status region.
      const refresh = await target.inject({
        method: 'GET',
        url: '/console/requests/0b6e2a00-0000-4000-8000-000000000000',
        headers: { cookie: copied, 'hx-request': 'true' },
      });
      expect(refresh.statusCode).toBe(401);
      expect(refresh.headers['hx-redirect']).toBe('/console/sign-in');
      expect(refresh.body).toBe('');
    }
  });

  it('serves htmx from this origin to anyone, and pages allow scripts from this origin only', async () => {
    const app = await server();
    const script = await app.inject({ method: 'GET', url: '/console/htmx.min.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.body).toContain('htmx');
    const page = await app.inject({ method: 'GET', url: '/console/sign-in' });
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
  });

  it('ends the sessions of a key that is no longer configured once the API restarts without it', async () => {
    const app = await server();
    const jar = await signIn(app, otherKey);
    expect((await findPersonPage(app, jar)).statusCode).toBe(200);
    const withoutIt = await server([hashApiKey(operatorKey)]);
    const page = await findPersonPage(withoutIt, jar);
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe('/console/sign-in');
  });

  it('ends a session after its time, and looks up nothing for a cookie that is not a token', async () => {
    let now = Date.parse('2026-11-30T09:00:00Z');
    const sessions = consoleSessionStore(ledger, 60_000, () => now);
    const session = await sessions.create('abcdef012345');
    await expect(sessions.get(session.id)).resolves.toMatchObject({ keyId: 'abcdef012345' });
    now += 59_999;
    await expect(sessions.get(session.id)).resolves.toMatchObject({ keyId: 'abcdef012345' });
    now += 1;
    await expect(sessions.get(session.id)).resolves.toBeUndefined();
    await expect(sessions.get("x' OR '1'='1")).resolves.toBeUndefined();
    await expect(sessions.get(undefined)).resolves.toBeUndefined();
  });
});
