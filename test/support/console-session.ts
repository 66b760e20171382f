import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import { buildConnectors } from '../../connectors/registry.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { connectTestTemporal, silentLogger } from './temporal.js';
import { startVendorSandboxes } from './vendor-sandboxes.js';

/**
 * A hub behind the operator console, signed in: its own SQLite ledger (sharing subject data keys with the
 * client and worker), a worker on the vendor sandboxes through the real connectors, and the API server with
 * one API key, whose console session (cookies and CSRF) `page` carries. `close` stops all of it.
 */
/** The signed-in console hub `startSignedInConsole` answers. */
export type SignedInConsole = Awaited<ReturnType<typeof startSignedInConsole>>;

export async function startSignedInConsole(name: string) {
  const ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), `${name}-`)) }, silentLogger);
  const temporal = await connectTestTemporal(name, { subjectKeyLedger: ledger });
  const vendors = await startVendorSandboxes();
  const built = buildConnectors({ ...process.env, ...vendors.env }, silentLogger);
  const worker = await temporal.startWorker({ connectors: built.connectors, ledger });
  const key = `chk_${randomBytes(24).toString('base64url')}`;
  const app = await createApiServer({
    hub: temporal.context(),
    ledger,
    logger: silentLogger,
    config: { CONSENT_HUB_API_KEYS: [hashApiKey(key)] },
  });
  const jar = new Map<string, string>();
  const take = (response: LightMyRequestResponse) => {
    for (const c of response.cookies as { name: string; value: string; maxAge?: number }[]) {
      if (c.value === '' || c.maxAge === 0) jar.delete(c.name);
      else jar.set(c.name, c.value);
    }
  };
  const cookieHeader = () => [...jar].map(([cookie, value]) => `${cookie}=${value}`).join('; ');
  const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

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

  /** A console page's HTML, asked in the signed-in session; anything but 200 fails the test. */
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

  /** A console answer in the signed-in session, whatever its status (a refused form answers 400 or 409). */
  const respond = async (method: 'GET' | 'POST', url: string, payload?: Record<string, string>) => {
    const answer = await app.inject({
      method,
      url,
      headers: { cookie: cookieHeader() },
      ...(payload ? { payload } : {}),
    });
    return { statusCode: answer.statusCode, body: answer.body };
  };

  const close = async () => {
    await app.close();
    await worker.stop();
    await built.close();
    await vendors.close();
    await temporal.close();
    await ledger.close();
  };
  return { ledger, temporal, vendors, app, page, respond, csrfOf, close };
}
