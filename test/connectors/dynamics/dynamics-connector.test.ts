import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DynamicsFixture, startDynamicsFixture, subject } from './dynamics-fixture.js';

describe('Dynamics connector find and erase', () => {
  let fx: DynamicsFixture;

  beforeAll(async () => {
    fx = await startDynamicsFixture();
  });
  afterAll(() => fx.sandbox.close());
  beforeEach(() => fx.control.reset());

  it('finds a person as one contact and one lead through different email columns and letter case, across pages', async () => {
    const others = Array.from({ length: 5 }, (_, i) => ({ emailaddress1: `other${i}@example.com` }));
    await fx.control.seed({
      contacts: [
        ...others,
        { emailaddress2: 'Grace.Hopper@Example.com', new_gaclientid: '111.222' },
        ...others,
      ],
      leads: [{ emailaddress3: 'GRACE.HOPPER@EXAMPLE.COM', new_gaclientid: '333.444' }, ...others],
    });
    const connector = fx.connector({ DYNAMICS_PAGE_SIZE: '1' });
    // Two matching contacts so that the contact query needs more than one page.
    await fx.control.seed({ contacts: [{ emailaddress1: 'grace.hopper@example.com' }] });
    const found = await connector.find(subject('grace.hopper@example.com'));
    expect(found.records.map((r) => r.kind).sort()).toEqual(['contact', 'contact', 'lead']);
    expect(found.gaClientIds.sort()).toEqual(['111.222', '333.444']);
    expect(JSON.stringify(found.records)).not.toContain('@');
    const log = await fx.control.requests();
    expect(log.filter((e) => e.path === '/api/data/v9.2/contacts').length).toBeGreaterThan(1);
  });
});
