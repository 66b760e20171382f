import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { type SignedInConsole, startSignedInConsole } from '../support/console-session.js';

const email = `Refused.Move.${Date.now()}${randomBytes(2).toString('hex')}@example.org`;

describe("the console's person page shows the person's refused address changes", { timeout: 240_000 }, () => {
  let ledger: SignedInConsole['ledger'];
  let temporal: SignedInConsole['temporal'];
  let page: SignedInConsole['page'];
  let csrfOf: SignedInConsole['csrfOf'];
  let close: SignedInConsole['close'] | undefined;

  beforeAll(async () => {
    ({ ledger, temporal, page, csrfOf, close } = await startSignedInConsole('console-address-refusals'));
  });
  afterAll(() => close?.());

  it('lists an open refusal with its reason, the new key and the id to acknowledge, then as acknowledged; no address in it', async () => {
    const secret = temporal.secrets.subjectKeySecret;
    const subjectKey = subjectKeyFor(email, secret);
    const newSubjectKey = subjectKeyFor(`elsewhere.${randomBytes(3).toString('hex')}@example.org`, secret);
    const id = `mailchimp-webhook:${randomBytes(32).toString('hex')}`;
    await ledger.recordAddressChangeRefusal({
      id,
      subjectKey,
      newSubjectKey,
      source: 'mailchimp:upemail',
      reason: 'address_taken',
      recordedAt: new Date().toISOString(),
    });
    const show = async () => {
      const find = await page('GET', '/console/people');
      return page('POST', '/console/people', { _csrf: csrfOf(find), email });
    };
    const open = await show();
    expect(open).toContain('Refused address changes');
    expect(open).toContain('address taken');
    expect(open).toContain(newSubjectKey);
    expect(open).toContain(id);
    await ledger.resolveAddressChangeRefusal({
      id,
      resolvedAt: new Date().toISOString(),
      resolvedBy: 'ops:ann',
      resolution: 'reverted_in_mailchimp',
    });
    const acknowledged = await show();
    expect(acknowledged).toMatch(/Acknowledged [^<]* by <code>ops:ann<\/code> \(reverted in mailchimp\)/);
  });
});
