import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DynamicsStore, dynamicsSandbox } from '../../../sandboxes/dynamics/sandbox.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/**
 * What an access request reads from Dataverse, as Microsoft documents it, with plain HTTP requests written
 * from the pages each test names (never through an SDK or the connector):
 * - table definitions with display names: webapi/query-metadata-web-api
 *   (GET EntityDefinitions(LogicalName='account')?$select=DisplayName,... and its Attributes collection;
 *   MetadataId always comes back; a Label has LocalizedLabels and UserLocalizedLabel);
 * - activity tables and the regarding lookup: webapi/query/select-columns#lookup-property-data
 *   (`_<name>_value`), reference/entities/email (activityid, regardingobjectid), and
 *   webapi/associate-disassociate-entities-using-web-api (`<nav>@odata.bind` on create).
 */
const learn = 'https://learn.microsoft.com/power-apps/developer/data-platform/webapi';
const pages = {
  metadata: `${learn}/query-metadata-web-api`,
  lookups: `${learn}/query/select-columns#lookup-property-data`,
  bind: `${learn}/associate-disassociate-entities-using-web-api`,
  email: 'https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/email',
  // The contact and lead tables' one-to-many relationships to their activities (Contact_Phonecalls,
  // Lead_Phonecalls, ...) are parental: CascadeConfiguration Delete: Cascade.
  cascade:
    'https://learn.microsoft.com/power-apps/developer/data-platform/configure-entity-relationship-cascading-behavior',
  contact: 'https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact',
};

