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

  const contactAt = (email: string) =>
    [...fixture.sandbox.store.table('contacts').values()].find((row) =>
      ['emailaddress1', 'emailaddress2', 'emailaddress3'].some((c) => row[c] === email),
    );

  it('leaves the new address in one column only when the contact already held it as a second email', async () => {
    const old = 'edsger.twice@example.com';
    const fresh = 'edsger.new@example.com';
    await fixture.control.seed({
      contacts: [{ firstname: 'Edsger', lastname: 'Twice', emailaddress1: old, emailaddress2: fresh }],
    });
    const connector = fixture.connector();
    const own = await connector.planRectification?.(subject(old), fresh, true);
    const done = await connector.rectify?.(subject(old), { email: fresh }, own?.own);

    expect(done?.outcome).toBe('rectified');
    const row = contactAt(fresh);
    expect([row?.emailaddress1, row?.emailaddress2 ?? null]).toEqual([fresh, null]);
    expect(done?.records[0]?.result).toBe('rectified');
    expect(Object.keys(done?.records[0]?.before ?? {}).sort()).toEqual(['emailaddress1', 'emailaddress2']);
  });

  it('leaves the new address in one column when the old one was there in two spellings', async () => {
    const old = 'katherine.spelt@example.com';
    const fresh = 'katherine.new@example.com';
    await fixture.control.seed({
      contacts: [
        { firstname: 'Katherine', lastname: 'Spelt', emailaddress1: old, emailaddress3: old.toUpperCase() },
      ],
    });
    const done = await fixture.connector().rectify?.(subject(old), { email: fresh });

    expect(done?.outcome).toBe('rectified');
    const row = contactAt(fresh);
    expect([row?.emailaddress1, row?.emailaddress3 ?? null]).toEqual([fresh, null]);
  });

  it('keeps a second email that is neither address, and counts a re-run of a moved row as rectified', async () => {
    const old = 'alan.keeps@example.com';
    const fresh = 'alan.new@example.com';
    const other = 'alan.work@example.org';
    await fixture.control.seed({
      contacts: [{ firstname: 'Alan', lastname: 'Keeps', emailaddress1: other, emailaddress2: old }],
    });
    const connector = fixture.connector();
    const own = await connector.planRectification?.(subject(old), fresh, false);
    await connector.rectify?.(subject(old), { email: fresh }, own?.own);
    const row = contactAt(fresh);
    expect([row?.emailaddress1, row?.emailaddress2]).toEqual([other, fresh]);

    const again = await connector.rectify?.(subject(old), { email: fresh }, own?.own);
    expect(again?.records[0]?.result).toBe('rectified');
    expect(Object.keys(again?.records[0]?.before ?? {})).toEqual(['emailaddress2']);
  });
});
