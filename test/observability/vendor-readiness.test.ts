import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { googleConfigSchema } from '../../connectors/google/config.js';
import { createGoogleConnector } from '../../connectors/google/connector.js';
import { reusedFor, vendorCheckCacheMs, vendorChecks } from '../../observability/hub-checks.js';
import { checkReadiness } from '../../observability/readiness.js';
import { SandboxClient } from '../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../sandboxes/framework/sandbox-server.js';
import { googleSandbox } from '../../sandboxes/google/sandbox.js';
import type { GoogleSandboxStore } from '../../sandboxes/google/store.js';
import { type DynamicsFixture, startDynamicsFixture } from '../connectors/dynamics/dynamics-fixture.js';
import { sandboxEnv, writeServiceAccount } from '../connectors/google/google-fixtures.js';
import { startTestSandbox } from '../support/sandboxes.js';

const logger = pino({ level: 'silent' });

describe('/readyz proves each vendor credential works now, not that a token was once cached', () => {
  let dynamics: DynamicsFixture;
  let google: RunningSandbox<GoogleSandboxStore>;
  let googleControl: SandboxClient;
  const account = writeServiceAccount();

  beforeAll(async () => {
    dynamics = await startDynamicsFixture();
    google = await startTestSandbox(googleSandbox, {
      serviceAccounts: { [account.clientEmail]: account.publicKeyPem },
      propertyIds: ['400000001', '400000002'],
    });
    googleControl = new SandboxClient(google.url);
  });
  afterAll(async () => {
    await google?.close();
    await dynamics?.sandbox.close();
  });

  it('reads ready, calls each vendor once per window however often it is probed, and reads not ready once the sandboxes revoke the credentials', async () => {
    const cacheMs = 1500;
    const connectors = {
      dynamics: dynamics.connector(),
      google: createGoogleConnector(googleConfigSchema.parse(sandboxEnv(google.url, account.path)), {
        logger,
      }),
    };
    // The connectors were used before (their tokens are cached), as in a worker that has been running.
    await connectors.dynamics.find({ email: 'nobody@example.com', gaClientIds: [], gaUserIds: [] });
    await connectors.google.erase({ email: '', gaClientIds: ['1197596843.1673515212'], gaUserIds: [] });
    await dynamics.control.clearRequests();
    await googleControl.clearRequests();

    const checks = vendorChecks(connectors, { cacheMs });
    const first = await checkReadiness(checks);
    expect(first).toEqual({ ready: true, checks: { dynamics: 'ok', google: 'ok' } });
    for (let probe = 0; probe < 5; probe++) expect((await checkReadiness(checks)).ready).toBe(true);
    const dynamicsCalls = (await dynamics.control.requests()).filter((e) => e.path.endsWith('/WhoAmI'));
    const googleTokens = (await googleControl.requests()).filter((e) => e.path === '/token');
    expect(dynamicsCalls.map((e) => e.status)).toEqual([200]);
    expect(googleTokens.map((e) => e.status)).toEqual([200]);

    // An administrator deletes the Dynamics app's client secret and Google service account's key.
    dynamics.sandbox.store.revokeClientSecret();
    google.store.revokeServiceAccount(account.clientEmail);
    await new Promise((resolve) => setTimeout(resolve, cacheMs + 100));
    const after = await checkReadiness(checks);
    expect(after.ready).toBe(false);
    expect(after.checks.dynamics).toMatch(/secret|credential|401|refused/i);
    expect(after.checks.google).toMatch(/revoked key|refused/i);
  });

  it('reuses an answer for 30 s by default, and shares one call in flight between probes', async () => {
    expect(vendorCheckCacheMs).toBe(30_000);
    let calls = 0;
    const check = reusedFor(vendorCheckCacheMs, {
      name: 'x',
      run: async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      },
    });
    await Promise.all([check.run(), check.run(), check.run()]);
    await check.run();
    expect(calls).toBe(1);
  });
});
