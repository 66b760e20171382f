import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { google } from 'googleapis';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { googleSandboxKit } from '../../../sandboxes/google/kit.js';
import { googleSandbox } from '../../../sandboxes/google/sandbox.js';
import type { GoogleSandboxState, GoogleSandboxStore } from '../../../sandboxes/google/store.js';
import { writeServiceAccount } from '../../connectors/google/google-fixtures.js';
import { startTestSandbox } from '../../support/sandboxes.js';

const account = writeServiceAccount('sandbox-test', 'raw');

// Written out from Google's pages, not taken from the connector or the sandbox:
// https://developers.google.com/analytics/devguides/config/userdeletion/v3/reference/userDeletion/userDeletionRequest/upsert,
// https://developers.google.com/analytics/devguides/config/admin/v1/rest/v1alpha/properties/submitUserDeletion,
// https://developers.google.com/identity/protocols/oauth2/service-account
const userDeletionScope = 'https://www.googleapis.com/auth/analytics.user.deletion';
const analyticsEditScope = 'https://www.googleapis.com/auth/analytics.edit';
const googleTokenUrl = 'https://oauth2.googleapis.com/token';

function signJwt(claims: Record<string, unknown>, privateKey = account.keyFile.private_key): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${sign('RSA-SHA256', Buffer.from(unsigned), privateKey).toString('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const goodClaims = (overrides: Record<string, unknown> = {}) => ({
  iss: account.clientEmail,
  aud: googleTokenUrl,
  scope: userDeletionScope,
  iat: now(),
  exp: now() + 3600,
  ...overrides,
});

