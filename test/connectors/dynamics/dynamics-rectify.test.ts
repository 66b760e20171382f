import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonRetryableVendorError } from '../../../connectors/connector-errors.js';
import { type DynamicsFixture, startDynamicsFixture, subject } from './dynamics-fixture.js';

/**
 * Issue 18: Dataverse lets two rows share an address, so a rectification to an address another contact or
 * lead already holds would make two people one. The connector refuses it before any write.
 */
describe('Dynamics connector: rectifying an email', () => {
  let fixture: DynamicsFixture;
  beforeAll(async () => {
    fixture = await startDynamicsFixture();
  });
  afterAll(() => fixture.sandbox.close());

  it("refuses, writing nothing, an address another contact or lead already holds, and names that person's row by id only", async () => {
    const katherine = 'katherine.rectify@example.com';
    const ada = 'ada.rectify@example.com';
    await fixture.control.seed({
      contacts: [{ firstname: 'Katherine', lastname: 'Rectify', emailaddress1: katherine }],
      leads: [{ firstname: 'Ada', lastname: 'Rectify', emailaddress2: ada }],
    });
    const connector = fixture.connector();
    await fixture.control.clearRequests();

    const refused = await connector.rectify?.(subject(katherine), { email: ada }).catch((error) => error);

    expect(refused).toBeInstanceOf(NonRetryableVendorError);
    expect((refused as Error).message).toMatch(
      /already held by 1 other Dynamics record\(s\) \(lead [0-9a-f-]+\)/,
    );
    expect((refused as Error).message).not.toContain('rectify@');
    // The token request is Entra's POST; Dataverse saw reads only.
    const writes = (await fixture.control.requests()).filter(
      (e) => e.path.startsWith('/api/data') && e.method !== 'GET',
    );
    expect(writes).toEqual([]);
  });

  it('rectifies when only the person holds the new address already (one of their own rows), and when nobody does', async () => {
    const old = 'grace.rectify@example.com';
    const fresh = 'grace.rectified@example.com';
    await fixture.control.seed({
      contacts: [{ firstname: 'Grace', lastname: 'Rectify', emailaddress1: old, emailaddress2: fresh }],
    });
    const connector = fixture.connector();
    const done = await connector.rectify?.(subject(old), { email: fresh, lastname: 'Hopper' });
    expect(done?.outcome).toBe('rectified');

    const nobody = 'alan.rectify@example.com';
    await fixture.control.seed({
      leads: [{ firstname: 'Alan', lastname: 'Rectify', emailaddress1: nobody }],
    });
    const moved = await connector.rectify?.(subject(nobody), { email: 'alan.rectified@example.com' });
    expect(moved?.outcome).toBe('rectified');
  });
});
