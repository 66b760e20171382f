import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BulkConsentWrite } from '../../../connectors/connector.js';
import { RetryableVendorError } from '../../../connectors/connector-errors.js';
import { dynamicsConfigSchema } from '../../../connectors/dynamics/config.js';
import { type DynamicsFixture, rowId as id, startDynamicsFixture } from './dynamics-fixture.js';

/**
 * Issue 21: opt-outs from a bulk source go to Dataverse as `$batch` PATCHes, in small batches sent together
 * (execute-batch-operations-using-web-api), with one outcome per row.
 */
const optOut = (n: number, kind = 'contact'): BulkConsentWrite => ({
  key: `person-${n}`,
  email: `p${n}@example.com`,
  record: { kind, id: id(n) },
  fields: { donotbulkemail: 'true' },
});

describe('Dynamics connector: bulk consent writes through $batch', () => {
  let fixture: DynamicsFixture;
  const batchCalls = async () => (await fixture.control.requests()).filter((e) => e.path.endsWith('/$batch'));
  const row = async (set: string, n: number) =>
    (
      (await fixture.control.state()) as Record<
        string,
        { contactid?: string; leadid?: string; donotbulkemail?: boolean }[]
      >
    )[set]?.find((r) => (r.contactid ?? r.leadid) === id(n));

  beforeAll(async () => {
    fixture = await startDynamicsFixture({ requestsPerWindow: 30 });
  });
  afterAll(() => fixture.sandbox.close());
  beforeEach(async () => {
    await fixture.control.reset();
    await fixture.control.seed({
      contacts: Array.from({ length: 24 }, (_, n) => ({
        contactid: id(n),
        emailaddress1: `p${n}@example.com`,
        donotbulkemail: false,
      })),
      leads: [{ leadid: id(100), emailaddress1: 'p100@example.com', donotbulkemail: false }],
    });
  });

  it('writes 25 rows in three $batch calls of at most 10 and answers applied for each row, in order', async () => {
    const writes = [...Array.from({ length: 24 }, (_, n) => optOut(n)), optOut(100, 'lead')];
    await fixture.control.clearRequests();
    const outcomes = await fixture.connector().writeConsentBatch?.(writes);
    expect(outcomes?.map((o) => [o.key, o.outcome])).toEqual(writes.map((w) => [w.key, 'applied']));
    expect(await batchCalls()).toHaveLength(3);
    expect((await row('contacts', 23))?.donotbulkemail).toBe(true);
    expect((await row('leads', 100))?.donotbulkemail).toBe(true);
  });

  it('tells each row apart: a row that is not there is not_found, a refused write is a failure, the others are applied', async () => {
    await fixture.control.fail({
      method: 'PATCH',
      path: `contacts\\(${id(2)}\\)`,
      status: 403,
      message: 'Principal user is missing prvWritecontact privilege.',
      count: 1,
    });
    const outcomes = await fixture
      .connector({ DYNAMICS_BATCH_SIZE: '5' })
      .writeConsentBatch?.([optOut(1), optOut(999), optOut(2), { ...optOut(3), fields: { firstname: 'x' } }]);
    expect(outcomes?.map((o) => [o.key, o.outcome])).toEqual([
      ['person-1', 'applied'],
      ['person-999', 'not_found'],
      ['person-2', 'failure'],
      ['person-3', 'failure'],
    ]);
    const refused = outcomes?.[2];
    expect(refused?.outcome === 'failure' && refused.error).toMatchObject({ retryable: false, status: 403 });
    expect((await row('contacts', 1))?.donotbulkemail).toBe(true);
    expect((await row('contacts', 2))?.donotbulkemail).toBe(false);
    expect(JSON.stringify(outcomes)).not.toMatch(/@example\.com/);
  });

  it('answers a 429 inside the batch as a retryable failure of those rows with Dataverse’s Retry-After', async () => {
    // 30 requests per window: the token is Entra's; the 24 PATCHes fit, the rest are throttled inside the batch.
    const writes = Array.from({ length: 24 }, (_, n) => optOut(n));
    const connector = fixture.connector({ DYNAMICS_BATCH_SIZE: '24' });
    await connector.writeConsentBatch?.(writes.slice(0, 20));
    const outcomes = await connector.writeConsentBatch?.(writes);
    const throttled = outcomes?.filter((o) => o.outcome === 'failure') ?? [];
    expect(throttled).toHaveLength(14);
    expect(throttled[0]?.outcome === 'failure' && throttled[0].error).toMatchObject({
      retryable: true,
      status: 429,
    });
    expect(throttled[0]?.outcome === 'failure' && (throttled[0].error.retryAfterMs ?? 0) > 0).toBe(true);
  });

  it('throws a retryable error when the batch itself is refused with 503', async () => {
    await fixture.control.fail({ method: 'POST', path: '/\\$batch$', status: 503, count: 1 });
    await expect(fixture.connector().writeConsentBatch?.([optOut(1)])).rejects.toBeInstanceOf(
      RetryableVendorError,
    );
    expect((await row('contacts', 1))?.donotbulkemail).toBe(false);
  });

  it('refuses a batch size above Dataverse’s 1,000 requests in the configuration', () => {
    expect(() => dynamicsConfigSchema.parse(fixture.env({ DYNAMICS_BATCH_SIZE: '1001' }))).toThrow(
      /at most 1000/,
    );
  });
});
