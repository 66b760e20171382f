import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dynamicsConfigSchema, isDynamicsConfigured } from '../../../connectors/dynamics/config.js';
import { createDynamicsConnector } from '../../../connectors/dynamics/connector.js';
import { dynamicsSandboxKit } from '../../../sandboxes/dynamics/kit.js';
import {
  credentials,
  type DynamicsFixture,
  silentLogger,
  startDynamicsFixture,
  subject,
} from '../../connectors/dynamics/dynamics-fixture.js';

const odata = { Accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0' };

describe('Dynamics sandbox over plain HTTP (curl-style)', () => {
  let fx: DynamicsFixture;

  beforeAll(async () => {
    fx = await startDynamicsFixture();
  });
  afterAll(() => fx.sandbox.close());
  beforeEach(() => fx.control.reset());

  async function token(secret = credentials.clientSecret): Promise<Response> {
    return fetch(`${fx.sandbox.url}/${credentials.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: credentials.clientId,
        client_secret: secret,
        scope: `${fx.sandbox.url}/.default`,
      }),
    });
  }

  async function bearer(): Promise<Record<string, string>> {
    const body = (await (await token()).json()) as { access_token: string };
    return { ...odata, Authorization: `Bearer ${body.access_token}` };
  }

  it('plants a contact with a form-posted token and POST /contacts; the connector then finds and erases it', async () => {
    const answer = await token();
    expect(answer.status).toBe(200);
    const issued = (await answer.json()) as Record<string, unknown>;
    expect(issued).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    const created = await fetch(`${fx.sandbox.url}/api/data/v9.2/contacts`, {
      method: 'POST',
      headers: {
        ...odata,
        'content-type': 'application/json',
        Authorization: `Bearer ${issued.access_token}`,
      },
      body: JSON.stringify({ firstname: 'Curl', emailaddress1: 'curl@example.com', new_gaclientid: '5.6' }),
    });
    expect(created.status).toBe(204);
    const entityId = created.headers.get('odata-entityid') ?? '';
    expect(entityId).toMatch(/\/api\/data\/v9\.2\/contacts\([0-9a-f-]{36}\)$/);
    const id = /\(([^)]+)\)$/.exec(entityId)?.[1];

    const connector = fx.connector();
    const found = await connector.find(subject('curl@example.com'));
    expect(found.records).toEqual([expect.objectContaining({ kind: 'contact', id })]);
    expect(found.gaClientIds).toEqual(['5.6']);
    const erased = await connector.erase(subject('curl@example.com'));
    expect(erased).toMatchObject({ outcome: 'erased', records: [{ id, result: 'deleted' }] });
    expect((await fx.control.state<{ contacts: unknown[] }>()).contacts).toEqual([]);
  });

  // Client-credentials errors: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#error-response
  it("answers a wrong secret with Entra's invalid_client body and status 401", async () => {
    const answer = await token('nope');
    expect(answer.status).toBe(401);
    const body = (await answer.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_client');
    expect(body.error_description).toMatch(/^AADSTS7000215: Invalid client secret/);
    expect(body.error_codes).toEqual([7000215]);
  });

  // OpenID Connect discovery per tenant: https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
  it('serves the tenant metadata MSAL reads, and nothing for another tenant', async () => {
    const meta = await fetch(
      `${fx.sandbox.url}/${credentials.tenantId}/v2.0/.well-known/openid-configuration`,
    );
    expect(((await meta.json()) as { token_endpoint: string }).token_endpoint).toBe(
      `${fx.sandbox.url}/${credentials.tenantId}/oauth2/v2.0/token`,
    );
    expect((await fetch(`${fx.sandbox.url}/other/v2.0/.well-known/openid-configuration`)).status).toBe(400);
  });

  // Compose HTTP requests (Authorization, OData-MaxVersion, OData-Version headers): https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors
  it('refuses Web API calls without a token (401) or without the OData headers (400)', async () => {
    const anonymous = await fetch(`${fx.sandbox.url}/api/data/v9.2/contacts`, { headers: odata });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer authorization_uri=/);
    const headers = await bearer();
    const noOData = await fetch(`${fx.sandbox.url}/api/data/v9.2/contacts`, {
      headers: { Authorization: headers.Authorization ?? '' },
    });
    expect(noOData.status).toBe(400);
    expect(((await noOData.json()) as { error: { message: string } }).error.message).toMatch(/OData-Version/);
  });

  // Query data with the Web API, filter rules: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows
  it("answers a filter comparing two literals with 400 and Dataverse's error body", async () => {
    const filter = encodeURIComponent("emailaddress1 eq 'a' or 1 eq 1");
    const answer = await fetch(`${fx.sandbox.url}/api/data/v9.2/contacts?$filter=${filter}`, {
      headers: await bearer(),
    });
    expect(answer.status).toBe(400);
    const body = (await answer.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toMatch(/^0x8/);
    expect(body.error.message).toMatch(/left side of the 'Equal' operator must be a property of the entity/);
  });

  // Page results (Prefer: odata.maxpagesize, @odata.nextLink): https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results
  it('pages with Prefer: odata.maxpagesize and an @odata.nextLink that leads through every row', async () => {
    await fx.control.seed({
      leads: Array.from({ length: 5 }, (_, i) => ({ emailaddress1: `l${i}@example.com` })),
    });
    const headers = { ...(await bearer()), Prefer: 'odata.maxpagesize=2' };
    let url: string | undefined = `${fx.sandbox.url}/api/data/v9.2/leads?$select=leadid,emailaddress1`;
    const seen: string[] = [];
    let pages = 0;
    while (url) {
      const answer = await fetch(url, { headers });
      expect(answer.headers.get('preference-applied')).toBe('odata.maxpagesize=2');
      const body = (await answer.json()) as {
        value: { emailaddress1: string }[];
        '@odata.nextLink'?: string;
      };
      seen.push(...body.value.map((row) => row.emailaddress1));
      url = body['@odata.nextLink'];
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(['l0', 'l1', 'l2', 'l3', 'l4'].map((l) => `${l}@example.com`));
    const top = await fetch(`${fx.sandbox.url}/api/data/v9.2/leads?$top=1`, { headers: await bearer() });
    expect(((await top.json()) as { value: unknown[] }).value).toHaveLength(1);
  });

  // Prevent create in upsert (If-Match: *): https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api#prevent-create-in-upsert
  it('PATCH with If-Match: * updates an existing row, gives 404 for a missing one and creates nothing', async () => {
    const headers = { ...(await bearer()), 'content-type': 'application/json' };
    const created = await fetch(`${fx.sandbox.url}/api/data/v9.2/leads`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ emailaddress1: 'p@example.com' }),
    });
    const location = created.headers.get('odata-entityid') ?? '';
    const before = (await fx.control.state<{ leads: { modifiedon: string; createdon: string }[] }>())
      .leads[0];
    const update = await fetch(location, {
      method: 'PATCH',
      headers: { ...headers, 'If-Match': '*' },
      body: JSON.stringify({ donotphone: true }),
    });
    expect(update.status).toBe(204);
    const missing = await fetch(
      `${fx.sandbox.url}/api/data/v9.2/leads(00000000-0000-4000-8000-000000000001)`,
      {
        method: 'PATCH',
        headers: { ...headers, 'If-Match': '*' },
        body: JSON.stringify({ donotphone: true }),
      },
    );
    expect(missing.status).toBe(404);
    const state = await fx.control.state<{
      leads: { donotphone: boolean; createdon: string; modifiedon: string }[];
    }>();
    expect(state.leads).toHaveLength(1);
    expect(state.leads[0]?.donotphone).toBe(true);
    expect(state.leads[0]?.createdon).toBe(before?.createdon);
    expect(Date.parse(state.leads[0]?.modifiedon ?? '')).toBeGreaterThanOrEqual(
      Date.parse(before?.modifiedon ?? ''),
    );
  });

  // Basic delete: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api#basic-delete
  it('DELETE gives 204 and then 404 for the same row', async () => {
    const headers = { ...(await bearer()), 'content-type': 'application/json' };
    const created = await fetch(`${fx.sandbox.url}/api/data/v9.2/contacts`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ emailaddress1: 'd@example.com' }),
    });
    const location = created.headers.get('odata-entityid') ?? '';
    expect((await fetch(location, { method: 'DELETE', headers: await bearer() })).status).toBe(204);
    const again = await fetch(location, { method: 'DELETE', headers: await bearer() });
    expect(again.status).toBe(404);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('0x80040217');
  });

  it('keeps emails and query strings out of the request log', async () => {
    await fx.connector().find(subject('private@example.com'));
    const log = JSON.stringify(await fx.control.requests());
    expect(log).not.toContain('private@example.com');
    expect(log).not.toContain('$filter');
  });
});

describe('Dynamics concurrency limit', () => {
  let fx: DynamicsFixture;

  beforeAll(async () => {
    fx = await startDynamicsFixture({ maxConcurrent: 1 });
  });
  afterAll(() => fx.sandbox.close());

  // Service protection API limits (concurrent requests, 0x80072326, Retry-After): https://learn.microsoft.com/power-apps/developer/data-platform/api-limits
  it('answers a second concurrent request from the same user with 429, code 0x80072326 and Retry-After', async () => {
    const { access_token } = (await (
      await fetch(`${fx.sandbox.url}/${credentials.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: credentials.clientId,
          client_secret: credentials.clientSecret,
          scope: `${fx.sandbox.url}/.default`,
        }),
      })
    ).json()) as { access_token: string };
    await fx.control.setLatency(300);
    const headers = { ...odata, Authorization: `Bearer ${access_token}` };
    const answers = await Promise.all(
      [1, 2].map(() => fetch(`${fx.sandbox.url}/api/data/v9.2/contacts`, { headers })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 429]);
    const throttled = answers.find((a) => a.status === 429) as Response;
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect(((await throttled.json()) as { error: { code: string } }).error.code).toBe('0x80072326');
  });
});

