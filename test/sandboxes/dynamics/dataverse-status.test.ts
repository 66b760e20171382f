import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DynamicsStore, dynamicsSandbox } from '../../../sandboxes/dynamics/sandbox.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/**
 * Status (`statecode`) and Status Reason (`statuscode`) of contacts and leads, and the opt-out columns each
 * table has, as the table references document them, driven with plain HTTP (no SDK, no connector):
 * - https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact
 *   (statecode 0 Active / 1 Inactive; statuscode 1 Active / 2 Inactive; donotbulkpostalmail)
 * - https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/lead
 *   (statecode 0 Open / 1 Qualified / 2 Disqualified; statuscode 1 New, 2 Contacted, 3 Qualified, 4 Lost,
 *   5 Cannot Contact, 6 No Longer Interested, 7 Canceled; no donotbulkpostalmail)
 * - https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api
 *   (PATCH a row with `If-Match: *` → 204)
 */
const tenantId = randomUUID();
const clientId = randomUUID();
const clientSecret = 'status-test-secret';
const odata = { Accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0' };
const contactId = '00000000-0000-4000-8000-00000000c001';
const leadId = '00000000-0000-4000-8000-00000000l001'.replace('l', 'a');

describe('Dataverse statecode and statuscode, raw HTTP from the table references', () => {
  let sandbox: RunningSandbox<DynamicsStore>;
  let control: SandboxClient;
  let headers: Record<string, string>;
  const api = (path: string) => `${sandbox.url}/api/data/v9.2/${path}`;

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
    const { access_token } = (await answer.json()) as { access_token: string };
    headers = { ...odata, Authorization: `Bearer ${access_token}`, 'Content-Type': 'application/json' };
    await control.seed({
      contacts: [{ contactid: contactId, lastname: 'Status', emailaddress1: 'status@example.com' }],
      leads: [{ leadid: leadId, lastname: 'Status', emailaddress1: 'status@example.com' }],
    });
  });

  const patch = (path: string, body: unknown) =>
    fetch(api(path), {
      method: 'PATCH',
      headers: { ...headers, 'If-Match': '*' },
      body: JSON.stringify(body),
    });
  const read = async (path: string, select: string) =>
    (await (await fetch(api(`${path}?$select=${select}`), { headers })).json()) as Record<string, unknown>;

  it('creates rows active (contact 0/1, lead Open/New) and deactivates them with a state-only PATCH', async () => {
    expect(await read(`contacts(${contactId})`, 'statecode,statuscode')).toMatchObject({
      statecode: 0,
      statuscode: 1,
    });
    expect(await read(`leads(${leadId})`, 'statecode,statuscode')).toMatchObject({
      statecode: 0,
      statuscode: 1,
    });

    expect((await patch(`contacts(${contactId})`, { statecode: 1, statuscode: 2 })).status).toBe(204);
    expect((await patch(`leads(${leadId})`, { statecode: 2, statuscode: 5 })).status).toBe(204);
    expect(await read(`contacts(${contactId})`, 'statecode,statuscode')).toMatchObject({
      statecode: 1,
      statuscode: 2,
    });
    expect(await read(`leads(${leadId})`, 'statecode,statuscode')).toMatchObject({
      statecode: 2,
      statuscode: 5,
    });
  });

  it('refuses a status reason that does not belong to the state with 400, and changes nothing', async () => {
    const wrong = await patch(`contacts(${contactId})`, { statecode: 1, statuscode: 1 });
    expect(wrong.status).toBe(400);
    const { error } = (await wrong.json()) as { error: { code: string; message: string } };
    expect(error.message).toBe(
      `1 is not a valid status code for state code ContactState.Inactive on contact with Id ${contactId}.`,
    );
    const lead = await patch(`leads(${leadId})`, { statecode: 2, statuscode: 3 });
    expect(lead.status).toBe(400);
    expect(await read(`contacts(${contactId})`, 'statecode,statuscode')).toMatchObject({
      statecode: 0,
      statuscode: 1,
    });
    expect((await patch(`leads(${leadId})`, { statecode: 9 })).status).toBe(400);
  });

  it('gives a state set alone its default reason, and moves a reason set alone to its state', async () => {
    expect((await patch(`contacts(${contactId})`, { statecode: 1 })).status).toBe(204);
    expect(await read(`contacts(${contactId})`, 'statecode,statuscode')).toMatchObject({
      statecode: 1,
      statuscode: 2,
    });
    expect((await patch(`leads(${leadId})`, { statuscode: 7 })).status).toBe(204);
    expect(await read(`leads(${leadId})`, 'statecode,statuscode')).toMatchObject({
      statecode: 2,
      statuscode: 7,
    });
  });

  it('has donotbulkpostalmail on contacts only: a lead answers 400 for it', async () => {
    expect((await patch(`contacts(${contactId})`, { donotbulkpostalmail: true })).status).toBe(204);
    expect(await read(`contacts(${contactId})`, 'donotbulkpostalmail')).toMatchObject({
      donotbulkpostalmail: true,
    });
    const lead = await fetch(api(`leads(${leadId})?$select=donotbulkpostalmail`), { headers });
    expect(lead.status).toBe(400);
    expect((await patch(`leads(${leadId})`, { donotbulkpostalmail: true })).status).toBe(400);
  });
});
