import { describe, expect, it } from 'vitest';
import { groupsByUrlLength, maxQueryUrlLength } from '../../../connectors/dynamics/connector.js';
import {
  contactRows,
  type DynamicsFixture,
  rowId as id,
  bulkOptOut as optOut,
  planBulkRead,
  plannedRows as rowsOf,
  withDynamicsFixture,
} from './dynamics-fixture.js';

/**
 * Issue 21: a bulk opt-out finds many people's contacts and leads with a few queries per table (an `In` over
 * each email column, learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/in), not two
 * per person, each URL within Dataverse's 32,768 characters; rows are matched back to people as Dataverse
 * compares (any email column, any case, any spelling of the domain).
 */

describe('Dynamics connector: many people read together for a bulk write', () => {
  let fixture: DynamicsFixture;
  const gets = async () =>
    (await fixture.control.requests()).filter(
      (e) => e.method === 'GET' && /\/(contacts|leads)$/.test(e.path),
    );

  withDynamicsFixture((started) => {
    fixture = started;
  });

  it('reads 60 people with one query per table and gives each person exactly their rows', async () => {
    await fixture.control.seed({
      contacts: [
        ...Array.from({ length: 50 }, (_, n) => ({
          contactid: id(n),
          emailaddress1: `p${n}@example.com`,
          donotbulkemail: false,
        })),
        // Another email column, another case: Dataverse's default collation ignores case.
        { contactid: id(200), emailaddress2: 'P51@EXAMPLE.COM', donotbulkemail: false },
        // One row holding two people's addresses is each one's, as their own query would find it.
        {
          contactid: id(201),
          emailaddress1: 'p52@example.com',
          emailaddress3: 'p53@example.com',
          donotbulkemail: false,
        },
        // The domain kept in its IDNA spelling.
        { contactid: id(202), emailaddress1: 'kunde@xn--bcher-kva.example', donotbulkemail: false },
        // Already opted out: found, nothing to write.
        { contactid: id(203), emailaddress1: 'p54@example.com', donotbulkemail: true },
        // Someone else, not in the wave.
        { contactid: id(204), emailaddress1: 'other@example.com', donotbulkemail: false },
      ],
      leads: [{ leadid: id(300), emailaddress3: 'p5@example.com', donotbulkemail: false }],
    });
    const people = [
      ...Array.from({ length: 55 }, (_, n) => optOut(`p${n}@example.com`)),
      optOut('kunde@bücher.example'),
      ...Array.from({ length: 4 }, (_, n) => optOut(`nobody${n}@example.com`)),
    ];
    await fixture.control.clearRequests();
    const plans = await planBulkRead(fixture, people);
    const byKey = new Map(plans.map((plan) => [plan.key, plan]));

    expect(await gets()).toHaveLength(2);
    expect(plans.map((p) => p.key)).toEqual(people.map((p) => p.key));
    expect(rowsOf(byKey.get('p0@example.com'))).toEqual([`contact:${id(0)}`]);
    expect(rowsOf(byKey.get('p5@example.com'))).toEqual([`contact:${id(5)}`, `lead:${id(300)}`]);
    expect(rowsOf(byKey.get('p51@example.com'))).toEqual([`contact:${id(200)}`]);
    expect(rowsOf(byKey.get('p52@example.com'))).toEqual([`contact:${id(201)}`]);
    expect(rowsOf(byKey.get('p53@example.com'))).toEqual([`contact:${id(201)}`]);
    expect(rowsOf(byKey.get('kunde@bücher.example'))).toEqual([`contact:${id(202)}`]);
    expect(rowsOf(byKey.get('p54@example.com'))).toEqual([]);
    const already = byKey.get('p54@example.com');
    expect(already && 'result' in already && already.result.outcome).toBe('already');
    const nobody = byKey.get('nobody0@example.com');
    expect(nobody && 'result' in nobody && nobody.result.outcome).toBe('not_found');
    expect(JSON.stringify(plans)).not.toContain(id(204));
  });

  it('splits long address lists into several queries, each URL within 32,768 characters, sent together', async () => {
    const local = (n: number) => `${'l'.repeat(50)}.${n}`;
    const people = Array.from({ length: 400 }, (_, n) => optOut(`${local(n)}@example.com`));
    await fixture.control.seed({
      contacts: contactRows(people.map((p) => p.subject.email)),
    });
    await fixture.control.clearRequests();
    const plans = await planBulkRead(fixture, people);
    // The sandbox answers 414 past Dataverse's limit, which would make the people's reads fail.
    expect(plans.every((plan) => 'writes' in plan && plan.writes.length === 1)).toBe(true);
    const calls = (await gets()).length;
    expect(calls).toBeGreaterThan(2);
    // Per table, one query per group; a group fills a URL (each address in two spellings, three columns).
    expect(calls % 2).toBe(0);
    expect(calls).toBeLessThanOrEqual(2 * Math.ceil((400 * 2 * 3 * 80) / (maxQueryUrlLength - 2_000)));
  });

  it('sizes each group by the URL fetch sends: short addresses, whose quotes are percent-encoded, get no 414', async () => {
    // WHATWG URL parsing encodes each ' of a query as %27; with 500 short addresses (2 spellings, 3 columns)
    // that adds a third to the URL, which a length measured before parsing missed (every read refused).
    const people = Array.from({ length: 500 }, (_, n) => optOut(`wave.${n}@example.com`));
    await fixture.control.seed({
      contacts: contactRows(people.map((p) => p.subject.email)),
    });
    await fixture.control.clearRequests();
    const plans = await planBulkRead(fixture, people);
    const reads = (await fixture.control.requests()).filter((e) => e.path.startsWith('/api/data/'));
    expect(reads.map((e) => e.status).filter((status) => status !== 200)).toEqual([]);
    expect(plans.every((plan) => 'writes' in plan && plan.writes.length === 1)).toBe(true);
  });

  it('hands only the people of a group whose read was refused to their own path, with a reason free of addresses', async () => {
    await fixture.control.seed({
      contacts: [{ contactid: id(1), emailaddress1: 'p1@example.com', donotbulkemail: false }],
    });
    await fixture.control.fail({
      method: 'GET',
      path: 'leads$',
      status: 403,
      message: 'Principal user is missing prvReadLead privilege.',
      count: 1,
    });
    const plans = await planBulkRead(fixture, [
      optOut('p1@example.com', 'person-1'),
      optOut('p2@example.com', 'person-2'),
    ]);
    expect(plans.map((p) => ('perPerson' in p ? 'perPerson' : 'planned'))).toEqual([
      'perPerson',
      'perPerson',
    ]);
    expect(JSON.stringify(plans)).not.toMatch(/@example\.com/);
  });

  it('keeps each person with all their spellings in one group, and each group within the length', () => {
    const people: [string, string[]][] = Array.from({ length: 10 }, (_, n) => [`k${n}`, [`a${n}`, `b${n}`]]);
    const groups = groupsByUrlLength(people, (spellings) => spellings.join(',').length, 20);
    expect(groups.flat()).toEqual(people);
    for (const group of groups) {
      expect(group.flatMap(([, s]) => s).join(',').length).toBeLessThanOrEqual(20);
    }
    expect(groups.length).toBeGreaterThan(1);
  });
});
