import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestErasure } from '../../hub-client/erasures.js';
import { type SignedInConsole, startSignedInConsole } from '../support/console-session.js';

const email = `Title.Check.${Date.now()}${randomBytes(2).toString('hex')}@Example.org`;
const firstName = 'Wilhelmina';
const lastName = 'Titlehide';
const needles = [email, email.toLowerCase(), email.split('@')[0] ?? email, firstName, lastName];

/** The page's title and headings: what a browser's tab, history, bookmarks and screen readers keep. */
function titlesOf(html: string): string[] {
  return [...html.matchAll(/<(title|h1|h2|h3)\b[^>]*>([\s\S]*?)<\/\1>/gi)].map((match) => match[2] ?? '');
}

/**
 * The console never puts the person in a page's title or headings (a tab title lands in browser history
 * and window lists): the person page (answered to a POST, so the address is in no URL either) and the
 * request and receipt pages of an erasure of someone whose CRM name the hub harvested.
 */
describe('console page titles and headings name no one', { timeout: 240_000 }, () => {
  let ledger: SignedInConsole['ledger'];
  let temporal: SignedInConsole['temporal'];
  let vendors: SignedInConsole['vendors'];
  let page: SignedInConsole['page'];
  let csrfOf: SignedInConsole['csrfOf'];
  let close: SignedInConsole['close'] | undefined;

  beforeAll(async () => {
    ({ ledger, temporal, vendors, page, csrfOf, close } = await startSignedInConsole('console-titles'));
  });
  afterAll(() => close?.());
  const expectNoOneIn = (html: string) => {
    const titles = titlesOf(html);
    expect(titles.length).toBeGreaterThanOrEqual(2);
    for (const title of titles)
      for (const needle of needles) expect(title.toLowerCase()).not.toContain(needle.toLowerCase());
  };

  it('keeps the address and the CRM name out of the person, request and receipt pages’ titles and headings', async () => {
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: firstName, lastname: lastName, emailaddress1: email.toLowerCase() }],
    });
    const started = await requestErasure(temporal.context(), {
      email,
      requestedBy: 'privacy-inbox#7',
      requestedAt: new Date().toISOString(),
    });
    // Done once its receipt is in the ledger (read there: no query races the workflow's first task).
    let receipt = await ledger.getReceipt(started.requestId);
    for (let i = 0; i < 480 && !receipt; i++) {
      await delay(250);
      receipt = await ledger.getReceipt(started.requestId);
    }
    expect(receipt?.requestId).toBe(started.requestId);

    const find = await page('GET', '/console/people');
    const person = await page('POST', '/console/people', { _csrf: csrfOf(find), email });
    // The page is the person's (the body shows whom the operator looked up); only its title and headings
    // must not.
    expect(person).toContain(email.toLowerCase());
    expectNoOneIn(person);

    const request = await page('GET', `/console/requests/${started.requestId}`);
    expect(request).toContain(started.requestId);
    expectNoOneIn(request);
    const receiptPage = await page('GET', `/console/receipts/${started.requestId}`);
    expect(receiptPage).toContain(started.requestId);
    expectNoOneIn(receiptPage);
    // The check can fail: a heading that held the name would be caught.
    expect(() => expectNoOneIn(`<title>x</title><h1>Person ${lastName}</h1>`)).toThrow();
  });
});
