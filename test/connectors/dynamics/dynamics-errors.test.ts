import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NonRetryableVendorError, RetryableVendorError } from '../../../connectors/connector-errors.js';
import { type DynamicsFixture, startDynamicsFixture, subject } from './dynamics-fixture.js';

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('Dynamics error classification', () => {
  let fx: DynamicsFixture;

  beforeAll(async () => {
    fx = await startDynamicsFixture();
  });
  afterAll(() => fx.sandbox.close());
  beforeEach(() => fx.control.reset());

  it('classifies a wrong client secret as non-retryable invalid_client without echoing the secret', async () => {
    const error = await failure(
      fx.connector({ DYNAMICS_CLIENT_SECRET: 'wrong-secret-value' }).find(subject('a@example.com')),
    );
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    const vendor = error as NonRetryableVendorError;
    expect(vendor.vendorCode).toBe('invalid_client');
    expect(vendor.reason).toMatch(/AADSTS7000215: Invalid client secret/);
    expect(vendor.reason).toMatch(/DYNAMICS_CLIENT_SECRET/);
    expect(JSON.stringify(vendor.toJSON())).not.toContain('wrong-secret-value');
  });

  it('classifies a missing privilege (403) as non-retryable with a readable reason', async () => {
    await fx.control.seed({
      contacts: [{ emailaddress1: 'ada@example.com' }],
      deniedPrivileges: ['prvDeletecontact'],
    });
    const error = await failure(fx.connector().erase(subject('ada@example.com')));
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    const vendor = error as NonRetryableVendorError;
    expect(vendor.status).toBe(403);
    expect(vendor.vendorCode).toBe('0x80040220');
    expect(vendor.reason).toContain('the application user lacks the Delete privilege on contact');
    expect(vendor.reason).not.toContain('ada@example.com');
  });

  it('writes consent with the row’s own ETag: a change between read and write is a retryable 412', async () => {
    await fx.control.seed({ contacts: [{ emailaddress1: 'race@example.com' }] });
    const store = fx.sandbox.store;
    const admit = store.admitRequest.bind(store);
    let requests = 0;
    // Another writer touches the row right after the connector has read it: GET contacts, GET leads, then
    // the PATCH, which is the third Web API request and must meet the newer version.
    store.admitRequest = (user) => {
      requests++;
      if (requests === 3) {
        const [id] = [...store.table('contacts').keys()];
        store.update('contacts', id ?? '', { telephone1: '555' });
      }
      return admit(user);
    };
    try {
      const error = await failure(
        fx.connector().applyConsent(subject('race@example.com'), {
          purpose: 'marketing_email',
          decision: 'withdrawn',
          occurredAt: new Date().toISOString(),
          hasEvidence: false,
        }),
      );
      expect(error).toBeInstanceOf(RetryableVendorError);
      expect((error as RetryableVendorError).status).toBe(412);
      expect((error as RetryableVendorError).reason).toMatch(/changed after it was read/);
      const row = (await fx.control.state<{ contacts: { donotbulkemail: boolean }[] }>()).contacts[0];
      expect(row?.donotbulkemail).toBe(false);
    } finally {
      store.admitRequest = admit;
    }
    // The retry reads the new version and succeeds.
    const retried = await fx.connector().applyConsent(subject('race@example.com'), {
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      hasEvidence: false,
    });
    expect(retried.outcome).toBe('applied');
  });

  it('classifies a 412 on a request that carried no ETag (a DELETE) as non-retryable, naming 412', async () => {
    await fx.control.seed({ contacts: [{ emailaddress1: 'pre@example.com' }] });
    await fx.control.fail({ method: 'DELETE', path: '^/api/data/v9.2/contacts', status: 412, count: 1 });
    const error = await failure(fx.connector().erase(subject('pre@example.com')));
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    const vendor = error as NonRetryableVendorError;
    expect(vendor.status).toBe(412);
    expect(vendor.operation).toBe('erase');
    expect(vendor.reason).toMatch(/412 Precondition Failed although no row version was asked for/);
  });

  it('classifies 429 as retryable with Retry-After as the next delay', async () => {
    await fx.control.fail({ path: '^/api/data/v9.2/contacts$', status: 429, retryAfter: 7 });
    const error = await failure(fx.connector().find(subject('a@example.com')));
    expect(error).toBeInstanceOf(RetryableVendorError);
    expect((error as RetryableVendorError).retryAfterMs).toBe(7000);
    expect((error as RetryableVendorError).status).toBe(429);
  });

  it('sends a throttled call once: the Graph RetryHandler is not in the chain', async () => {
    await fx.control.fail({ path: '^/api/data/v9.2/contacts$', status: 503, count: 5, retryAfter: 1 });
    const error = await failure(fx.connector().find(subject('a@example.com')));
    expect(error).toBeInstanceOf(RetryableVendorError);
    expect((error as RetryableVendorError).status).toBe(503);
    const contactCalls = (await fx.control.requests()).filter((e) => e.path === '/api/data/v9.2/contacts');
    expect(contactCalls).toHaveLength(1);
  });

  it('classifies an unreachable Entra ID as retryable', async () => {
    await fx.control.outage(true);
    const error = await failure(fx.connector().find(subject('a@example.com')));
    expect(error).toBeInstanceOf(RetryableVendorError);
    expect((error as RetryableVendorError).reason).toMatch(/no token could be obtained/);
  });

  it('classifies an outage (dropped connections) as retryable', async () => {
    const connector = fx.connector();
    await connector.find(subject('a@example.com'));
    await fx.control.outage(true);
    const error = await failure(connector.find(subject('a@example.com')));
    expect(error).toBeInstanceOf(RetryableVendorError);
    expect((error as RetryableVendorError).reason).toMatch(/could not be reached/);
  });

  it('classifies a call slower than DYNAMICS_TIMEOUT_MS as retryable', async () => {
    const connector = fx.connector({ DYNAMICS_TIMEOUT_MS: '200' });
    await connector.find(subject('a@example.com'));
    await fx.control.setLatency(1000);
    const error = await failure(connector.find(subject('a@example.com')));
    expect(error).toBeInstanceOf(RetryableVendorError);
    expect((error as RetryableVendorError).reason).toContain('200 ms');
  });

  it('refreshes a token that expired mid-run without the caller noticing', async () => {
    await fx.control.seed({ contacts: [{ emailaddress1: 't@example.com' }] });
    const connector = fx.connector();
    expect((await connector.find(subject('t@example.com'))).records).toHaveLength(1);
    fx.sandbox.store.expireTokens();
    await fx.control.clearRequests();
    expect((await connector.find(subject('t@example.com'))).records).toHaveLength(1);
    // The renewed credential reads the tenant's metadata again before asking for a token.
    const log = (await fx.control.requests())
      .filter((e) => !e.path.includes('/.well-known/'))
      .map((e) => [e.method, e.path.replace(/^\/[^/]+\/oauth2/, '/{tenant}/oauth2'), e.status]);
    expect(log).toEqual([
      ['GET', '/api/data/v9.2/contacts', 401],
      ['POST', '/{tenant}/oauth2/v2.0/token', 200],
      ['GET', '/api/data/v9.2/contacts', 200],
      ['GET', '/api/data/v9.2/leads', 200],
      // The activities regarding the contact, counted before an erasure (Dataverse deletes them with it).
      ['GET', '/api/data/v9.2/emails', 200],
      ['GET', '/api/data/v9.2/phonecalls', 200],
      ['GET', '/api/data/v9.2/appointments', 200],
      ['GET', '/api/data/v9.2/tasks', 200],
    ]);
  });

  it('classifies a 401 that survives a fresh token as non-retryable', async () => {
    await fx.control.fail({ path: '^/api/data/', status: 401, count: 2 });
    const error = await failure(fx.connector().find(subject('a@example.com')));
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    expect((error as NonRetryableVendorError).reason).toMatch(/freshly issued token/);
  });

  it('classifies a 400 from Dataverse as non-retryable with its code', async () => {
    await fx.control.fail({ path: '^/api/data/v9.2/leads$', status: 400, message: 'Bad argument' });
    const error = await failure(fx.connector().find(subject('a@example.com')));
    expect(error).toBeInstanceOf(NonRetryableVendorError);
    expect((error as NonRetryableVendorError).vendorCode).toBe('0x80060888');
  });
});

describe('Dynamics service protection limits', () => {
  let fx: DynamicsFixture;

  beforeAll(async () => {
    fx = await startDynamicsFixture({ requestsPerWindow: 3, windowSeconds: 60 });
  });
  afterAll(() => fx.sandbox.close());

  it('answers requests over the window limit with 429, Retry-After in seconds, and the connector retries nothing', async () => {
    const connector = fx.connector();
    await connector.find(subject('a@example.com'));
    const error = await failure(connector.find(subject('a@example.com')));
    expect(error).toBeInstanceOf(RetryableVendorError);
    const vendor = error as RetryableVendorError;
    expect(vendor.vendorCode).toBe('0x80072322');
    expect(vendor.retryAfterMs).toBeGreaterThan(0);
    expect(vendor.retryAfterMs).toBeLessThanOrEqual(60_000);
  });
});
