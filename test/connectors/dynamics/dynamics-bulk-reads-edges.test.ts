import { describe, expect, it } from 'vitest';
import { RetryableVendorError } from '../../../connectors/connector-errors.js';
import {
  bulkOptOut,
  contactRows,
  type DynamicsFixture,
  rowId as id,
  planBulkRead,
  plannedRows as rowsOf,
  withDynamicsFixture,
} from './dynamics-fixture.js';

/**
 * Issue 21's grouped Dataverse reads at their edges: addresses with characters a URL or an OData string
 * literal must escape (`'`, `&`, `#`, `+`, `%`), a group whose answer comes in several pages
 * (`@odata.nextLink`), and a group whose read is throttled or unavailable (the plan is retried after Dataverse's
 * Retry-After, nobody handed off into the same throttle), and one refused for good (its people go to their
 * own route with a reason, never an empty "nothing found").
 */
const optOut = (email: string) => bulkOptOut(email);

describe('Dynamics connector: grouped reads at their edges', () => {
  let fixture: DynamicsFixture;
  withDynamicsFixture((started) => {
    fixture = started;
  });

  it("matches addresses holding ' & # + % ? / back to their people", async () => {
    const odd = [
      "o'brien@example.com",
      "o''neil@example.com",
      'a+b&c#d%25e@example.com',
      'what?/x@example.com',
      '"quoted local"@example.com',
    ];
    await fixture.control.seed({
      contacts: [
        ...contactRows(odd),
        // Near misses a bad escape or a `+` read as a space would match instead.
        { contactid: id(50), emailaddress1: 'obrien@example.com', donotbulkemail: false },
        { contactid: id(51), emailaddress1: 'a b&c#d%e@example.com', donotbulkemail: false },
      ],
    });
    const plans = await planBulkRead(fixture, odd.map(optOut));
    expect(plans.map(rowsOf)).toEqual(odd.map((_, n) => [`contact:${id(n)}`]));
  });

  it('follows @odata.nextLink inside a group and gives every person their rows from every page', async () => {
    const people = Array.from({ length: 30 }, (_, n) => `p${n}@example.com`);
    await fixture.control.seed({
      contacts: people.flatMap((email, n) => [
        { contactid: id(n), emailaddress1: email, donotbulkemail: false },
        { contactid: id(100 + n), emailaddress2: email.toUpperCase(), donotbulkemail: false },
      ]),
    });
    await fixture.control.clearRequests();
    const plans = await planBulkRead(fixture, people.map(optOut), { DYNAMICS_PAGE_SIZE: '7' });
    expect(plans.map(rowsOf)).toEqual(
      people.map((_, n) => [`contact:${id(n)}`, `contact:${id(100 + n)}`].sort()),
    );
    const contactGets = (await fixture.control.requests()).filter(
      (e) => e.method === 'GET' && e.path.endsWith('/contacts'),
    );
    expect(contactGets.length).toBe(Math.ceil(60 / 7));
  });

  it.each([
    [429, 7],
    [503, 3],
  ])(
    'a group read answered %i (Retry-After %i s) fails the whole plan as retryable with that wait, handing nobody off',
    async (status, retryAfter) => {
      await fixture.control.seed({
        contacts: [{ contactid: id(1), emailaddress1: 'p1@example.com', donotbulkemail: false }],
      });
      await fixture.control.fail({ method: 'GET', path: '/leads$', status, retryAfter, count: 1000 });
      const planning = fixture
        .connector()
        .planConsentBatch?.([optOut('p1@example.com'), optOut('p2@example.com')]);
      const error = await planning?.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RetryableVendorError);
      expect((error as RetryableVendorError).retryAfterMs).toBe(retryAfter * 1000);
      expect(String((error as Error).message)).not.toMatch(/@/);
      // Once Dataverse answers again, the same plan reads everyone.
      await fixture.control.clearFaults();
      const plans = await planBulkRead(fixture, [optOut('p1@example.com'), optOut('p2@example.com')]);
      expect(plans.map(rowsOf)).toEqual([[`contact:${id(1)}`], []]);
    },
  );

  it('a group read refused for good (400) leaves its people to their own route with a reason', async () => {
    await fixture.control.fail({ method: 'GET', path: '/contacts$', status: 400, count: 1000 });
    const plans = await planBulkRead(fixture, [optOut('p1@example.com'), optOut('p2@example.com')]);
    expect(plans.map((plan) => 'perPerson' in plan)).toEqual([true, true]);
    expect(JSON.stringify(plans.map((plan) => ('perPerson' in plan ? plan.perPerson : '')))).not.toMatch(
      /@example\.com/,
    );
  });
});
