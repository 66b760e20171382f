import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChangePage, ObservedPerson } from '../../../connectors/connector.js';
import { credentials, type DynamicsFixture, startDynamicsFixture, subject } from './dynamics-fixture.js';

const odata = { Accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0' };
const eightDays = 8 * 24 * 3600;

interface ListBody {
  '@odata.context': string;
  value: Record<string, unknown>[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

describe('Dynamics sandbox change tracking', () => {
  let fx: DynamicsFixture;
  let headers: Record<string, string>;

  beforeAll(async () => {
    fx = await startDynamicsFixture();
  });
  afterAll(() => fx.sandbox.close());
  beforeEach(async () => {
    await fx.control.reset();
    const answer = await fetch(`${fx.sandbox.url}/${credentials.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: credentials.clientId,
        client_secret: credentials.clientSecret,
        scope: `${fx.sandbox.url}/.default`,
      }),
    });
    const { access_token } = (await answer.json()) as { access_token: string };
    headers = { ...odata, Authorization: `Bearer ${access_token}` };
  });

  const api = (path: string) => `${fx.sandbox.url}/api/data/v9.2/${path}`;
  const get = (url: string, prefer?: string) =>
    fetch(url, { headers: { ...headers, ...(prefer ? { Prefer: prefer } : {}) } });
  const read = async (url: string, prefer?: string) => (await (await get(url, prefer)).json()) as ListBody;

  /** Follows next links from a first tracked page; answers the rows and the final delta link. */
  async function drain(url: string, prefer?: string) {
    const rows: Record<string, unknown>[] = [];
    let body = await read(url, prefer);
    for (;;) {
      rows.push(...body.value);
      if (!body['@odata.nextLink']) break;
      body = await read(body['@odata.nextLink'], 'odata.maxpagesize=2');
    }
    return { rows, deltaLink: body['@odata.deltaLink'] };
  }

  it('gives a delta link on the last tracked page only, then lists just the changes and deleted entities', async () => {
    await fx.control.seed({
      contacts: ['a', 'b', 'c'].map((n) => ({ emailaddress1: `${n}@example.com` })),
    });
    const first = await get(api('contacts?$select=emailaddress1'), 'odata.track-changes,odata.maxpagesize=2');
    expect(first.headers.get('preference-applied')).toContain('odata.track-changes');
    const firstBody = (await first.json()) as ListBody;
    expect(firstBody['@odata.context']).toMatch(/\$metadata#contacts\(emailaddress1\)\/\$delta$/);
    expect(firstBody['@odata.deltaLink']).toBeUndefined();
    expect(firstBody['@odata.nextLink']).toBeDefined();
    const second = await read(firstBody['@odata.nextLink'] ?? '', 'odata.maxpagesize=2');
    expect(second.value).toHaveLength(1);
    const deltaLink = second['@odata.deltaLink'] ?? '';
    expect(deltaLink).toMatch(
      new RegExp(`^${api('contacts').replace(/[.?]/g, '\\$&')}\\?\\$select=emailaddress1&\\$deltatoken=`),
    );

    // Nothing changed: the delta is empty and still carries a link.
    const quiet = await read(deltaLink);
    expect(quiet.value).toEqual([]);
    expect(quiet['@odata.deltaLink']).toBeDefined();

    const ids = Object.fromEntries(
      [...firstBody.value, ...second.value].map((r) => [r.emailaddress1, String(r.contactid)]),
    );
    const patched = await fetch(api(`contacts(${ids['a@example.com']})`), {
      method: 'PATCH',
      headers: { ...headers, 'content-type': 'application/json', 'If-Match': '*' },
      body: JSON.stringify({ donotbulkemail: true }),
    });
    expect(patched.status).toBe(204);
    const removed = await fetch(api(`contacts(${ids['b@example.com']})`), { method: 'DELETE', headers });
    expect(removed.status).toBe(204);
    await fx.control.seed({ contacts: [{ emailaddress1: 'd@example.com' }] });

    const delta = await read(deltaLink);
    expect(delta.value).toEqual([
      expect.objectContaining({ emailaddress1: 'a@example.com' }),
      {
        '@odata.context': `${api('$metadata')}#contacts/$deletedEntity`,
        id: ids['b@example.com'],
        reason: 'deleted',
      },
      expect.objectContaining({ emailaddress1: 'd@example.com' }),
    ]);
    // Only the selected columns (and the key) come back on changed rows.
    expect(Object.keys(delta.value[0] ?? {}).sort()).toEqual(['@odata.etag', 'contactid', 'emailaddress1']);
    const after = await read(delta['@odata.deltaLink'] ?? '');
    expect(after.value).toEqual([]);
  });

  it('pages a delta through next links and ends with a new delta link', async () => {
    const { deltaLink } = await drain(api('leads?$select=emailaddress1'), 'odata.track-changes');
    await fx.control.seed({
      leads: Array.from({ length: 5 }, (_, i) => ({ emailaddress1: `l${i}@example.com` })),
    });
    const delta = await drain(deltaLink ?? '', 'odata.maxpagesize=2');
    expect(delta.rows.map((r) => r.emailaddress1)).toEqual([
      'l0@example.com',
      'l1@example.com',
      'l2@example.com',
      'l3@example.com',
      'l4@example.com',
    ]);
    expect(delta.deltaLink).toContain('$deltatoken=');
  });

  it('refuses $filter, $top and $orderby with change tracking in Dataverse’s error shape', async () => {
    for (const option of ['$filter=firstname%20eq%20%27x%27', '$top=1', '$orderby=createdon']) {
      const answer = await get(api(`contacts?${option}`), 'odata.track-changes');
      expect(answer.status).toBe(400);
      const body = (await answer.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('0x80060888');
      expect(body.error.message).toContain('change tracking');
    }
  });

  it('refuses an expired or unknown delta token with ExpiredVersionStamp (0x80044352)', async () => {
    const { deltaLink } = await drain(api('contacts?$select=emailaddress1'), 'odata.track-changes');
    fx.sandbox.store.advanceChangeTrackingClock(eightDays);
    for (const link of [deltaLink ?? '', api('contacts?$deltatoken=nonsense')]) {
      const answer = await get(link);
      expect(answer.status).toBe(400);
      const body = (await answer.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('0x80044352');
      expect(body.error.message).toMatch(/full sync/);
    }
  });
});

describe('Dynamics connector listChanges with change tracking', () => {
  let fx: DynamicsFixture;

  beforeAll(async () => {
    fx = await startDynamicsFixture();
  });
  afterAll(() => fx.sandbox.close());
  beforeEach(() => fx.control.reset());

  /** Reads every page the way the reconciliation workflow does; answers the people and the watermark. */
  async function listAll(since?: string) {
    const connector = fx.connector();
    const people: ObservedPerson[] = [];
    let cursor: string | undefined;
    let last: ChangePage;
    do {
      last = (await connector.listChanges?.({ since, cursor, pageSize: 2 })) ?? { people: [] };
      people.push(...last.people);
      cursor = last.nextCursor;
    } while (cursor);
    return { people, watermark: last.latestChange };
  }

  const seedPeople = () =>
    fx.control.seed({
      contacts: ['c1', 'c2', 'c3'].map((n) => ({ emailaddress1: `${n}@example.com` })),
      leads: ['l1', 'l2', 'l3'].map((n) => ({ emailaddress1: `${n}@example.com` })),
    });

  it('reads everyone first, then only the people changed since, skipping deleted rows', async () => {
    await seedPeople();
    const first = await listAll();
    expect(first.people.map((p) => p.email).sort()).toEqual([
      'c1@example.com',
      'c2@example.com',
      'c3@example.com',
      'l1@example.com',
      'l2@example.com',
      'l3@example.com',
    ]);
    expect(first.watermark?.startsWith('delta:')).toBe(true);
    // An older time-only watermark sorts below it, so the workflow's string maximum keeps this one.
    expect((first.watermark ?? '') > new Date().toISOString()).toBe(true);

    const connector = fx.connector();
    await connector.applyConsent(subject('c2@example.com'), {
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      hasEvidence: false,
    });
    await connector.erase(subject('l1@example.com'));
    await fx.control.seed({ leads: [{ emailaddress2: 'new@example.com' }] });

    const second = await listAll(first.watermark);
    expect(second.people).toEqual([
      expect.objectContaining({
        email: 'c2@example.com',
        fields: expect.arrayContaining([
          expect.objectContaining({ field: 'donotbulkemail', value: 'true', state: 'withdrawn' }),
        ]),
      }),
      expect.objectContaining({
        email: 'new@example.com',
        fields: expect.arrayContaining([
          expect.objectContaining({ field: 'donotbulkemail', value: 'false', state: 'granted' }),
        ]),
      }),
    ]);

    const third = await listAll(second.watermark);
    expect(third.people).toEqual([]);
    expect(third.watermark?.startsWith('delta:')).toBe(true);
  });

  it('falls back to a full tracked read when a delta token has expired', async () => {
    await seedPeople();
    const first = await listAll();
    fx.sandbox.store.advanceChangeTrackingClock(eightDays);
    await fx.control.clearRequests();
    const again = await listAll(first.watermark);
    expect(again.people).toHaveLength(6);
    const statuses = (await fx.control.requests()).map((e) => `${e.path} ${e.status}`);
    expect(statuses).toContain('/api/data/v9.2/contacts 400');
    expect(statuses).toContain('/api/data/v9.2/leads 400');
    // The full read minted fresh links, which work.
    await fx.control.seed({ contacts: [{ emailaddress1: 'late@example.com' }] });
    const after = await listAll(again.watermark);
    expect(after.people.map((p) => p.email)).toEqual(['late@example.com']);
  });

  it('reads a table without change tracking by modifiedon ge the latest change it saw, not in full', async () => {
    await fx.sandbox.close();
    fx = await startDynamicsFixture({ changeTrackingTables: ['contacts'] });
    await fx.control.seed({
      contacts: [{ emailaddress1: 'c1@example.com' }],
      leads: ['l1', 'l2', 'l3'].map((n, i) => ({
        emailaddress1: `${n}@example.com`,
        modifiedon: `2026-01-0${i + 1}T00:00:00Z`,
      })),
    });
    const first = await listAll();
    expect(first.people.map((p) => p.email).sort()).toEqual([
      'c1@example.com',
      'l1@example.com',
      'l2@example.com',
      'l3@example.com',
    ]);
    const marks = JSON.parse((first.watermark ?? '').slice('delta:'.length));
    expect(marks.leads).toEqual({ modifiedSince: '2026-01-03T00:00:00Z' });

    await fx.connector().applyConsent(subject('l1@example.com'), {
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      hasEvidence: false,
    });
    await fx.control.seed({ contacts: [{ emailaddress1: 'c4@example.com' }] });
    await fx.control.clearRequests();
    const second = await listAll(first.watermark);
    // l1 changed; l3 sits exactly at the watermark (ge keeps a change in that same instant); l2 is not read.
    expect(second.people.map((p) => p.email).sort()).toEqual([
      'c4@example.com',
      'l1@example.com',
      'l3@example.com',
    ]);
    // Every consent column, with the purposes that share it: donotbulkemail carries two.
    const l1 = second.people.find((p) => p.email === 'l1@example.com');
    expect(l1?.fields).toContainEqual({
      field: 'donotbulkemail',
      purposes: ['marketing_email', 'event_invitations'],
      value: 'true',
      state: 'withdrawn',
    });
    expect(l1?.fields.find((f) => f.field === 'donotphone')).toMatchObject({ state: 'granted' });
    const secondMarks = JSON.parse((second.watermark ?? '').slice('delta:'.length));
    expect(Date.parse(secondMarks.leads.modifiedSince)).toBeGreaterThan(Date.parse('2026-01-03T00:00:00Z'));

    // Nothing changed since: only the row at the watermark comes back, and the mark stays.
    const third = await listAll(second.watermark);
    expect(third.people.map((p) => p.email)).toEqual(['l1@example.com']);
    expect(JSON.parse((third.watermark ?? '').slice('delta:'.length)).leads).toEqual(secondMarks.leads);
  });
});
