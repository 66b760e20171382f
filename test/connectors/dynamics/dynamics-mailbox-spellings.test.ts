import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamicsFixture, startDynamicsFixture, subject } from './dynamics-fixture.js';

/**
 * Issue 15: the hub's one person is every spelling of their mailbox (an IDN domain as Unicode or `xn--`,
 * with or without the root's dot), so a row a CRM holds under one spelling is found by a request in another;
 * else the system would report `not_found` while the person's data stays.
 */
describe('Dynamics connector: one mailbox, any spelling the CRM holds', () => {
  let fixture: DynamicsFixture;
  beforeAll(async () => {
    fixture = await startDynamicsFixture();
  });
  afterAll(() => fixture.sandbox.close());

  it('erases a contact held under the Unicode domain when asked by the punycode spelling, and the reverse', async () => {
    await fixture.control.seed({
      contacts: [{ firstname: 'Ida', lastname: 'Unicode', emailaddress1: 'ida@bücher.example' }],
      leads: [{ firstname: 'Ivo', lastname: 'Ascii', emailaddress2: 'ivo@xn--bcher-kva.example' }],
    });
    const connector = fixture.connector();

    const ida = await connector.erase(subject('ida@xn--bcher-kva.example'));
    expect(ida.outcome).toBe('erased');
    expect(ida.records).toHaveLength(1);
    const ivo = await connector.erase(subject('ivo@bücher.example'));
    expect(ivo.outcome).toBe('erased');
    expect(ivo.records).toHaveLength(1);
  });

  it('finds a row typed with the root dot when asked without it, and one typed without it when asked with it', async () => {
    await fixture.control.seed({
      contacts: [
        { firstname: 'Dot', lastname: 'Typed', emailaddress1: 'dot.typed@example.com.' },
        { firstname: 'Plain', lastname: 'Typed', emailaddress3: 'plain.typed@example.com' },
      ],
    });
    const connector = fixture.connector();
    expect((await connector.erase(subject('dot.typed@example.com'))).outcome).toBe('erased');
    expect((await connector.erase(subject('plain.typed@example.com.'))).outcome).toBe('erased');
  });
});
