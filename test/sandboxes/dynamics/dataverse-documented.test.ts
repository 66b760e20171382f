import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DynamicsStore, dynamicsSandbox } from '../../../sandboxes/dynamics/sandbox.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/**
 * The Dataverse Web API and Entra ID token endpoint as Microsoft documents them, driven with plain HTTP
 * requests written from the pages each test names (learn.microsoft.com), never through an SDK or the
 * connector. Only the sandbox's own package is imported.
 */
const learn = 'https://learn.microsoft.com/power-apps/developer/data-platform/webapi';
const pages = {
  filterRows: `${learn}/query/filter-rows`,
  orderRows: `${learn}/query/order-rows`,
  countRows: `${learn}/query/count-rows`,
  pageResults: `${learn}/query/page-results`,
  conditional: `${learn}/perform-conditional-operations-using-web-api`,
  updateDelete: `${learn}/update-delete-entities-using-web-api`,
  clientCredentials: 'https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow',
  errorCodes: 'https://learn.microsoft.com/entra/identity-platform/reference-error-codes',
  deleteAuditData:
    'https://learn.microsoft.com/power-apps/developer/data-platform/auditing/delete-audit-data',
  deleteRecordChangeHistory: `${learn}/reference/deleterecordchangehistory`,
  inFunction: `${learn}/reference/in`,
  notInFunction: `${learn}/reference/notin`,
  maxUrlLength: `${learn}/compose-http-requests-handle-errors#maximum-url-length`,
  collations: 'https://learn.microsoft.com/power-platform/admin/language-collations',
};

