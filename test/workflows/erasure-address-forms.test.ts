import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { awaitReceipt, type HubClientContext, requestErasure } from '../../hub-client/erasures.js';
import { GrantRefusedAfterErasure } from '../../hub-client/request-errors.js';
import { canonicalKeyLink, subjectKeyFor } from '../../privacy/subject-key.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

const listId = 'address-forms-news';
let counter = 0;
const unique = () => `${Date.now().toString(36)}${counter++}`;
const request = (email: string) => ({ email, requestedBy: 'test', requestedAt: new Date().toISOString() });

/**
 * Addresses as vendors and older versions of the hub hold them: stray dots in the local part, a domain as
 * IDN or punycode, with or without the DNS root's dot. Each is erasable, and each spelling is one person.
 */
describe('erasure and consent across the spellings of one mailbox', { timeout: 120_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext & ConsentClientContext;
  let secret: string;
  /** The key versions before the canonical form gave an address: the HMAC of its normalised spelling. */
  const olderKey = (normalised: string) =>
    createHmac('sha256', secret).update(normalised, 'utf8').digest('hex');

  beforeAll(async () => {
    hub = await startHubWithVendors('address-forms');
    context = {
      ...hub.temporal.context(),
      timings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes', heartbeatTimeout: '10 seconds' },
    };
    secret = hub.temporal.secrets.subjectKeySecret;
    await hub.vendors.mailchimp.control.seed({ lists: [{ id: listId, name: 'News', members: [] }] });
  });
  afterAll(async () => {
    await hub?.close();
  });

  /** What an older version left in the ledger for a person: a tombstone and one consent event. */
  const plantOlderRows = async (key: string) => {
    const firstRequestId = `older-erasure-${unique()}`;
    await hub.ledger.appendConsentEvent({
      id: randomUUID(),
      subjectKey: key,
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: '2026-01-05T10:00:00.000Z',
      recordedAt: '2026-01-05T10:00:01.000Z',
      source: 'form:signup',
      evidence: { channel: 'web' },
    });
    await hub.ledger.recordTombstone({
      subjectKey: key,
      erasedAt: '2026-01-06T10:00:00.000Z',
      systems: ['dynamics', 'mailchimp', 'google'],
      firstRequestId,
      lastRequestId: firstRequestId,
    });
    return firstRequestId;
  };

  it('erases and opts out addresses with stray dots in the local part that the CRM and Mailchimp hold', async () => {
    for (const email of [`taro..${unique()}.@docomo.ne.jp`, `.hana${unique()}@example.jp`]) {
      await hub.vendors.dynamics.control.seed({
        contacts: [{ firstname: 'Ta', lastname: 'Ro', emailaddress1: email }],
      });
      await hub.vendors.mailchimp.control.seed({
        lists: [{ id: listId, name: 'News', members: [{ email_address: email, status: 'subscribed' }] }],
      });
      const optOut = await recordConsentChange(
        context,
        {
          email,
          purpose: 'marketing_email',
          decision: 'withdrawn',
          occurredAt: new Date().toISOString(),
          source: 'cli',
        },
        undefined,
        { ledger: hub.ledger },
      );
      expect(optOut.subjectKey).toBe(subjectKeyFor(email, secret));
      const receipt = await awaitReceipt(context, await requestErasure(context, request(email)));
      expect(receipt.outcome).toBe('completed');
      expect(receipt.systems.dynamics.status).toBe('erased');
      expect(receipt.systems.mailchimp.status).toBe('erased');
      expect(JSON.stringify(receipt)).not.toContain(email);
    }
  });

  it('erasure by the punycode form finds the tombstone and consent evidence an older version kept under the IDN form, and vice versa', async () => {
    // Older versions keyed each spelling apart. The IDN spelling's older key is the canonical key.
    const idn = `ada${unique()}@bücher.example`;
    const first = await plantOlderRows(olderKey(idn));
    const byPunycode = await awaitReceipt(
      context,
      await requestErasure(context, request(idn.replace('bücher', 'xn--bcher-kva'))),
    );
    expect(byPunycode.subjectKey).toBe(olderKey(idn));
    expect(byPunycode.reErasureOf).toBe(first);
    expect(await hub.ledger.listConsentEvents(olderKey(idn))).toEqual([]);

    // The punycode spelling's older key is a legacy key: its rows move to the canonical key.
    const punycode = `bob${unique()}@xn--bcher-kva.example`;
    const legacy = olderKey(punycode);
    const second = await plantOlderRows(legacy);
    const byIdn = await awaitReceipt(
      context,
      await requestErasure(context, request(punycode.replace('xn--bcher-kva', 'bücher'))),
    );
    expect(byIdn.subjectKey).toBe(subjectKeyFor(punycode, secret));
    expect(byIdn.subjectKey).not.toBe(legacy);
    expect(byIdn.reErasureOf).toBe(second);
    expect(await hub.ledger.getTombstone(legacy)).toBeUndefined();
    expect(await hub.ledger.listConsentEvents(legacy)).toEqual([]);
    expect(await hub.ledger.listConsentEvents(byIdn.subjectKey)).toEqual([]);
    expect(await hub.ledger.getSubjectLink(legacy)).toMatchObject({
      to: byIdn.subjectKey,
      requestId: canonicalKeyLink,
    });
  });

  it('erasure without the root dot finds what was kept under the root-dot spelling, and with it what was kept without', async () => {
    const dotted = `carol${unique()}@example.com.`;
    const first = await plantOlderRows(olderKey(dotted));
    const plain = await awaitReceipt(context, await requestErasure(context, request(dotted.slice(0, -1))));
    expect(plain.reErasureOf).toBe(first);
    expect(await hub.ledger.getTombstone(olderKey(dotted))).toBeUndefined();
    expect(await hub.ledger.listConsentEvents(olderKey(dotted))).toEqual([]);

    const undotted = `dave${unique()}@example.com`;
    const second = await plantOlderRows(olderKey(undotted));
    const withDot = await awaitReceipt(context, await requestErasure(context, request(`${undotted}.`)));
    expect(withDot.subjectKey).toBe(olderKey(undotted));
    expect(withDot.reErasureOf).toBe(second);
  });

  it('refuses a grant under one spelling for a person whose tombstone is under another', async () => {
    const grant = (email: string) =>
      recordConsentChange(
        context,
        {
          email,
          purpose: 'marketing_email',
          decision: 'granted',
          occurredAt: new Date().toISOString(),
          source: 'form:signup',
          evidence: { policyVersion: 'privacy-2026-01', formId: 'signup', channel: 'web', requestRef: 'r-1' },
        },
        undefined,
        { ledger: hub.ledger },
      );
    const punycode = `erin${unique()}@xn--bcher-kva.example`;
    await plantOlderRows(olderKey(punycode));
    await expect(grant(punycode.replace('xn--bcher-kva', 'bücher'))).rejects.toBeInstanceOf(
      GrantRefusedAfterErasure,
    );
    const dotted = `frank${unique()}@example.com.`;
    await plantOlderRows(olderKey(dotted));
    await expect(grant(dotted.slice(0, -1))).rejects.toBeInstanceOf(GrantRefusedAfterErasure);
    // A tombstone written now, under one spelling, is under the key of every spelling.
    const idn = `gina${unique()}@bücher.example`;
    await plantOlderRows(subjectKeyFor(`${idn}.`, secret));
    await expect(grant(idn.replace('bücher', 'xn--bcher-kva'))).rejects.toBeInstanceOf(
      GrantRefusedAfterErasure,
    );
  });
});
