import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsentStateRequest } from '../../../connectors/connector.js';
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

  const optOut: ConsentStateRequest = {
    decisions: { marketing_email: { decision: 'withdrawn', hasEvidence: false } },
    changed: ['marketing_email'],
  };
  const grant: ConsentStateRequest = {
    decisions: { marketing_email: { decision: 'granted', hasEvidence: true } },
    changed: ['marketing_email'],
  };
  const bulkEmailOf = async (email: string) => {
    const state = (await fixture.control.state()) as Record<
      string,
      { emailaddress1?: string; donotbulkemail?: boolean }[]
    >;
    return [...(state.contacts ?? []), ...(state.leads ?? [])].find((r) => r.emailaddress1 === email)
      ?.donotbulkemail;
  };
  const pairs = [
    ['ida.c@xn--bcher-kva.example', 'ida.c@bücher.example'],
    ['ivo.c@bücher.example', 'ivo.c@xn--bcher-kva.example'],
    ['dot.c@example.com.', 'dot.c@example.com'],
    ['plain.c@example.com', 'plain.c@example.com.'],
    ['upper.c@EXAMPLE.COM', 'upper.c@example.com'],
  ] as const;

  it('opts out and grants again, per person and in bulk, a row typed under another spelling of the mailbox', async () => {
    await fixture.control.seed({
      contacts: pairs.map(([stored], i) => ({
        firstname: 'Spelt',
        lastname: `Row${i}`,
        emailaddress1: stored,
        donotbulkemail: false,
      })),
    });
    const connector = fixture.connector();
    for (const [stored, asked] of pairs) {
      const out = await connector.applyConsentState?.(subject(asked), optOut);
      expect(out?.outcome).toBe('applied');
      expect(await bulkEmailOf(stored)).toBe(true);
      const back = await connector.applyConsentState?.(subject(asked), grant);
      expect(back?.outcome).toBe('applied');
      expect(await bulkEmailOf(stored)).toBe(false);
    }
    const plans =
      (await connector.planConsentBatch?.(
        pairs.map(([, asked], i) => ({ key: `p${i}`, subject: subject(asked), request: optOut })),
      )) ?? [];
    const writes = plans.flatMap((plan) => ('writes' in plan ? plan.writes : []));
    expect(plans.map((plan) => ('writes' in plan ? plan.result.outcome : plan.perPerson))).toEqual(
      pairs.map(() => 'applied'),
    );
    const outcomes = (await connector.writeConsentBatch?.(writes)) ?? [];
    expect(outcomes.map((o) => o.outcome)).toEqual(pairs.map(() => 'applied'));
    for (const [stored] of pairs) expect(await bulkEmailOf(stored)).toBe(true);
  });
});
