import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamicsStore, dynamicsSandbox } from '../../../sandboxes/dynamics/sandbox.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/**
 * Dataverse computes `fullname` from `firstname` and `lastname`: the contact and lead table references
 * (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact and .../lead) list
 * FullName among the read-only columns, "Combines and shows the contact's first and last names so that the
 * full name can be displayed in views and reports". Raw HTTP, as the Web API's update page writes a PATCH
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api).
 */
const tenantId = randomUUID();
const clientId = randomUUID();
const clientSecret = 'fullname-test-secret';
const odata = { Accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0' };

describe('Dataverse sandbox: fullname follows firstname and lastname', () => {
  let sandbox: RunningSandbox<DynamicsStore>;
  let headers: Record<string, string>;
  const api = (path: string) => `${sandbox.url}/api/data/v9.2/${path}`;

  beforeAll(async () => {
    sandbox = await startTestSandbox(dynamicsSandbox, { tenantId, clientId, clientSecret });
    await new SandboxClient(sandbox.url).reset();
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
  });
  afterAll(() => sandbox.close());

  const fullnameOf = async (set: string, id: string) => {
    const answer = await fetch(api(`${set}(${id})?$select=fullname,firstname,lastname`), { headers });
    expect(answer.status).toBe(200);
    return ((await answer.json()) as { fullname: string | null }).fullname;
  };

  for (const set of ['contacts', 'leads']) {
    it(`recomputes a ${set.slice(0, -1)}'s fullname on create and on a PATCH of either name`, async () => {
      const id = randomUUID();
      const idColumn = set === 'contacts' ? 'contactid' : 'leadid';
      const created = await fetch(api(set), {
        method: 'POST',
        headers,
        body: JSON.stringify({ [idColumn]: id, firstname: 'Grete', lastname: 'Byron' }),
      });
      expect(created.status).toBe(204);
      expect(await fullnameOf(set, id)).toBe('Grete Byron');

      const patch = (body: Record<string, unknown>) =>
        fetch(api(`${set}(${id})`), { method: 'PATCH', headers, body: JSON.stringify(body) });
      expect((await patch({ firstname: 'Augusta' })).status).toBe(204);
      expect(await fullnameOf(set, id)).toBe('Augusta Byron');
      expect((await patch({ lastname: 'King' })).status).toBe(204);
      expect(await fullnameOf(set, id)).toBe('Augusta King');
      // A write of another column leaves it as it is.
      expect((await patch({ jobtitle: 'Analyst' })).status).toBe(204);
      expect(await fullnameOf(set, id)).toBe('Augusta King');
    });
  }
});
