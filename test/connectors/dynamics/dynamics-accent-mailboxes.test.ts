import { beforeEach, describe, expect, it } from 'vitest';
import {
  bulkOptOut,
  type DynamicsFixture,
  rowId as id,
  planBulkRead,
  plannedRows as rowsOf,
  subject,
  withDynamicsFixture,
} from './dynamics-fixture.js';

/**
 * Dataverse compares text by the environment's collation, and an English environment's is `_CI_AI`
 * (learn.microsoft.com/power-platform/admin/language-collations): a query for `jose@example.com` also finds
 * `josé@example.com`. Those are two mailboxes and two people, so the rows a query returns are a person's
 * only when an email column holds their mailbox in some spelling (case, composed or decomposed accents, IDNA
 * or Unicode domain): for one person's find, erasure and opt-out, and for a bulk opt-out's grouped `In`.
 */
const optOut = (email: string) => bulkOptOut(email);

describe('Dynamics connector: addresses that differ only in accents are different people', () => {
  let fixture: DynamicsFixture;
  withDynamicsFixture((started) => {
    fixture = started;
  });

  beforeEach(async () => {
    await fixture.control.seed({
      contacts: [
        { contactid: id(1), emailaddress1: 'jose@example.com', donotbulkemail: false },
        { contactid: id(2), emailaddress1: 'josé@example.com', donotbulkemail: false },
        // The same mailbox as id(2), its é decomposed (e + U+0301) and in capitals, in another column.
        { contactid: id(3), emailaddress2: 'JOSE\u0301@EXAMPLE.COM', donotbulkemail: false },
        // The same mailbox as id(2) with its domain in IDNA spelling and the root's dot.
        { contactid: id(4), emailaddress3: 'josé@xn--bcher-kva.example.', donotbulkemail: false },
      ],
      leads: [{ leadid: id(5), emailaddress1: 'JOSÉ@example.com', donotbulkemail: false }],
    });
  });

  it("finds only the person's own rows, not those of an address differing in accents", async () => {
    const connector = fixture.connector();
    const jose = await connector.find(subject('jose@example.com'));
    expect(jose.records.map((r) => `${r.kind}:${r.id}`)).toEqual([`contact:${id(1)}`]);
    const josé = await connector.find(subject('josé@example.com'));
    expect(josé.records.map((r) => `${r.kind}:${r.id}`).sort()).toEqual([
      `contact:${id(2)}`,
      `contact:${id(3)}`,
      `lead:${id(5)}`,
    ]);
    const idn = await connector.find(subject('josé@bücher.example'));
    expect(idn.records.map((r) => `${r.kind}:${r.id}`)).toEqual([`contact:${id(4)}`]);
  });

  it('erases only the rows of the mailbox asked for; the other person keeps theirs', async () => {
    const result = await fixture.connector().erase(subject('jose@example.com'));
    expect(result.records.map((r) => r.id)).toEqual([id(1)]);
    const left = await fixture.connector().find(subject('josé@example.com'));
    expect(left.records).toHaveLength(3);
  });

  it('opts out one person alone without touching the row of an address differing in accents', async () => {
    await fixture.connector().applyConsentState(subject('jose@example.com'), optOut('x').request);
    const state = await fixture.control.state<{
      contacts: { contactid: string; donotbulkemail: boolean }[];
    }>();
    const opted = state.contacts.filter((row) => row.donotbulkemail).map((row) => row.contactid);
    expect(opted).toEqual([id(1)]);
  });

  it('gives each person of a bulk read their own rows, matching composed, decomposed and IDNA spellings', async () => {
    const people = [optOut('jose@example.com'), optOut('josé@example.com'), optOut('josé@bücher.example')];
    const plans = await planBulkRead(fixture, people);
    const byKey = new Map(plans.map((plan) => [plan.key, plan]));
    expect(rowsOf(byKey.get('jose@example.com'))).toEqual([`contact:${id(1)}`]);
    expect(rowsOf(byKey.get('josé@example.com'))).toEqual([
      `contact:${id(2)}`,
      `contact:${id(3)}`,
      `lead:${id(5)}`,
    ]);
    expect(rowsOf(byKey.get('josé@bücher.example'))).toEqual([`contact:${id(4)}`]);
    // Alone in a bulk read, the accent-free address still gets only its own row.
    const alone = await planBulkRead(fixture, [optOut('jose@example.com')]);
    expect(rowsOf(alone[0])).toEqual([`contact:${id(1)}`]);
  });
});
