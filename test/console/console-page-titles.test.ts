import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import { buildConnectors } from '../../connectors/registry.js';
import { requestErasure } from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';

const email = `Title.Check.${Date.now()}${randomBytes(2).toString('hex')}@Example.org`;
const firstName = 'Wilhelmina';
const lastName = 'Titlehide';
const needles = [email, email.toLowerCase(), email.split('@')[0] ?? email, firstName, lastName];

/** The page's title and headings: what a browser's tab, history, bookmarks and screen readers keep. */
function titlesOf(html: string): string[] {
  return [...html.matchAll(/<(title|h1|h2|h3)\b[^>]*>([\s\S]*?)<\/\1>/gi)].map((match) => match[2] ?? '');
}

/**
 * The console never puts the person in a page's title or headings (a tab title lands in browser history
 * and window lists): the person page (answered to a POST, so the address is in no URL either) and the
 * request and receipt pages of an erasure of someone whose CRM name the hub harvested.
 */
describe('console page titles and headings name no one', { timeout: 240_000 }, () => {
  let ledger: Ledger;
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let built: ReturnType<typeof buildConnectors>;
  let worker: { stop(): Promise<void> };
  let app: FastifyInstance;
  const key = `chk_${randomBytes(24).toString('base64url')}`;
  const jar = new Map<string, string>();
  const take = (response: LightMyRequestResponse) => {
    for (const c of response.cookies as { name: string; value: string; maxAge?: number }[]) {
      if (c.value === '' || c.maxAge === 0) jar.delete(c.name);
      else jar.set(c.name, c.value);
    }
  };
  const cookieHeader = () => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

  beforeAll(async () => {
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'console-titles-')) }, silentLogger);
    temporal = await connectTestTemporal('console-titles', { subjectKeyLedger: ledger });
    vendors = await startVendorSandboxes();
    built = buildConnectors({ ...process.env, ...vendors.env }, silentLogger);
    worker = await temporal.startWorker({ connectors: built.connectors, ledger });
    app = await createApiServer({
      hub: temporal.context(),
      ledger,
      logger: silentLogger,
      config: { CONSENT_HUB_API_KEYS: [hashApiKey(key)] },
    });
    const form = await app.inject({ method: 'GET', url: '/console/sign-in' });
    take(form);
    const signedIn = await app.inject({
      method: 'POST',
      url: '/console/sign-in',
      headers: { cookie: cookieHeader() },
      payload: { _csrf: csrfOf(form.body), apiKey: key },
    });
    expect(signedIn.statusCode).toBe(303);
    take(signedIn);
  });
  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await built?.close();
    await vendors?.close();
    await temporal?.close();
    await ledger?.close();
  });

  const page = async (method: 'GET' | 'POST', url: string, payload?: Record<string, string>) => {
    const answer = await app.inject({
      method,
      url,
      headers: { cookie: cookieHeader() },
      ...(payload ? { payload } : {}),
    });
    expect(answer.statusCode).toBe(200);
    return answer.body;
  };
  const expectNoOneIn = (html: string) => {
    const titles = titlesOf(html);
    expect(titles.length).toBeGreaterThanOrEqual(2);
    for (const title of titles)
      for (const needle of needles) expect(title.toLowerCase()).not.toContain(needle.toLowerCase());
  };

  it('keeps the address and the CRM name out of the person, request and receipt pages’ titles and headings', async () => {
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: firstName, lastname: lastName, emailaddress1: email.toLowerCase() }],
    });
    const started = await requestErasure(temporal.context(), {
      email,
      requestedBy: 'privacy-inbox#7',
      requestedAt: new Date().toISOString(),
    });
    // Done once its receipt is in the ledger (read there: no query races the workflow's first task).
    let receipt = await ledger.getReceipt(started.requestId);
    for (let i = 0; i < 480 && !receipt; i++) {
      await delay(250);
      receipt = await ledger.getReceipt(started.requestId);
    }
    expect(receipt?.requestId).toBe(started.requestId);

    const find = await page('GET', '/console/people');
    const person = await page('POST', '/console/people', { _csrf: csrfOf(find), email });
    // The page is the person's (the body shows whom the operator looked up); only its title and headings
    // must not.
    expect(person).toContain(email.toLowerCase());
    expectNoOneIn(person);

    const request = await page('GET', `/console/requests/${started.requestId}`);
    expect(request).toContain(started.requestId);
    expectNoOneIn(request);
    const receiptPage = await page('GET', `/console/receipts/${started.requestId}`);
    expect(receiptPage).toContain(started.requestId);
    expectNoOneIn(receiptPage);
    // The check can fail: a heading that held the name would be caught.
    expect(() => expectNoOneIn(`<title>x</title><h1>Person ${lastName}</h1>`)).toThrow();
  });
});
