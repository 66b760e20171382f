import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import { buildConnectors } from '../../connectors/registry.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';

const email = `Refused.Move.${Date.now()}${randomBytes(2).toString('hex')}@example.org`;

describe("the console's person page shows the person's refused address changes", { timeout: 240_000 }, () => {
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
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'console-refusals-')) }, silentLogger);
    temporal = await connectTestTemporal('console-address-refusals', { subjectKeyLedger: ledger });
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

  it('lists an open refusal with its reason, the new key and the id to acknowledge, then as acknowledged; no address in it', async () => {
    const secret = temporal.secrets.subjectKeySecret;
    const subjectKey = subjectKeyFor(email, secret);
    const newSubjectKey = subjectKeyFor(`elsewhere.${randomBytes(3).toString('hex')}@example.org`, secret);
    const id = `mailchimp-webhook:${randomBytes(32).toString('hex')}`;
    await ledger.recordAddressChangeRefusal({
      id,
      subjectKey,
      newSubjectKey,
      source: 'mailchimp:upemail',
      reason: 'address_taken',
      recordedAt: new Date().toISOString(),
    });
    const show = async () => {
      const find = await page('GET', '/console/people');
      return page('POST', '/console/people', { _csrf: csrfOf(find), email });
    };
    const open = await show();
    expect(open).toContain('Refused address changes');
    expect(open).toContain('address taken');
    expect(open).toContain(newSubjectKey);
    expect(open).toContain(id);
    await ledger.resolveAddressChangeRefusal({
      id,
      resolvedAt: new Date().toISOString(),
      resolvedBy: 'ops:ann',
      resolution: 'reverted_in_mailchimp',
    });
    const acknowledged = await show();
    expect(acknowledged).toMatch(/Acknowledged [^<]* by <code>ops:ann<\/code> \(reverted in mailchimp\)/);
  });
});
