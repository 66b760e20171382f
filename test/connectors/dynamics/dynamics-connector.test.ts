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

describe('Dynamics connector literals, deletes and consent', () => {
  let fx: DynamicsFixture;

  beforeAll(async () => {
    fx = await startDynamicsFixture();
  });
  afterAll(() => fx.sandbox.close());
  beforeEach(() => fx.control.reset());

  it("matches an email with a single quote exactly and finds nothing for an injection like x' or 1 eq 1 or 'a", async () => {
    await fx.control.seed({
      contacts: [{ emailaddress1: "o'brien@example.com" }, { emailaddress1: 'obrien@example.com' }],
      leads: [{ emailaddress1: 'x@example.com' }],
    });
    const connector = fx.connector();
    const quoted = await connector.find(subject("o'brien@example.com"));
    expect(quoted.records).toHaveLength(1);
    const injected = await connector.find(subject("x' or 1 eq 1 or 'a"));
    expect(injected.records).toEqual([]);
    const state = await fx.control.state<{ contacts: unknown[]; leads: unknown[] }>();
    expect(state.contacts).toHaveLength(2);
  });

  it('keeps &, + and # in an address as part of the literal', async () => {
    await fx.control.seed({
      contacts: [{ emailaddress1: 'a+b&c#d@example.com' }, { emailaddress1: 'a b@example.com' }],
    });
    const found = await fx.connector().find(subject('a+b&c#d@example.com'));
    expect(found.records).toHaveLength(1);
  });

  it('erases every row and reports the deleted ids; erasing again reports not_found', async () => {
    await fx.control.seed({
      contacts: [{ emailaddress1: 'ada@example.com' }, { emailaddress1: 'keep@example.com' }],
      leads: [{ emailaddress2: 'ADA@example.com' }],
    });
    const connector = fx.connector();
    const first = await connector.erase(subject('ada@example.com'));
    expect(first.outcome).toBe('erased');
    expect(first.records.map((r) => [r.kind, r.result]).sort()).toEqual([
      ['contact', 'deleted'],
      ['lead', 'deleted'],
    ]);
    const state = await fx.control.state<{ contacts: { contactid: string }[]; leads: unknown[] }>();
    expect(state.leads).toEqual([]);
    expect(state.contacts).toHaveLength(1);
    expect(first.records.map((r) => r.id)).not.toContain(state.contacts[0]?.contactid);
    const second = await connector.erase(subject('ada@example.com'));
    expect(second).toEqual({ outcome: 'not_found', records: [] });
  });

  it('reports already_gone when a row found for deletion was deleted by someone else first', async () => {
    await fx.control.seed({ contacts: [{ emailaddress1: 'race@example.com' }] });
    // Both erasures read the row before either deletes it: one deletes, the other gets Dataverse's 404.
    await fx.control.setLatency(150);
    const [a, b] = await Promise.all([
      fx.connector().erase(subject('race@example.com')),
      fx.connector().erase(subject('race@example.com')),
    ]);
    const results = [...a.records, ...b.records].map((r) => r.result).sort();
    expect(results).toEqual(['already_gone', 'deleted']);
    expect([a.outcome, b.outcome].sort()).toEqual(['erased', 'not_found']);
  });

  it('reads consent per purpose as granted, withdrawn or mixed across all rows', async () => {
    await fx.control.seed({
      contacts: [
        { emailaddress1: 'c@example.com', donotbulkemail: true, donotphone: true, followemail: false },
      ],
      leads: [{ emailaddress1: 'c@example.com', donotbulkemail: true, donotphone: false }],
    });
    const reading = await fx.connector().readConsent(subject('c@example.com'));
    expect(reading.purposes).toEqual({
      marketing_email: 'withdrawn',
      event_invitations: 'withdrawn',
      product_information: 'granted',
      phone: 'mixed',
      postal_mail: 'granted',
      statistics: 'mixed',
    });
    expect(reading.records).toHaveLength(2);
  });

  it('applies a withdrawal with PATCH to every row, then reports already, and never creates rows', async () => {
    await fx.control.seed({
      contacts: [{ emailaddress1: 'p@example.com', donotbulkemail: true }],
      leads: [{ emailaddress3: 'p@example.com' }],
    });
    const connector = fx.connector();
    const change = {
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      hasEvidence: false,
    } as const;
    expect((await connector.applyConsent(subject('p@example.com'), change)).outcome).toBe('applied');
    const state = await fx.control.state<{
      contacts: { donotbulkemail: boolean }[];
      leads: { donotbulkemail: boolean }[];
    }>();
    expect(state.contacts[0]?.donotbulkemail).toBe(true);
    expect(state.leads[0]?.donotbulkemail).toBe(true);
    expect((await connector.applyConsent(subject('p@example.com'), change)).outcome).toBe('already');
    const nobody = await connector.applyConsent(subject('nobody@example.com'), change);
    expect(nobody.outcome).toBe('not_found');
    const after = await fx.control.state<{ contacts: unknown[]; leads: unknown[] }>();
    expect(after.contacts.length + after.leads.length).toBe(2);
  });

  it('withdraws statistics by setting the inverted followemail column to false', async () => {
    await fx.control.seed({ contacts: [{ emailaddress1: 's@example.com' }] });
    const connector = fx.connector();
    const result = await connector.applyConsent(subject('s@example.com'), {
      purpose: 'statistics',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      hasEvidence: false,
    });
    expect(result.outcome).toBe('applied');
    const state = await fx.control.state<{ contacts: { followemail: boolean }[] }>();
    expect(state.contacts[0]?.followemail).toBe(false);
    expect((await connector.readConsent(subject('s@example.com'))).purposes.statistics).toBe('withdrawn');
  });
});