const tenantId = randomUUID();
const clientId = randomUUID();
const clientSecret = 'secret with spaces & symbols:=+/';
const odata = { Accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0' };

interface Collection {
  value: Record<string, unknown>[];
  '@odata.nextLink'?: string;
  '@odata.count'?: number;
}

describe('Dataverse Web API and Entra ID, raw HTTP from Microsoft’s pages', () => {
  let sandbox: RunningSandbox<DynamicsStore>;
  let control: SandboxClient;
  let headers: Record<string, string>;
  const api = (path: string) => `${sandbox.url}/api/data/v9.2/${path}`;
  const tokenUrl = () => `${sandbox.url}/${tenantId}/oauth2/v2.0/token`;
  const form = (fields: Record<string, string>) => new URLSearchParams(fields);

  beforeAll(async () => {
    sandbox = await startTestSandbox(dynamicsSandbox, { tenantId, clientId, clientSecret });
    control = new SandboxClient(sandbox.url);
  });
  afterAll(() => sandbox.close());
  beforeEach(async () => {
    await control.reset();
    const answer = await fetch(tokenUrl(), {
      method: 'POST',
      body: form({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: `${sandbox.url}/.default`,
      }),
    });
    const { access_token } = (await answer.json()) as { access_token: string };
    headers = { ...odata, Authorization: `Bearer ${access_token}` };
  });

  const get = async (path: string, extra: Record<string, string> = {}) => {
    const answer = await fetch(path.startsWith('https://') ? path : api(path), {
      headers: { ...headers, ...extra },
    });
    return { status: answer.status, headers: answer.headers, body: (await answer.json()) as Collection };
  };
  const emails = (body: Collection) => body.value.map((row) => row.emailaddress1);

  const seedPeople = () =>
    control.seed({
      contacts: [
        {
          contactid: '00000000-0000-4000-8000-000000000001',
          firstname: 'Ada',
          lastname: 'Lovelace',
          emailaddress1: 'ada@example.com',
          donotbulkemail: true,
          modifiedon: '2026-01-10T09:00:00Z',
          createdon: '2026-01-01T00:00:00Z',
        },
        {
          contactid: '00000000-0000-4000-8000-000000000002',
          firstname: 'Grace',
          lastname: 'Hopper',
          emailaddress1: 'grace@example.org',
          modifiedon: '2026-02-10T09:00:00Z',
          createdon: '2026-01-02T00:00:00Z',
        },
        {
          contactid: '00000000-0000-4000-8000-000000000003',
          firstname: 'Alan',
          lastname: 'Turing',
          emailaddress1: 'alan@example.com',
          emailaddress2: 'turing@example.net',
          modifiedon: '2026-03-10T09:00:00Z',
          createdon: '2026-01-03T00:00:00Z',
        },
      ],
    });

  describe(`$filter (${pages.filterRows})`, () => {
    const cases: [string, string[]][] = [
      ["emailaddress1 eq 'ADA@example.com'", ['ada@example.com']],
      ["emailaddress1 ne 'ada@example.com'", ['grace@example.org', 'alan@example.com']],
      ['modifiedon gt 2026-02-10T09:00:00Z', ['alan@example.com']],
      ['modifiedon ge 2026-02-10T09:00:00Z', ['grace@example.org', 'alan@example.com']],
      ['modifiedon lt 2026-02-10T10:00:00+01:00', ['ada@example.com']],
      ['modifiedon le 2026-02-10', ['ada@example.com']],
      ["firstname eq 'Ada' or lastname eq 'Turing'", ['ada@example.com', 'alan@example.com']],
      ["firstname eq 'Ada' and lastname eq 'Turing'", []],
      ["not (firstname eq 'Ada')", ['grace@example.org', 'alan@example.com']],
      ["(firstname eq 'Ada' or firstname eq 'Grace') and donotbulkemail eq false", ['grace@example.org']],
      ["contains(emailaddress1,'example.com')", ['ada@example.com', 'alan@example.com']],
      ["not contains(emailaddress1,'example.com')", ['grace@example.org']],
      ["startswith(lastname,'ho')", ['grace@example.org']],
      ["endswith(emailaddress1,'.ORG')", ['grace@example.org']],
      ["firstname in ('Ada','Alan')", ['ada@example.com', 'alan@example.com']],
      ["firstname in ('Ada','Alan') and lastname eq 'Turing'", ['alan@example.com']],
      [
        "lastname eq 'Hopper' or firstname in ('Ada') and donotbulkemail eq true",
        ['ada@example.com', 'grace@example.org'],
      ],
      ["not (firstname eq 'Ada') and lastname eq 'Turing'", ['alan@example.com']],
      [
        "not contains(emailaddress1,'example.com') or lastname eq 'Turing'",
        ['grace@example.org', 'alan@example.com'],
      ],
      ["firstname eq 'Grace' or firstname eq 'Ada' and lastname eq 'Turing'", ['grace@example.org']],
      ["emailaddress1 eq 'in (x)' or firstname in ('Alan')", ['alan@example.com']],
      // A string function of a null column is null, and `not null` selects nothing (OData 4.01 Part 2, 5.1.1.7;
      // SQL Server's NOT LIKE under Dataverse): rows without an emailaddress2 match neither form.
      ["not contains(emailaddress2,'example')", []],
      ["not startswith(emailaddress2,'ada') or firstname eq 'Ada'", ['ada@example.com', 'alan@example.com']],
      ['emailaddress2 eq null', ['ada@example.com', 'grace@example.org']],
      ['emailaddress2 ne null', ['alan@example.com']],
      ['donotbulkemail eq true', ['ada@example.com']],
      ['contactid eq 00000000-0000-4000-8000-000000000002', ['grace@example.org']],
      ['versionnumber ge 0', ['ada@example.com', 'grace@example.org', 'alan@example.com']],
      ['firstname eq lastname', []],
    ];
    it.each(cases)('%s', async (filter, expected) => {
      await seedPeople();
      const answer = await get(`contacts?$select=emailaddress1&$filter=${encodeURIComponent(filter)}`);
      expect(answer.status).toBe(200);
      expect(emails(answer.body)).toEqual(expected);
    });

    it('reads characters a URL must encode (# % ? / " &) and non-ASCII text inside string literals', async () => {
      const odd = ['a+b&c#d%25e"f?g/h@example.com', "o'brien@example.com", '用户@例子.广告'];
      await control.seed({ contacts: odd.map((emailaddress1) => ({ emailaddress1 })) });
      for (const email of odd) {
        const filter = `emailaddress1 eq '${email.replaceAll("'", "''")}'`;
        const answer = await get(`contacts?$select=emailaddress1&$filter=${encodeURIComponent(filter)}`);
        expect(emails(answer.body)).toEqual([email]);
      }
    });

    it(`compares text as an English environment's _CI_AI collation: case and accents ignored (${pages.collations})`, async () => {
      const stored = ['José@Example.com', 'jose\u0301@example.com', 'jose@example.com', 'josie@example.com'];
      await control.seed({ contacts: stored.map((emailaddress1) => ({ emailaddress1 })) });
      const eqAnswer = await get(
        `contacts?$select=emailaddress1&$filter=${encodeURIComponent("emailaddress1 eq 'JOSE@example.com'")}`,
      );
      expect(emails(eqAnswer.body).sort()).toEqual(stored.slice(0, 3).sort());
      const inFilter =
        "Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=['josé@example.com'])";
      const inAnswer = await get(`contacts?$select=emailaddress1&$filter=${encodeURIComponent(inFilter)}`);
      expect(emails(inAnswer.body).sort()).toEqual(stored.slice(0, 3).sort());
    });

    const refusals: [string, RegExp][] = [
      ["emailaddress1 eq 'a' or 1 eq 1", /left side of the 'Equal' operator must be a property/],
      ["'ada@example.com' eq emailaddress1", /left side of the 'Equal' operator must be a property/],
      ["contactid eq '00000000-0000-4000-8000-000000000002'", /incompatible types.*Edm\.Guid.*Edm\.String/],
      ["modifiedon ge '2026-01-01'", /incompatible types/],
      ["donotbulkemail eq 'yes'", /incompatible types/],
      ["nosuchcolumn eq 'a'", /Could not find a property named 'nosuchcolumn'/],
      ["emailaddress1 eq 'unterminated", /Syntax error/],
      ["(emailaddress1 eq 'a'", /Syntax error/],
      ["emailaddress1 eq 'a'; process.exit()", /Syntax error/],
      ["firstname in ('Ada',1)", /incompatible types/],
      ['firstname in ()', /Syntax error in the list after 'in'/],
    ];
    it.each(refusals)('refuses %j with 400 and Dataverse’s error body', async (filter, message) => {
      await seedPeople();
      const answer = await get(`contacts?$filter=${encodeURIComponent(filter)}`);
      expect(answer.status).toBe(400);
      const error = (answer.body as unknown as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('0x80060888');
      expect(error.message).toMatch(message);
    });
  });

  describe(`the In and NotIn query functions (${pages.inFunction}, ${pages.notInFunction})`, () => {
    const cases: [string, string[]][] = [
      [
        "Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=['ADA@Example.com','alan@example.com'])",
        ['ada@example.com', 'alan@example.com'],
      ],
      [
        "Microsoft.Dynamics.CRM.In(PropertyName='emailaddress2',PropertyValues=['TURING@example.net']) or Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=['grace@example.org'])",
        ['grace@example.org', 'alan@example.com'],
      ],
      [
        'Microsoft.Dynamics.CRM.In(PropertyName=\'emailaddress1\',PropertyValues=["ada@example.com"]) and donotbulkemail eq true',
        ['ada@example.com'],
      ],
      [
        "Microsoft.Dynamics.CRM.NotIn(PropertyName='firstname',PropertyValues=['Ada','Alan'])",
        ['grace@example.org'],
      ],
      [
        "Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=['Microsoft.Dynamics.CRM.In(',''])",
        [],
      ],
    ];
    it.each(cases)('%s', async (filter, expected) => {
      await seedPeople();
      const answer = await get(`contacts?$select=emailaddress1&$filter=${encodeURIComponent(filter)}`);
      expect(answer.status).toBe(200);
      expect(emails(answer.body)).toEqual(expected);
    });

    it('takes PropertyName and PropertyValues as parameter aliases, as the reference page writes them', async () => {
      await seedPeople();
      const filter = encodeURIComponent('Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)');
      const answer = await get(
        `contacts?$select=emailaddress1&$filter=${filter}&@p1=${encodeURIComponent("'firstname'")}&@p2=${encodeURIComponent("['Grace','Alan']")}`,
      );
      expect(answer.status).toBe(200);
      expect(emails(answer.body)).toEqual(['grace@example.org', 'alan@example.com']);
      const unset = await get(`contacts?$filter=${filter}&@p1=${encodeURIComponent("'firstname'")}`);
      expect(unset.status).toBe(400);
    });

    const refusals: [string, RegExp][] = [
      ["Microsoft.Dynamics.CRM.In(PropertyName='nosuchcolumn',PropertyValues=['a'])", /nosuchcolumn/],
      ["Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1')", /PropertyName and PropertyValues/],
      ["Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues='a')", /Syntax error/],
      [
        "Microsoft.Dynamics.CRM.In(PropertyName='donotbulkemail',PropertyValues=['yes'])",
        /incompatible types/,
      ],
    ];
    it.each(refusals)('refuses %j with 400', async (filter, message) => {
      await seedPeople();
      const answer = await get(`contacts?$filter=${encodeURIComponent(filter)}`);
      expect(answer.status).toBe(400);
      expect((answer.body as unknown as { error: { message: string } }).error.message).toMatch(message);
    });
  });

  it(`accepts a URL of up to 32,768 characters and refuses a longer one (${pages.maxUrlLength})`, async () => {
    await seedPeople();
    const query = (length: number) => {
      const head = `contacts?$select=emailaddress1&$filter=${encodeURIComponent("emailaddress1 eq 'ada@example.com' or emailaddress1 eq '")}`;
      const tail = encodeURIComponent("'");
      // As sent: the WHATWG URL parser fetch uses percent-encodes a few more characters of a query.
      const base = new URL(`${api(head)}${tail}`).href.length;
      const url = new URL(api(`${head}${'x'.repeat(length - base)}${tail}`)).href;
      expect(url.length).toBe(length);
      return url;
    };
    const fits = await get(query(32_768));
    expect(fits.status).toBe(200);
    expect(emails(fits.body)).toEqual(['ada@example.com']);
    const tooLong = await fetch(query(32_769), { headers });
    expect(tooLong.status).toBe(414);
  });

  it(`orders rows by $orderby, descending and by several columns (${pages.orderRows})`, async () => {
    await seedPeople();
    await control.seed({
      contacts: [{ firstname: 'Ada', lastname: 'Byron', emailaddress1: 'byron@example.com' }],
    });
    const byName = await get('contacts?$select=emailaddress1&$orderby=firstname desc,lastname asc');
    expect(emails(byName.body)).toEqual([
      'grace@example.org',
      'alan@example.com',
      'byron@example.com',
      'ada@example.com',
    ]);
    const byTime = await get('contacts?$select=emailaddress1&$orderby=modifiedon&$filter=modifiedon ne null');
    expect(emails(byTime.body).slice(0, 3)).toEqual([
      'ada@example.com',
      'grace@example.org',
      'alan@example.com',
    ]);
    expect((await get('contacts?$orderby=nosuchcolumn')).status).toBe(400);
  });

  it(`adds @odata.count for $count=true, counting every matching row, not the page (${pages.countRows})`, async () => {
    await seedPeople();
    const answer = await get(
      "contacts?$select=emailaddress1&$count=true&$filter=contains(emailaddress1,'example')",
      {
        Prefer: 'odata.maxpagesize=1',
      },
    );
    expect(answer.body['@odata.count']).toBe(3);
    expect(answer.body.value).toHaveLength(1);
    expect((await get('contacts?$select=emailaddress1')).body['@odata.count']).toBeUndefined();
  });

  describe(`paging (${pages.pageResults})`, () => {
    const seedLeads = (n: number) =>
      control.seed({ leads: Array.from({ length: n }, (_, i) => ({ emailaddress1: `l${i}@example.com` })) });

    it('ignores $top when Prefer: odata.maxpagesize is sent, and pages through every row', async () => {
      await seedLeads(5);
      const prefer = { Prefer: 'odata.maxpagesize=2' };
      let body = (await get('leads?$select=emailaddress1&$top=3', prefer)).body;
      const seen = emails(body);
      while (body['@odata.nextLink']) {
        expect(body['@odata.nextLink']).not.toContain('$top');
        body = (await get(body['@odata.nextLink'], prefer)).body;
        seen.push(...emails(body));
      }
      expect(seen).toHaveLength(5);
      // Without the preference, $top limits the rows.
      expect((await get('leads?$select=emailaddress1&$top=3')).body.value).toHaveLength(3);
    });

    it('serves a next page asked for without the Prefer header in the default page size', async () => {
      await seedLeads(5);
      const first = (await get('leads?$select=emailaddress1', { Prefer: 'odata.maxpagesize=2' })).body;
      expect(first.value).toHaveLength(2);
      const rest = await get(first['@odata.nextLink'] ?? '');
      expect(rest.headers.get('preference-applied')).toBeNull();
      expect(rest.body.value).toHaveLength(3);
      expect(rest.body['@odata.nextLink']).toBeUndefined();
    });
  });

  describe(`optimistic concurrency with ETags (${pages.conditional})`, () => {
    const created = async () => {
      const answer = await fetch(api('contacts'), {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json', Prefer: 'return=representation' },
        body: JSON.stringify({ emailaddress1: 'etag@example.com' }),
      });
      const row = (await answer.json()) as Record<string, string>;
      return { url: api(`contacts(${row.contactid})`), etag: row['@odata.etag'] ?? '' };
    };
    const patch = (url: string, ifMatch: string, body: object, extra: Record<string, string> = {}) =>
      fetch(url, {
        method: 'PATCH',
        headers: { ...headers, 'Content-Type': 'application/json', 'If-Match': ifMatch, ...extra },
        body: JSON.stringify(body),
      });

    it('gives every row a weak @odata.etag that changes on each update', async () => {
      const { url, etag } = await created();
      expect(etag).toMatch(/^W\/"\d+"$/);
      expect((await patch(url, etag, { donotemail: true })).status).toBe(204);
      const after = (await (await fetch(url, { headers })).json()) as Record<string, string>;
      expect(after['@odata.etag']).toMatch(/^W\/"\d+"$/);
      expect(after['@odata.etag']).not.toBe(etag);
      const listed = await get("contacts?$filter=emailaddress1 eq 'etag@example.com'");
      expect(listed.body.value[0]?.['@odata.etag']).toBe(after['@odata.etag']);
    });

    it('answers a PATCH or DELETE with a stale If-Match with 412 and Dataverse’s error body, changing nothing', async () => {
      const { url, etag } = await created();
      expect((await patch(url, etag, { donotemail: true })).status).toBe(204);
      const stalePatch = await patch(url, etag, { donotphone: true });
      expect(stalePatch.status).toBe(412);
      const error = ((await stalePatch.json()) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('0x80060882');
      expect(error.message).toMatch(/doesn't match the RowVersion/);
      const staleDelete = await fetch(url, { method: 'DELETE', headers: { ...headers, 'If-Match': etag } });
      expect(staleDelete.status).toBe(412);
      const row = (await (await fetch(url, { headers })).json()) as Record<string, unknown>;
      expect(row.donotphone).toBe(false);
      const fresh = String(row['@odata.etag']);
      expect(
        (await fetch(url, { method: 'DELETE', headers: { ...headers, 'If-Match': fresh } })).status,
      ).toBe(204);
    });

    it('answers a GET with If-None-Match holding the current ETag with 304', async () => {
      const { url, etag } = await created();
      expect((await fetch(url, { headers: { ...headers, 'If-None-Match': etag } })).status).toBe(304);
      expect((await fetch(url, { headers: { ...headers, 'If-None-Match': 'W/"1"' } })).status).toBe(200);
    });

    it('never creates a row for a PATCH with If-Match on a missing key: 404', async () => {
      const missing = api('contacts(00000000-0000-4000-8000-0000000000ff)');
      expect((await patch(missing, 'W/"5"', { donotemail: true })).status).toBe(404);
      expect((await control.state<{ contacts: unknown[] }>()).contacts).toEqual([]);
    });
  });

  it(`answers PATCH with Prefer: return=representation with 200 and the updated row (${pages.updateDelete})`, async () => {
    await seedPeople();
    const answer = await fetch(
      api('contacts(00000000-0000-4000-8000-000000000002)?$select=donotemail,emailaddress1'),
      {
        method: 'PATCH',
        headers: {
          ...headers,
          'Content-Type': 'application/json',
          'If-Match': '*',
          Prefer: 'return=representation',
        },
        body: JSON.stringify({ donotemail: true }),
      },
    );
    expect(answer.status).toBe(200);
    const row = (await answer.json()) as Record<string, unknown>;
    expect(row).toMatchObject({
      '@odata.context': expect.stringMatching(/\$metadata#contacts\/\$entity$/),
      '@odata.etag': expect.stringMatching(/^W\/"\d+"$/),
      contactid: '00000000-0000-4000-8000-000000000002',
      donotemail: true,
      emailaddress1: 'grace@example.org',
    });
    expect(row.lastname).toBeUndefined();
  });

  describe(`audit history and DeleteRecordChangeHistory (${pages.deleteAuditData}, ${pages.deleteRecordChangeHistory})`, () => {
    const action = (target: unknown) =>
      fetch(api('DeleteRecordChangeHistory'), {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json', 'If-None-Match': 'null' },
        body: JSON.stringify({ Target: target }),
      });

    it('keeps a deleted contact’s audit history until the action deletes it, and counts what it deleted', async () => {
      const created = await fetch(api('contacts'), {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify({ emailaddress1: 'audited@example.com' }),
      });
      const url = created.headers.get('odata-entityid') ?? '';
      const id = /\(([^)]+)\)$/.exec(url)?.[1] ?? '';
      await fetch(url, {
        method: 'PATCH',
        headers: { ...headers, 'Content-Type': 'application/json', 'If-Match': '*' },
        body: JSON.stringify({ donotemail: true }),
      });
      expect((await fetch(url, { method: 'DELETE', headers })).status).toBe(204);
      const state = await control.state<{ contacts: unknown[]; audit: Record<string, number> }>();
      expect(state.contacts).toEqual([]);
      expect(state.audit[`contact:${id}`]).toBe(3);

      const answer = await action({ '@odata.type': 'Microsoft.Dynamics.CRM.contact', contactid: id });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({
        '@odata.context': `${api('$metadata')}#Microsoft.Dynamics.CRM.DeleteRecordChangeHistoryResponse`,
        DeletedEntriesCount: 3,
      });
      expect(
        (await control.state<{ audit: Record<string, number> }>()).audit[`contact:${id}`],
      ).toBeUndefined();
      const again = await action({ '@odata.type': 'Microsoft.Dynamics.CRM.contact', contactid: id });
      expect(((await again.json()) as { DeletedEntriesCount: number }).DeletedEntriesCount).toBe(0);
    });

    it('refuses the action without prvDeleteRecordChangeHistory (403) and a Target it cannot read (400)', async () => {
      await control.seed({ deniedPrivileges: ['prvDeleteRecordChangeHistory'] });
      const id = '00000000-0000-4000-8000-000000000009';
      const denied = await action({ '@odata.type': 'Microsoft.Dynamics.CRM.lead', leadid: id });
      expect(denied.status).toBe(403);
      const error = ((await denied.json()) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('0x80040220');
      expect(error.message).toMatch(/prvDeleteRecordChangeHistory/);
      await control.seed({ deniedPrivileges: [] });
      expect((await action({ '@odata.type': 'Microsoft.Dynamics.CRM.account', accountid: id })).status).toBe(
        400,
      );
      expect((await action({ '@odata.type': 'Microsoft.Dynamics.CRM.lead', contactid: id })).status).toBe(
        400,
      );
      expect((await action(undefined)).status).toBe(400);
    });
  });

  describe(`Entra ID token endpoint (${pages.clientCredentials})`, () => {
    const basic = (id: string, secret: string) =>
      `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

    it('accepts client_secret_basic, as its metadata announces, and the token works on the Web API', async () => {
      const meta = (await (
        await fetch(`${sandbox.url}/${tenantId}/v2.0/.well-known/openid-configuration`)
      ).json()) as { token_endpoint_auth_methods_supported: string[] };
      expect(meta.token_endpoint_auth_methods_supported).toContain('client_secret_basic');
      const answer = await fetch(tokenUrl(), {
        method: 'POST',
        headers: { Authorization: basic(clientId, clientSecret) },
        body: form({ grant_type: 'client_credentials', scope: `${sandbox.url}/.default` }),
      });
      expect(answer.status).toBe(200);
      const { access_token } = (await answer.json()) as { access_token: string };
      const list = await fetch(api('contacts'), {
        headers: { ...odata, Authorization: `Bearer ${access_token}` },
      });
      expect(list.status).toBe(200);
    });

    it('refuses a wrong secret in the Basic header with invalid_client (AADSTS7000215)', async () => {
      const answer = await fetch(tokenUrl(), {
        method: 'POST',
        headers: { Authorization: basic(clientId, 'wrong') },
        body: form({ grant_type: 'client_credentials', scope: `${sandbox.url}/.default` }),
      });
      expect(answer.status).toBe(401);
      expect(((await answer.json()) as { error: string }).error).toBe('invalid_client');
    });

    it(`answers a scope for an unknown resource with invalid_resource, AADSTS500011 (${pages.errorCodes})`, async () => {
      const answer = await fetch(tokenUrl(), {
        method: 'POST',
        body: form({
          grant_type: 'client_credentials',
          client_id: clientId,
          client_secret: clientSecret,
          scope: 'https://other-org.crm4.dynamics.com/.default',
        }),
      });
      expect(answer.status).toBe(400);
      const body = (await answer.json()) as {
        error: string;
        error_description: string;
        error_codes: number[];
      };
      expect(body.error).toBe('invalid_resource');
      expect(body.error_codes).toEqual([500011]);
      expect(body.error_description).toMatch(
        /^AADSTS500011: The resource principal named https:\/\/other-org\.crm4\.dynamics\.com was not found/,
      );
    });

    it('keeps invalid_scope (AADSTS1002012) for a scope without /.default', async () => {
      const answer = await fetch(tokenUrl(), {
        method: 'POST',
        body: form({
          grant_type: 'client_credentials',
          client_id: clientId,
          client_secret: clientSecret,
          scope: `${sandbox.url}/user_impersonation`,
        }),
      });
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { error: string }).error).toBe('invalid_scope');
    });
  });
});
