import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamicsFixture, startDynamicsFixture, subject } from './dynamics-fixture.js';

/** Issue 21: a person's opt-out costs Dataverse one query per table and one PATCH per row found. */
describe('Dynamics connector: the calls an opt-out makes', () => {
  let fixture: DynamicsFixture;
  beforeAll(async () => {
    fixture = await startDynamicsFixture();
  });
  afterAll(() => fixture.sandbox.close());

  it('finds contacts and leads with one query per table (the Web API has no query across tables) and writes one PATCH per row', async () => {
    const email = 'grace.calls@example.com';
    await fixture.control.seed({
      contacts: [{ firstname: 'Grace', lastname: 'Calls', emailaddress1: email }],
      leads: [{ firstname: 'Grace', lastname: 'Calls', emailaddress2: email }],
    });
    const connector = fixture.connector();
    // The token is fetched once per process; the wave's calls are the ones after it.
    await connector.checkAccess?.();
    await fixture.control.clearRequests();

    const result = await connector.applyConsentState?.(subject(email), {
      decisions: { marketing_email: { decision: 'withdrawn', hasEvidence: false } },
      changed: ['marketing_email'],
    });

    expect(result?.outcome).toBe('applied');
    const log = await fixture.control.requests();
    const calls = log.map((e) => `${e.method} ${e.path.split('?')[0]}`);
    expect(calls.filter((c) => c === 'GET /api/data/v9.2/contacts')).toHaveLength(1);
    expect(calls.filter((c) => c === 'GET /api/data/v9.2/leads')).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith('PATCH '))).toHaveLength(2);
    expect(log).toHaveLength(4);
  });
});