describe('google sandbox', () => {
  let sandbox: RunningSandbox<GoogleSandboxStore>;
  let control: SandboxClient;

  const token = async (assertion: string, grantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer') => {
    const response = await fetch(`${sandbox.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: grantType, assertion }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const post = async (path: string, body: unknown, accessToken?: string) => {
    const response = await fetch(`${sandbox.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      body: (await response.json()) as { error?: Record<string, unknown> } & Record<string, unknown>,
    };
  };
  const upsert = (propertyId: string, userId: string, accessToken?: string) =>
    post(
      '/analytics/v3/userDeletion/userDeletionRequests:upsert',
      { kind: 'analytics#userDeletionRequest', id: { type: 'CLIENT_ID', userId }, propertyId },
      accessToken,
    );

  beforeAll(async () => {
    sandbox = await startTestSandbox(googleSandbox, {
      serviceAccounts: { [account.clientEmail]: account.publicKeyPem },
      propertyIds: ['properties/400000001'],
      requestsPerSecond: 1.5,
    });
    control = new SandboxClient(sandbox.url);
  });
  afterAll(() => sandbox.close());
  beforeEach(() => control.reset());

  it('issues a bearer token for a correctly signed service-account assertion', async () => {
    const answer = await token(signJwt(goodClaims()));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(String(answer.body.access_token)).toMatch(/^ya29\./);
  });

  it.each([
    [
      'a signature by another key',
      () =>
        signJwt(
          goodClaims(),
          generateKeyPairSync('rsa', { modulusLength: 2048 })
            .privateKey.export({ type: 'pkcs8', format: 'pem' })
            .toString(),
        ),
      'invalid_grant',
      'Invalid JWT Signature.',
    ],
    [
      'another audience',
      () => signJwt(goodClaims({ aud: 'https://example.com/token' })),
      'invalid_grant',
      'Invalid JWT: Failed audience check.',
    ],
    [
      'an expired assertion',
      () => signJwt(goodClaims({ iat: now() - 7200, exp: now() - 3600 })),
      'invalid_grant',
      'Invalid JWT: Token must be a short-lived token',
    ],
    [
      'an unknown account',
      () => signJwt(goodClaims({ iss: 'nobody@other.iam.gserviceaccount.com' })),
      'invalid_grant',
      'account not found',
    ],
    ['no scope', () => signJwt(goodClaims({ scope: '' })), 'invalid_scope', 'Invalid OAuth scope'],
  ])('refuses %s with Google OAuth error body', async (_name, make, error, description) => {
    const answer = await token(make());
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe(error);
    expect(String(answer.body.error_description)).toContain(description);
  });

  it('refuses another grant type with unsupported_grant_type', async () => {
    const answer = await token(signJwt(goodClaims()), 'client_credentials');
    expect(answer).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
  });

  it('refuses a deleted service account: its issued token gets 401 and its next assertion invalid_grant', async () => {
    const issued = await token(signJwt(goodClaims()));
    sandbox.store.revokeServiceAccount(account.clientEmail);
    const refused = await upsert('400000001', '1197596843.1673515212', String(issued.body.access_token));
    expect(refused.status).toBe(401);
    const again = await token(signJwt(goodClaims()));
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    expect(String(again.body.error_description)).toContain('account not found');
    await control.reset();
    expect((await token(signJwt(goodClaims()))).status).toBe(200);
  });

  it('answers calls without a valid bearer token with 401 invalidCredentials in Google error shape', async () => {
    const answer = await upsert('400000001', '1.1', 'ya29.not-issued');
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatchObject({
      code: 401,
      status: 'UNAUTHENTICATED',
      errors: [expect.objectContaining({ domain: 'global', reason: 'invalidCredentials' })],
    });
  });

  it('requires analytics.user.deletion for the User Deletion API and analytics.edit for the Admin API', async () => {
    const editOnly = String(
      (await token(signJwt(goodClaims({ scope: analyticsEditScope })))).body.access_token,
    );
    const deletionOnly = String((await token(signJwt(goodClaims()))).body.access_token);
    const refused = await upsert('400000001', '1.1', editOnly);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({
      errors: [expect.objectContaining({ reason: 'insufficientPermissions' })],
    });
    const adminRefused = await post(
      '/v1alpha/properties/400000001:submitUserDeletion',
      { clientId: '1.1' },
      deletionOnly,
    );
    expect(adminRefused.status).toBe(403);
    expect((await upsert('400000001', '1.1', deletionOnly)).status).toBe(200);
    expect(
      (await post('/v1alpha/properties/400000001:submitUserDeletion', { clientId: '1.2' }, editOnly)).status,
    ).toBe(200);
  });

  it('takes exactly one identifier on submitUserDeletion, else 400 INVALID_ARGUMENT', async () => {
    const edit = String((await token(signJwt(goodClaims({ scope: analyticsEditScope })))).body.access_token);
    const path = '/v1alpha/properties/400000001:submitUserDeletion';
    for (const body of [{}, { clientId: '1.1', userId: 'u' }]) {
      const answer = await post(path, body, edit);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({
        status: 'INVALID_ARGUMENT',
        errors: [expect.objectContaining({ reason: 'invalidParameter' })],
      });
    }
    const ok = await post(path, { appInstanceId: 'app-1' }, edit);
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body)).toEqual(['deletionRequestTime']);
  });

  it('answers an unknown property with 403 insufficientPermissions', async () => {
    const access = String((await token(signJwt(goodClaims()))).body.access_token);
    const answer = await upsert('412345678', '1.1', access);
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatchObject({
      errors: [expect.objectContaining({ reason: 'insufficientPermissions' })],
    });
  });

  // https://developers.google.com/analytics/devguides/config/userdeletion/v3/limits-quotas (1.5 requests/s per
  // property), https://developers.google.com/analytics/devguides/limits-and-quotas ("403 or 429"), and
  // https://github.com/googleapis/googleapis/blob/master/google/api/error_reason.proto (RATE_LIMIT_EXCEEDED).
  it('echoes an upsert with deletionRequestTime and refuses an unpaced second request with 429 RESOURCE_EXHAUSTED, a per-second limit', async () => {
    const access = String((await token(signJwt(goodClaims()))).body.access_token);
    const first = await upsert('400000001', '1.1', access);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      kind: 'analytics#userDeletionRequest',
      id: { type: 'CLIENT_ID', userId: '1.1' },
      propertyId: '400000001',
    });
    expect(Date.parse(String(first.body.deletionRequestTime))).not.toBeNaN();
    const second = await upsert('400000001', '1.2', access);
    expect(second.status).toBe(429);
    expect(second.body.error).toMatchObject({
      code: 429,
      status: 'RESOURCE_EXHAUSTED',
      message: expect.stringMatching(/per second/),
      errors: [expect.objectContaining({ domain: 'usageLimits', reason: 'rateLimitExceeded' })],
      details: expect.arrayContaining([
        expect.objectContaining({
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'RATE_LIMIT_EXCEEDED',
          metadata: expect.objectContaining({ quota_limit: 'UserDeletionRequestsPerSecondPerProperty' }),
        }),
      ]),
    });
    expect(String(second.body.error?.message)).not.toMatch(/per day/);
    const state = await control.state<GoogleSandboxState>();
    expect(state.rejections).toEqual({ rateLimitExceeded: 1 });
    expect(state.deletionRequests['400000001']).toHaveLength(1);
  });

  // Same sources: a daily quota is the same 429 RESOURCE_EXHAUSTED / rateLimitExceeded, told apart only by the
  // message and ErrorInfo's quota_limit ("per day"); not a 403.
  it('answers 429 RESOURCE_EXHAUSTED naming the per-day limit once the project has used its daily quota', async () => {
    await control.seed({ quotaUsed: { projects: { 'sandbox-test': 500 } } });
    const access = String((await token(signJwt(goodClaims()))).body.access_token);
    const answer = await upsert('400000001', '1.1', access);
    expect(answer.status).toBe(429);
    expect(answer.body.error).toMatchObject({
      code: 429,
      status: 'RESOURCE_EXHAUSTED',
      message: expect.stringMatching(/per day per project/),
      errors: [expect.objectContaining({ reason: 'rateLimitExceeded' })],
      details: expect.arrayContaining([
        expect.objectContaining({
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'RATE_LIMIT_EXCEEDED',
          metadata: expect.objectContaining({
            quota_limit: 'UserDeletionRequestsPerDayPerProject',
            quota_limit_value: '500',
            consumer: 'projects/sandbox-test',
          }),
        }),
      ]),
    });
  });

  // https://developers.google.com/analytics/devguides/config/userdeletion/v3/reference/userDeletion/userDeletionRequest
  // (the resource carries webPropertyId "UA-XXXXX-YY" and the deprecated firebaseProjectId beside propertyId)
  it('accepts legacy webPropertyId (UA) and firebaseProjectId upserts with the same answer shape, and refuses unknown ones with 403', async () => {
    await control.seed({ webProperties: ['UA-12345-1'], firebaseProjects: ['demo-firebase'] });
    const access = String((await token(signJwt(goodClaims()))).body.access_token);
    const path = '/analytics/v3/userDeletion/userDeletionRequests:upsert';
    const ua = await post(
      path,
      {
        kind: 'analytics#userDeletionRequest',
        id: { type: 'CLIENT_ID', userId: '1.1' },
        webPropertyId: 'UA-12345-1',
      },
      access,
    );
    expect(ua.status).toBe(200);
    expect(Object.keys(ua.body).sort()).toEqual(['deletionRequestTime', 'id', 'kind', 'webPropertyId']);
    expect(ua.body).toMatchObject({ kind: 'analytics#userDeletionRequest', webPropertyId: 'UA-12345-1' });
    await new Promise((resolve) => setTimeout(resolve, 700)); // the per-property rate is per property id
    const firebase = await post(
      path,
      { id: { type: 'APP_INSTANCE_ID', userId: 'app-1' }, firebaseProjectId: 'demo-firebase' },
      access,
    );
    expect(firebase.status).toBe(200);
    expect(firebase.body).toMatchObject({
      firebaseProjectId: 'demo-firebase',
      id: { type: 'APP_INSTANCE_ID' },
    });
    expect(Date.parse(String(firebase.body.deletionRequestTime))).not.toBeNaN();

    const unknown = await post(
      path,
      { id: { type: 'CLIENT_ID', userId: '1.1' }, webPropertyId: 'UA-999-9' },
      access,
    );
    expect(unknown.status).toBe(403);
    const two = await post(
      path,
      { id: { type: 'CLIENT_ID', userId: '1.1' }, propertyId: '400000001', webPropertyId: 'UA-12345-1' },
      access,
    );
    expect(two.status).toBe(400);
    const state = await control.state<GoogleSandboxState>();
    expect(Object.keys(state.deletionRequests).sort()).toEqual(['UA-12345-1', 'demo-firebase']);
  });

  it('makes a dev service-account file in Google shape, kept across runs, that the unmodified googleapis client uses', async () => {
    const dataDir = mkdtempSync(join(inject('dataDir'), 'google-dev-'));
    const first = googleSandboxKit.devCredentials(dataDir);
    const again = googleSandboxKit.devCredentials(dataDir);
    expect(again.options).toEqual(first.options);
    const devSandbox = await startTestSandbox(googleSandbox, first.options);
    try {
      await new SandboxClient(devSandbox.url).seed(googleSandboxKit.demoSeed());
      const env = first.env(devSandbox.url);
      const keyPath = env.GOOGLE_APPLICATION_CREDENTIALS ?? '';
      const tokenUrl = env.GOOGLE_TOKEN_URL ?? '';
      expect(env).toEqual({
        GOOGLE_APPLICATION_CREDENTIALS: join(dataDir, 'sandboxes', 'google', 'service-account.json'),
        GOOGLE_API_ROOT_URL: `${devSandbox.url}/`,
        GOOGLE_TOKEN_URL: `${devSandbox.url}/token`,
        GA4_PROPERTY_IDS: 'properties/400000001',
      });
      expect(statSync(keyPath).mode & 0o777).toBe(0o600);
      const keyFile = JSON.parse(readFileSync(keyPath, 'utf8')) as Record<string, string>;
      expect(Object.keys(keyFile)).toEqual([
        'type',
        'project_id',
        'private_key_id',
        'private_key',
        'client_email',
        'client_id',
        'auth_uri',
        'token_uri',
        'auth_provider_x509_cert_url',
        'client_x509_cert_url',
        'universe_domain',
      ]);
      expect(keyFile).toMatchObject({ type: 'service_account', token_uri: googleTokenUrl });
      // The library's own loader reads the file; only the token URL is pointed at the sandbox, on the very
      // client GoogleAuth caches and hands to googleapis.
      const auth = new google.auth.GoogleAuth({
        keyFile: keyPath,
        scopes: [userDeletionScope],
      });
      const client = await auth.getClient();
      client.transporter.interceptors.request.add({
        resolved: async (request) => {
          if (request.url.href === googleTokenUrl) request.url = new URL(tokenUrl);
          return request;
        },
      });
      const analytics = google.analytics({ version: 'v3', rootUrl: env.GOOGLE_API_ROOT_URL, auth });
      const answer = await analytics.userDeletion.userDeletionRequest.upsert({
        requestBody: { id: { type: 'CLIENT_ID', userId: '1197596843.1673515212' }, propertyId: '400000001' },
      });
      expect(answer.status).toBe(200);
      expect(answer.data.deletionRequestTime).toBeTruthy();
      expect(devSandbox.store.snapshot().deletionRequests['400000001']).toHaveLength(1);
    } finally {
      await devSandbox.close();
    }
  });
});
