import { sign } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { googleSandbox } from '../../../sandboxes/google/sandbox.js';
import type { GoogleSandboxStore } from '../../../sandboxes/google/store.js';
import { writeServiceAccount } from '../../connectors/google/google-fixtures.js';
import { startTestSandbox } from '../../support/sandboxes.js';

const account = writeServiceAccount('retention-test', 'raw');

// Written out from Google's pages, not taken from the connector or the sandbox:
// https://developers.google.com/analytics/devguides/config/admin/v1/rest/v1beta/properties/getDataRetentionSettings
// (GET v1beta/{name=properties/*/dataRetentionSettings}; scope analytics.readonly or analytics.edit),
// https://developers.google.com/analytics/devguides/config/admin/v1/rest/v1beta/DataRetentionSettings
// (name, eventDataRetention and userDataRetention as RetentionDuration, resetUserDataOnNewActivity), and
// https://support.google.com/analytics/answer/7667196 (GA4 keeps 2 months unless set otherwise).
const readonlyScope = 'https://www.googleapis.com/auth/analytics.readonly';
const editScope = 'https://www.googleapis.com/auth/analytics.edit';
const userDeletionScope = 'https://www.googleapis.com/auth/analytics.user.deletion';
const googleTokenUrl = 'https://oauth2.googleapis.com/token';

function signJwt(scope: string): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: account.clientEmail, aud: googleTokenUrl, scope, iat: now, exp: now + 3600 };
  const unsigned = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${sign('RSA-SHA256', Buffer.from(unsigned), account.keyFile.private_key).toString('base64url')}`;
}

describe('GA4 Admin API dataRetentionSettings, as Google documents it', () => {
  let sandbox: RunningSandbox<GoogleSandboxStore>;
  let control: SandboxClient;
  const tokenFor = async (scope: string) => {
    const answer = await fetch(`${sandbox.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: signJwt(scope),
      }),
    });
    return String(((await answer.json()) as Record<string, unknown>).access_token);
  };
  const read = async (path: string, token: string) => {
    const answer = await fetch(`${sandbox.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    sandbox = await startTestSandbox(googleSandbox, {
      serviceAccounts: { [account.clientEmail]: account.publicKeyPem },
      propertyIds: ['properties/400000001', 'properties/400000002'],
    });
    control = new SandboxClient(sandbox.url);
  });
  afterAll(() => sandbox.close());
  beforeEach(() => control.reset());

  it('answers the settings a property was given, under its resource name, with the read-only scope', async () => {
    await control.seed({
      dataRetention: {
        '400000001': {
          eventDataRetention: 'FOURTEEN_MONTHS',
          userDataRetention: 'FOURTEEN_MONTHS',
          resetUserDataOnNewActivity: false,
        },
      },
    });
    const answer = await read(
      '/v1beta/properties/400000001/dataRetentionSettings',
      await tokenFor(readonlyScope),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      name: 'properties/400000001/dataRetentionSettings',
      eventDataRetention: 'FOURTEEN_MONTHS',
      userDataRetention: 'FOURTEEN_MONTHS',
      resetUserDataOnNewActivity: false,
    });
  });

  it('answers GA4’s defaults (two months, reset on new activity) for a property never set, on v1alpha too and with the edit scope', async () => {
    const answer = await read(
      '/v1alpha/properties/400000002/dataRetentionSettings',
      await tokenFor(editScope),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      eventDataRetention: 'TWO_MONTHS',
      userDataRetention: 'TWO_MONTHS',
      resetUserDataOnNewActivity: true,
    });
  });

  it('refuses a token without a reading scope (403), a property the account cannot see (403) and no token (401)', async () => {
    const deletionOnly = await read(
      '/v1beta/properties/400000001/dataRetentionSettings',
      await tokenFor(userDeletionScope),
    );
    expect(deletionOnly.status).toBe(403);
    expect(deletionOnly.body.error).toMatchObject({ code: 403, status: 'PERMISSION_DENIED' });
    const other = await read('/v1beta/properties/999/dataRetentionSettings', await tokenFor(readonlyScope));
    expect(other.status).toBe(403);
    expect((await read('/v1beta/properties/400000001/dataRetentionSettings', 'not-a-token')).status).toBe(
      401,
    );
  });
});
