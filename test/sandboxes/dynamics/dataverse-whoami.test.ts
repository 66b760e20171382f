import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamicsStore, dynamicsSandbox } from '../../../sandboxes/dynamics/sandbox.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/**
 * WhoAmI and a revoked app, as raw HTTP from Microsoft's pages, never through an SDK or the connector:
 * learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami (GET, answers
 * BusinessUnitId, UserId, OrganizationId) and entra/identity-platform/reference-error-codes (AADSTS7000215,
 * invalid client secret).
 */
const tenantId = randomUUID();
const clientId = randomUUID();
const clientSecret = 'the-app-secret';
const odata = { Accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0' };
const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Dataverse WhoAmI and a revoked client secret', () => {
  let sandbox: RunningSandbox<DynamicsStore>;
  const token = () =>
    fetch(`${sandbox.url}/${tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: `${sandbox.url}/.default`,
      }),
    });
  const whoAmI = (accessToken: string) =>
    fetch(`${sandbox.url}/api/data/v9.2/WhoAmI`, {
      headers: { ...odata, Authorization: `Bearer ${accessToken}` },
    });

  beforeAll(async () => {
    sandbox = await startTestSandbox(dynamicsSandbox, { tenantId, clientId, clientSecret });
  });
  afterAll(() => sandbox.close());

  it('answers WhoAmI with the three ids and its context, and 401 without a valid token', async () => {
    const { access_token } = (await (await token()).json()) as { access_token: string };
    const answer = await whoAmI(access_token);
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as Record<string, string>;
    expect(body['@odata.context']).toBe(
      `${sandbox.url}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
    );
    for (const id of ['BusinessUnitId', 'UserId', 'OrganizationId']) expect(body[id]).toMatch(guid);
    expect((await whoAmI('not-a-token')).status).toBe(401);
  });

  it('refuses the issued token and the old secret (invalid_client, AADSTS7000215) once the secret is revoked', async () => {
    const { access_token } = (await (await token()).json()) as { access_token: string };
    sandbox.store.revokeClientSecret();
    expect((await whoAmI(access_token)).status).toBe(401);
    const refused = await token();
    expect(refused.status).toBe(401);
    const body = (await refused.json()) as { error: string; error_codes: number[] };
    expect(body.error).toBe('invalid_client');
    expect(body.error_codes).toEqual([7000215]);
  });
});