const tenantId = randomUUID();
const clientId = randomUUID();
const clientSecret = randomUUID();
const odata = { Accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0' };
type Json = Record<string, unknown>;

describe('Dataverse table definitions and activities, raw HTTP from Microsoft’s pages', () => {
  let sandbox: RunningSandbox<DynamicsStore>;
  let control: SandboxClient;
  let headers: Record<string, string>;
  const api = (path: string) => `${sandbox.url}/api/data/v9.2/${path}`;
  const get = async (path: string) => {
    const answer = await fetch(api(path), { headers });
    return { status: answer.status, body: (await answer.json()) as Json };
  };

  beforeAll(async () => {
    sandbox = await startTestSandbox(dynamicsSandbox, { tenantId, clientId, clientSecret });
    control = new SandboxClient(sandbox.url);
  });
  afterAll(() => sandbox.close());
  beforeEach(async () => {
    await control.reset();
    const answer = await fetch(`${sandbox.url}/${tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: `${sandbox.url}/.default`,
      }),
    });
    headers = { ...odata, Authorization: `Bearer ${((await answer.json()) as Json).access_token}` };
  });

  it(`serves a table definition with its localized DisplayName and MetadataId (${pages.metadata})`, async () => {
    const { status, body } = await get(
      "EntityDefinitions(LogicalName='contact')?$select=DisplayName,EntitySetName",
    );
    expect(status).toBe(200);
    expect(body.MetadataId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.EntitySetName).toBe('contacts');
    expect(body).not.toHaveProperty('LogicalName');
    expect(body.DisplayName).toMatchObject({
      LocalizedLabels: [expect.objectContaining({ Label: 'Contact', LanguageCode: 1033 })],
      UserLocalizedLabel: expect.objectContaining({ Label: 'Contact', LanguageCode: 1033 }),
    });
  });

  it(`lists a table's attributes with LogicalName and DisplayName, a lookup under its own name (${pages.metadata})`, async () => {
    const contact = await get(
      "EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName,DisplayName",
    );
    expect(contact.status).toBe(200);
    const labels = Object.fromEntries(
      (
        contact.body.value as {
          LogicalName: string;
          DisplayName: { UserLocalizedLabel: { Label: string } };
        }[]
      ).map((a) => [a.LogicalName, a.DisplayName.UserLocalizedLabel.Label]),
    );
    expect(labels).toMatchObject({ firstname: 'First Name', emailaddress1: 'Email', jobtitle: 'Job Title' });
    const email = await get(
      "EntityDefinitions(LogicalName='email')/Attributes?$select=LogicalName,AttributeType",
    );
    const regarding = (email.body.value as Json[]).find((a) => a.LogicalName === 'regardingobjectid');
    expect(regarding).toMatchObject({
      AttributeType: 'Lookup',
      '@odata.type': '#Microsoft.Dynamics.CRM.LookupAttributeMetadata',
    });
    expect((email.body.value as Json[]).some((a) => a.LogicalName === '_regardingobjectid_value')).toBe(
      false,
    );
  });

  it(`answers 404 for a table that does not exist and 400 for a property a definition lacks (${pages.metadata})`, async () => {
    const missing = await get("EntityDefinitions(LogicalName='nosuchtable')/Attributes");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({
      code: expect.stringMatching(/^0x/),
      message: expect.any(String),
    });
    expect((await get("EntityDefinitions(LogicalName='contact')?$select=NoSuchProperty")).status).toBe(400);
  });

  it(`creates an email regarding a contact with regardingobjectid_contact@odata.bind and filters on _regardingobjectid_value (${pages.bind}; ${pages.lookups}; ${pages.email})`, async () => {
    const created = await fetch(api('contacts'), {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({ firstname: 'Ada', emailaddress1: 'ada@example.com' }),
    });
    const contactId = /contacts\(([^)]+)\)/.exec(created.headers.get('odata-entityid') ?? '')?.[1] ?? '';
    expect(contactId).toMatch(/^[0-9a-f-]{36}$/);
    const email = await fetch(api('emails'), {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        subject: 'Your quote',
        'regardingobjectid_contact@odata.bind': `/contacts(${contactId})`,
      }),
    });
    expect(email.status).toBe(204);
    const found = await get(`emails?$filter=_regardingobjectid_value eq ${contactId}`);
    expect(found.status).toBe(200);
    expect(found.body.value).toEqual([
      expect.objectContaining({
        subject: 'Your quote',
        _regardingobjectid_value: contactId,
        activityid: expect.any(String),
      }),
    ]);
    // A lookup's value is read-only: it is set through the navigation property, never written directly.
    const direct = await fetch(api('tasks'), {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({ subject: 'x', _regardingobjectid_value: contactId }),
    });
    expect(direct.status).toBe(400);
    // An activity row has no contact columns (no donot* defaults leak into it).
    expect(found.body.value).toEqual([expect.not.objectContaining({ donotbulkemail: expect.anything() })]);
  });

  it(`deletes the phone calls, emails, appointments and tasks regarding a contact or a lead with it, and no others (${pages.cascade}; ${pages.contact})`, async () => {
    const post = async (set: string, body: Json) => {
      const answer = await fetch(api(set), {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(answer.status).toBe(204);
      return /\(([^)]+)\)/.exec(answer.headers.get('odata-entityid') ?? '')?.[1] ?? '';
    };
    const contactId = await post('contacts', { lastname: 'Gone', emailaddress1: 'gone@example.com' });
    const leadId = await post('leads', { lastname: 'Gone', emailaddress1: 'gone@example.com' });
    const otherId = await post('contacts', { lastname: 'Stays', emailaddress1: 'stays@example.com' });
    const sets = ['phonecalls', 'emails', 'appointments', 'tasks'];
    for (const set of sets) {
      await post(set, {
        subject: `${set} c`,
        'regardingobjectid_contact@odata.bind': `/contacts(${contactId})`,
      });
      await post(set, { subject: `${set} l`, 'regardingobjectid_lead@odata.bind': `/leads(${leadId})` });
      await post(set, {
        subject: `${set} o`,
        'regardingobjectid_contact@odata.bind': `/contacts(${otherId})`,
      });
    }
    for (const [set, id] of [
      ['contacts', contactId],
      ['leads', leadId],
    ] as const) {
      const deleted = await fetch(api(`${set}(${id})`), { method: 'DELETE', headers });
      expect(deleted.status).toBe(204);
    }
    for (const set of sets) {
      for (const id of [contactId, leadId]) {
        expect((await get(`${set}?$filter=_regardingobjectid_value eq ${id}`)).body.value, set).toEqual([]);
      }
      expect((await get(`${set}?$filter=_regardingobjectid_value eq ${otherId}`)).body.value).toHaveLength(1);
    }
  });
});
