import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureReceipt } from '../../domain/erasure.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { type SignedInConsole, startSignedInConsole } from '../support/console-session.js';

/**
 * Issue 18's console leftovers: an open refused address change has an acknowledge form on the person's page
 * (CSRF-checked, the API's resolution codes, the console operator recorded), and an erasure receipt's page
 * shows its `movedRecords` with how each moved-records erasure stands now.
 */
describe('the console acknowledges refused address changes and shows moved records', {
  timeout: 240_000,
}, () => {
  let console: SignedInConsole;

  beforeAll(async () => {
    console = await startSignedInConsole('console-acknowledge-moved');
  });
  afterAll(() => console?.close());

  const refusal = async (subjectKey: string) => {
    const id = `mailchimp-webhook:${randomBytes(32).toString('hex')}`;
    await console.ledger.recordAddressChangeRefusal({
      id,
      subjectKey,
      newSubjectKey: subjectKeyFor(`elsewhere.${randomBytes(3).toString('hex')}@example.org`, secret()),
      source: 'mailchimp:upemail',
      reason: 'address_taken',
      recordedAt: new Date().toISOString(),
    });
    return id;
  };
  const secret = () => console.temporal.secrets.subjectKeySecret;
  const personPage = async (email: string) => {
    const find = await console.page('GET', '/console/people');
    return console.page('POST', '/console/people', { _csrf: console.csrfOf(find), email });
  };
  const acknowledge = (page: string, fields: Record<string, string>) =>
    console.respond('POST', '/console/people/address-change-refusals/acknowledge', {
      _csrf: console.csrfOf(page),
      ...fields,
    });

  it('acknowledges an open refusal from the person page, records the console operator, and refuses a second one with 409', async () => {
    const email = `ack.${Date.now()}${randomBytes(2).toString('hex')}@example.org`;
    const id = await refusal(subjectKeyFor(email, secret()));
    const open = await personPage(email);
    expect(open).toContain('action="/console/people/address-change-refusals/acknowledge"');
    expect(open).toContain(`name="id" value="${id}"`);
    expect(open).toContain('<option value="aligned_manually">aligned manually</option>');

    const done = await acknowledge(open, { email, id, resolution: 'aligned_manually' });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('The refused address change is acknowledged');
    const stored = await console.ledger.getAddressChangeRefusal(id);
    expect(stored?.resolution).toBe('aligned_manually');
    expect(stored?.resolvedBy).toMatch(/^console:/);
    expect(done.body).toContain(`by <code>${stored?.resolvedBy}</code> (aligned manually)`);
    expect(done.body).not.toContain(`name="id" value="${id}"`);

    const again = await acknowledge(open, { email, id, resolution: 'other' });
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain(`was acknowledged already, by ${stored?.resolvedBy}`);
    expect((await console.ledger.getAddressChangeRefusal(id))?.resolution).toBe('aligned_manually');
  });

  it('refuses an unknown resolution (400) and a form without its CSRF token, acknowledging nothing', async () => {
    const email = `ack.bad.${Date.now()}${randomBytes(2).toString('hex')}@example.org`;
    const id = await refusal(subjectKeyFor(email, secret()));
    const open = await personPage(email);
    const bad = await acknowledge(open, { email, id, resolution: 'intake_retry_succeeded' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('Nothing was sent.');
    const forged = await console.respond('POST', '/console/people/address-change-refusals/acknowledge', {
      email,
      id,
      resolution: 'other',
    });
    expect(forged.statusCode).toBeGreaterThanOrEqual(400);
    expect((await console.ledger.getAddressChangeRefusal(id))?.resolvedAt).toBeUndefined();
    const unknown = await acknowledge(open, {
      email,
      id: `mailchimp-webhook:${randomBytes(32).toString('hex')}`,
      resolution: 'other',
    });
    expect(unknown.statusCode).toBe(404);
  });

  it("answers another person's refusal posted from this person's page as unknown (404), leaving it open", async () => {
    const email = `ack.mine.${Date.now()}${randomBytes(2).toString('hex')}@example.org`;
    const otherEmail = `ack.theirs.${Date.now()}${randomBytes(2).toString('hex')}@example.org`;
    await refusal(subjectKeyFor(email, secret()));
    const theirs = await refusal(subjectKeyFor(otherEmail, secret()));
    const open = await personPage(email);
    expect(open).not.toContain(`name="id" value="${theirs}"`);
    const crossed = await acknowledge(open, { email, id: theirs, resolution: 'accepted_as_is' });
    expect(crossed.statusCode).toBe(404);
    expect((await console.ledger.getAddressChangeRefusal(theirs))?.resolvedAt).toBeUndefined();
    // From its own person's page it is acknowledged as usual.
    const own = await personPage(otherEmail);
    const done = await acknowledge(own, { email: otherEmail, id: theirs, resolution: 'accepted_as_is' });
    expect(done.statusCode).toBe(200);
    expect((await console.ledger.getAddressChangeRefusal(theirs))?.resolution).toBe('accepted_as_is');
  });

  it("shows an erasure receipt's moved records: the other key, the systems, the rectification and the erasure with its state now", async () => {
    const subjectKey = subjectKeyFor(`moved.${Date.now()}@example.org`, secret());
    const otherKey = subjectKeyFor(`moved.other.${Date.now()}@example.org`, secret());
    const heldKey = subjectKeyFor(`moved.held.${Date.now()}@example.org`, secret());
    const rectificationRequestId = randomUUID();
    const movedErasureId = randomUUID();
    const none = { status: 'not_found', attempts: 1, records: [] };
    const receipt = {
      requestId: randomUUID(),
      subjectKey,
      reason: 'subject_request',
      requestedBy: 'ops:test',
      requestedAt: new Date().toISOString(),
      completedAt: new Date().toISOString(),
      outcome: 'completed',
      systems: { dynamics: none, mailchimp: none, google: none },
      movedRecords: [
        {
          subjectKey: otherKey,
          rectificationRequestId,
          systems: ['dynamics'],
          erasureRequestId: movedErasureId,
        },
        {
          subjectKey: heldKey,
          rectificationRequestId,
          systems: ['mailchimp'],
          note: 'the person is on legal hold, so the other address was not erased with this one',
        },
      ],
    } as unknown as ErasureReceipt;
    await console.ledger.recordReceipt(receipt);
    const page = await console.page('GET', `/console/receipts/${receipt.requestId}`);
    expect(page).toContain('<h2>Moved records</h2>');
    expect(page).toContain(otherKey);
    expect(page).toContain(heldKey);
    expect(page).toContain(`href="/console/requests/${rectificationRequestId}"`);
    // Temporal never ran this erasure: the page says it cannot be read, never that it erased anything.
    expect(page).toContain(`href="/console/requests/${movedErasureId}"`);
    expect(page).toContain('(now: not found in Temporal)');
    expect(page).toContain('the person is on legal hold, so the other address was not erased with this one');
  });
});