describe('Dynamics config and dev kit', () => {
  it('parses the env with defaults and never echoes a secret in its errors', () => {
    const config = dynamicsConfigSchema.parse({
      DYNAMICS_URL: 'https://contoso.crm4.dynamics.com/',
      DYNAMICS_TENANT_ID: 'contoso.onmicrosoft.com',
      DYNAMICS_CLIENT_ID: 'client',
      DYNAMICS_CLIENT_SECRET: 'top-secret',
    });
    expect(config).toMatchObject({
      url: 'https://contoso.crm4.dynamics.com',
      authorityHost: 'https://login.microsoftonline.com',
      gaClientIdColumn: 'new_gaclientid',
      pageSize: 500,
      timeoutMs: 30_000,
    });
    expect(config.purposeColumns.statistics).toEqual({ column: 'followemail', inverted: true });
    const bad = dynamicsConfigSchema.safeParse({
      DYNAMICS_URL: 'http://contoso.crm4.dynamics.com',
      DYNAMICS_TENANT_ID: 't',
      DYNAMICS_CLIENT_ID: 'c',
      DYNAMICS_CLIENT_SECRET: 'top-secret',
      DYNAMICS_PAGE_SIZE: '9000',
      DYNAMICS_GA_CLIENT_ID_COLUMN: "x' or 1 eq 1",
    });
    expect(bad.success).toBe(false);
    const text = JSON.stringify(bad.error?.issues);
    expect(text).toContain('DYNAMICS_URL must be an https URL');
    expect(text).toContain('DYNAMICS_PAGE_SIZE');
    expect(text).not.toContain('top-secret');
    expect(isDynamicsConfigured({ DYNAMICS_URL: 'https://x.crm.dynamics.com' })).toBe(true);
    expect(isDynamicsConfigured({})).toBe(false);
  });

  it('creates dev credentials once (mode 0600), reuses them, and seeds demo people the connector can find', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dynamics-kit-'));
    const first = dynamicsSandboxKit.devCredentials(dataDir);
    const second = dynamicsSandboxKit.devCredentials(dataDir);
    expect(second.options).toEqual(first.options);
    const file = join(dataDir, 'sandboxes', 'dynamics', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).clientSecret).toBe(first.options.clientSecret);

    const fx = await startDynamicsFixture(first.options);
    try {
      await fx.control.seed(dynamicsSandboxKit.demoSeed());
      const env = first.env(fx.sandbox.url);
      expect(env.DYNAMICS_AUTHORITY_HOST).toBe(fx.sandbox.url);
      const connector = createDynamicsConnector(dynamicsConfigSchema.parse(env), { logger: silentLogger });
      const grace = await connector.find(subject('grace.hopper@example.com'));
      expect(grace.records.map((r) => r.kind).sort()).toEqual(['contact', 'lead']);
      expect(grace.gaClientIds).toEqual(['2083349251.1684401133']);
      expect((await connector.find(subject('edsger.dijkstra@example.com'))).records).toEqual([]);
    } finally {
      await fx.sandbox.close();
    }
  });
});
