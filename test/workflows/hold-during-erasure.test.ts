import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { holdCheckEvery } from '../../activities/erasure-activities.js';
import { requestLog } from '../../cli/request-log.js';
import type { ErasureStatusView } from '../../domain/erasure.js';
import { awaitReceipt, type HubClientContext, requestErasure } from '../../hub-client/erasures.js';
import { placeHold, releaseHold } from '../../hub-client/holds.js';
import { erasureContext, erasureStatusWhen } from '../support/erasure-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { uniqueEmail } from '../support/unique-email.js';

const listId = 'holdrunlist';

type Row = Record<string, unknown>;
type DynamicsState = { contacts: Row[]; leads: Row[] };
type MailchimpState = {
  lists: { id: string; members: { email_address: string; status: string; tags: { name: string }[] }[] }[];
};

/**
 * A legal hold placed while the person's erasure is already running (GDPR Art. 17(3), Art. 18), against a
 * real Temporal dev server, the real connectors and the vendor sandboxes, whose latency and faults hold the
 * erasure at a chosen point: the erasure stops deleting, restricts every system it has not erased yet,
 * says in its receipt what it had deleted before, and erases the rest once the hold is released.
 */
describe('a hold placed while the person’s erasure runs stops the deleting', { timeout: 240_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: HubClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('hold-during-erasure');
    context = erasureContext(hub);
  });
  afterEach(async () => {
    for (const vendor of [hub.vendors.dynamics, hub.vendors.mailchimp, hub.vendors.google]) {
      await vendor.control.clearFaults();
      await vendor.control.setLatency(0);
    }
  });
  afterAll(async () => {
    await hub?.close();
  });

  const waitFor = (requestId: string, test: (s: ErasureStatusView) => boolean) =>
    erasureStatusWhen(context, requestId, test, { tries: 400, everyMs: 150 });
  const dynamicsRows = async (email: string) => {
    const state = await hub.vendors.dynamics.control.state<DynamicsState>();
    const mine = (rows: Row[]) => rows.filter((row) => row.emailaddress1 === email);
    return { contacts: mine(state.contacts), leads: mine(state.leads) };
  };
  const mailchimpMembers = async (email: string) => {
    const state = await hub.vendors.mailchimp.control.state<MailchimpState>();
    return state.lists.flatMap((list) => list.members.filter((m) => m.email_address === email));
  };
  const seedPerson = async (email: string, gaClientId?: string) => {
    await hub.vendors.dynamics.control.seed({
      contacts: [
        {
          firstname: 'Running',
          lastname: 'Held',
          emailaddress1: email,
          ...(gaClientId ? { new_gaclientid: gaClientId } : {}),
        },
      ],
      leads: [{ firstname: 'Running', lastname: 'Held', emailaddress1: email }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Hold run', members: [{ email_address: email, status: 'subscribed' }] }],
    });
  };
  const erase = (email: string, ticket: string) =>
    requestErasure(context, { email, requestedBy: ticket, requestedAt: new Date().toISOString() });

  it('mid-run: Dynamics and Google erased before the hold stay so, Mailchimp is restricted, and the receipt tells them apart', async () => {
    const email = uniqueEmail('mid-run');
    await seedPerson(email, '3333.4444');
    // Mailchimp's permanent delete keeps failing (retryable), so its erasure is still running when the hold comes.
    await hub.vendors.mailchimp.control.fail({ path: 'delete-permanent', status: 503, count: 10_000 });
    const started = await erase(email, 'privacy-inbox#90');
    await waitFor(
      started.requestId,
      (s) => s.systems.dynamics.status === 'erased' && s.systems.google.status === 'submitted',
    );
    expect(await dynamicsRows(email)).toEqual({ contacts: [], leads: [] });

    const held = await placeHold(context, hub.ledger, {
      email,
      reason: 'legal_claims',
      placedBy: 'cli:legal',
    });
    expect(held).toMatchObject({ placed: true, erasureRunning: true, erasureSignalled: true });
    await hub.vendors.mailchimp.control.clearFaults();
    const onHold = await waitFor(started.requestId, (s) => s.status === 'on_hold');

    // The member was not deleted: unsubscribed and tagged instead.
    const members = await mailchimpMembers(email);
    expect(members).toHaveLength(1);
    expect(members[0]?.status).toBe('unsubscribed');
    expect(members[0]?.tags.map((t) => t.name)).toEqual(['restricted']);
    expect(onHold.systems.mailchimp.status).toBe('pending');
    expect(onHold.restriction).toMatchObject({
      hold: { reason: 'legal_claims', placedAt: held.hold.placedAt },
      outcome: 'restricted',
      systems: {
        dynamics: { status: 'erased_before_hold' },
        google: { status: 'erased_before_hold' },
        mailchimp: { status: 'restricted', recordCount: 1 },
      },
    });
    const before = onHold.restriction?.arrivedDuringErasure;
    expect(Date.parse(before?.noticedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(held.hold.placedAt));
    expect(Object.keys(before?.deletedBefore ?? {}).sort()).toEqual(['dynamics', 'google']);
    expect(before?.deletedBefore.dynamics?.recordCount).toBe(2);
    expect(before?.deletedBefore.dynamics?.records.map((r) => [r.kind, r.result]).sort()).toEqual([
      ['contact', 'deleted'],
      ['lead', 'deleted'],
    ]);
    expect(before?.deletedBefore.google?.records).toEqual([
      expect.objectContaining({ kind: 'userDeletionRequest', result: 'submitted' }),
    ]);
    // The restriction receipt in the ledger says the same while the erasure waits.
    expect(await hub.ledger.getRestriction(started.requestId)).toMatchObject({
      outcome: 'restricted',
      arrivedDuringErasure: before,
    });
    await delay(1000);
    expect(await mailchimpMembers(email)).toHaveLength(1);

    await releaseHold(context, hub.ledger, { email, reason: 'resolved', releasedBy: 'cli:legal' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.mailchimp).toMatchObject({ status: 'erased', recordCount: 1 });
    expect(receipt.systems.dynamics).toMatchObject({ status: 'erased', recordCount: 2 });
    expect(receipt.restriction).toMatchObject({
      arrivedDuringErasure: before,
      released: { by: 'cli:legal', reason: 'resolved' },
    });
    expect(await mailchimpMembers(email)).toEqual([]);
  });

  it('a hold placed before the first delete restricts every system, and a release during the restriction ends the wait at once', async () => {
    const email = uniqueEmail('before-first-delete');
    await seedPerson(email);
    // Every vendor answer takes a while: the hold comes before any delete, the release while restricting.
    await hub.vendors.dynamics.control.setLatency(700);
    await hub.vendors.mailchimp.control.setLatency(700);
    const started = await erase(email, 'privacy-inbox#91');
    // Past the erasure's own look at the hold as it began: harvesting, nothing deleted yet.
    await waitFor(started.requestId, (s) => s.systems.dynamics.status === 'running');
    expect(await hub.ledger.listErasureRecords(started.requestId, { result: 'deleted', limit: 100 })).toEqual(
      [],
    );
    await placeHold(context, hub.ledger, { email, reason: 'authority_order', placedBy: 'cli:legal' });
    const restricting = await waitFor(
      started.requestId,
      (s) => s.restriction !== undefined && s.restriction.restrictedAt === undefined,
    );
    expect(restricting.restriction?.arrivedDuringErasure?.deletedBefore).toEqual({});
    const released = await releaseHold(context, hub.ledger, {
      email,
      reason: 'placed_in_error',
      releasedBy: 'cli:legal',
    });
    expect(released.erasureSignalled).toBe(true);
    await hub.vendors.dynamics.control.setLatency(0);
    await hub.vendors.mailchimp.control.setLatency(0);

    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.restriction).toMatchObject({
      hold: { reason: 'authority_order' },
      outcome: 'restricted',
      systems: {
        dynamics: { status: 'restricted', recordCount: 2 },
        mailchimp: { status: 'restricted', recordCount: 1 },
        google: { status: 'not_applicable' },
      },
      arrivedDuringErasure: { deletedBefore: {} },
      released: { by: 'cli:legal', reason: 'placed_in_error' },
    });
    expect(Date.parse(receipt.restriction?.released?.at ?? '')).toBeLessThan(
      Date.parse(receipt.restriction?.restrictedAt ?? ''),
    );
    expect(receipt.systems.dynamics).toMatchObject({ status: 'erased', recordCount: 2 });
    expect(receipt.systems.mailchimp).toMatchObject({ status: 'erased', recordCount: 1 });
    expect(await dynamicsRows(email)).toEqual({ contacts: [], leads: [] });
    expect(await mailchimpMembers(email)).toEqual([]);
  });

  it('a hold placed mid-page stops the page at the next batch: deletes not yet sent are restricted, and the receipt names the ones that finished before', async () => {
    const email = uniqueEmail('mid-page');
    const rows = 3 * holdCheckEvery;
    await hub.vendors.dynamics.control.seed({
      leads: Array.from({ length: rows }, (_, i) => ({
        firstname: 'Paged',
        lastname: `Held ${i}`,
        emailaddress1: email,
      })),
    });
    // One page holds every row (the default page is 500); each Dataverse answer takes a while.
    const paged = { ...context, timings: { ...context.timings, deletePageSize: 500 } };
    await hub.vendors.dynamics.control.setLatency(150);
    const started = await requestErasure(paged, {
      email,
      requestedBy: 'privacy-inbox#93',
      requestedAt: new Date().toISOString(),
    });
    const deletedSoFar = async () =>
      (
        await hub.ledger.listErasureRecords(started.requestId, {
          system: 'dynamics',
          result: 'deleted',
          limit: 500,
        })
      ).length;
    for (let i = 0; i < 400 && (await deletedSoFar()) === 0; i++) await delay(50);
    const atHold = await deletedSoFar();
    expect(atHold).toBeGreaterThan(0);
    expect(atHold).toBeLessThan(holdCheckEvery);
    await placeHold(context, hub.ledger, { email, reason: 'legal_claims', placedBy: 'cli:legal' });
    const onHold = await waitFor(started.requestId, (s) => s.status === 'on_hold');
    await hub.vendors.dynamics.control.setLatency(0);

    // The page stopped at the batch where it saw the hold: at most one batch more went out.
    const deletedBefore = onHold.restriction?.arrivedDuringErasure?.deletedBefore.dynamics;
    expect(deletedBefore?.recordCount).toBe(await deletedSoFar());
    expect(deletedBefore?.recordCount).toBeGreaterThanOrEqual(atHold);
    expect(deletedBefore?.recordCount).toBeLessThanOrEqual(2 * holdCheckEvery);
    const left = (await dynamicsRows(email)).leads;
    expect(left).toHaveLength(rows - (deletedBefore?.recordCount ?? 0));
    expect(onHold.restriction?.systems.dynamics).toMatchObject({
      status: 'restricted',
      recordCount: left.length,
    });
    // Restricted, not deleted: every row left is deactivated with every contact method opted out.
    expect(left.every((row) => row.statecode === 2 && row.donotemail === true)).toBe(true);

    await releaseHold(context, hub.ledger, { email, reason: 'resolved', releasedBy: 'cli:legal' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.systems.dynamics).toMatchObject({ status: 'erased', recordCount: rows });
    expect(receipt.restriction?.arrivedDuringErasure?.deletedBefore.dynamics?.recordCount).toBe(
      deletedBefore?.recordCount,
    );
    expect((await dynamicsRows(email)).leads).toEqual([]);
  });

  it('a release while a system’s restriction is still being retried leaves that system unrestricted: the erasure deletes it, and the receipt and log tell the order', async () => {
    const email = uniqueEmail('early-release');
    await seedPerson(email);
    // Mailchimp's restriction (a PATCH of the member) keeps failing: it is retried when the release comes.
    await hub.vendors.mailchimp.control.fail({
      method: 'PATCH',
      path: '/lists/',
      status: 503,
      count: 10_000,
    });
    const held = await placeHold(context, hub.ledger, {
      email,
      reason: 'legal_claims',
      placedBy: 'cli:legal',
    });
    const started = await erase(email, 'privacy-inbox#94');
    await waitFor(
      started.requestId,
      (s) =>
        s.restriction?.systems.dynamics.status === 'restricted' &&
        (s.restriction?.systems.mailchimp.attempts ?? 0) >= 1,
    );
    const released = await releaseHold(context, hub.ledger, {
      email,
      reason: 'placed_in_error',
      releasedBy: 'cli:legal',
    });
    const receipt = await awaitReceipt(context, started);
    await hub.vendors.mailchimp.control.clearFaults();

    expect(receipt.outcome).toBe('completed');
    expect(receipt.restriction?.systems.dynamics.status).toBe('restricted');
    expect(receipt.restriction?.systems.mailchimp).toMatchObject({
      status: 'released_before_restriction',
      records: [],
    });
    expect(receipt.restriction?.released?.at).toBe(released.hold.releasedAt);
    // Never unsubscribed: the member went from subscribed to deleted.
    expect(receipt.systems.mailchimp).toMatchObject({ status: 'erased', recordCount: 1 });
    expect(await mailchimpMembers(email)).toEqual([]);
    expect(receipt.systems.dynamics).toMatchObject({ status: 'erased', recordCount: 2 });
    // The log puts the hold, the restriction and the release in the order they happened.
    const log = requestLog(receipt, [], receipt.operatorActions ?? [], receipt).entries;
    const events = log.map((e) => e.event);
    expect(events).toEqual(['hold_placed', 'requested', 'hold_released', 'restricted', 'completed']);
    expect(log.find((e) => e.event === 'hold_placed')).toMatchObject({
      at: held.hold.placedAt,
      reason: 'legal_claims',
    });
    expect(log.find((e) => e.event === 'restricted')?.systems).toContain(
      'mailchimp released_before_restriction',
    );
  });

  it('a second hold in the same erasure keeps the first hold’s restriction in the receipt and the ledger', async () => {
    const email = uniqueEmail('two-holds');
    await seedPerson(email);
    const first = await placeHold(context, hub.ledger, {
      email,
      reason: 'legal_claims',
      placedBy: 'cli:legal',
    });
    const started = await erase(email, 'privacy-inbox#95');
    await waitFor(started.requestId, (s) => s.status === 'on_hold');
    // After the first release Mailchimp's delete keeps failing, so the second hold finds the erasure deleting.
    await hub.vendors.mailchimp.control.fail({ path: 'delete-permanent', status: 503, count: 10_000 });
    await releaseHold(context, hub.ledger, { email, reason: 'resolved', releasedBy: 'cli:legal' });
    await waitFor(started.requestId, (s) => s.systems.dynamics.status === 'erased');
    const second = await placeHold(context, hub.ledger, {
      email,
      reason: 'authority_order',
      placedBy: 'cli:legal',
    });
    expect(second.placed).toBe(true);
    await hub.vendors.mailchimp.control.clearFaults();
    await waitFor(
      started.requestId,
      (s) => s.status === 'on_hold' && s.restriction?.hold.reason === 'authority_order',
    );
    await releaseHold(context, hub.ledger, { email, reason: 'resolved', releasedBy: 'cli:legal2' });
    const receipt = await awaitReceipt(context, started);

    expect(receipt.restriction?.hold).toEqual({ reason: 'authority_order', placedAt: second.hold.placedAt });
    expect(receipt.restriction?.released?.by).toBe('cli:legal2');
    expect(receipt.restriction?.earlierRestrictions).toHaveLength(1);
    expect(receipt.restriction?.earlierRestrictions?.[0]).toMatchObject({
      hold: { reason: 'legal_claims', placedAt: first.hold.placedAt },
      outcome: 'restricted',
      released: { by: 'cli:legal', reason: 'resolved' },
      systems: { dynamics: { status: 'restricted', recordCount: 2 } },
    });
    const stored = await hub.ledger.getRestriction(started.requestId);
    expect(stored?.hold.reason).toBe('authority_order');
    expect(stored?.earlierRestrictions?.[0]?.hold.reason).toBe('legal_claims');
    const events = requestLog(receipt, [], [], receipt).entries.map((e) => e.event);
    expect(events.filter((e) => e === 'hold_placed')).toHaveLength(2);
    expect(events.filter((e) => e === 'hold_released')).toHaveLength(2);
    expect(receipt.systems.mailchimp.status).toBe('erased');
  });

  it('a hold on a person whose erasure waits at the operator gate restricts that system too', async () => {
    const email = uniqueEmail('at-gate');
    await seedPerson(email);
    // Mailchimp refuses the delete for good: the system waits for an operator.
    await hub.vendors.mailchimp.control.fail({ path: 'delete-permanent', status: 403, count: 1 });
    const started = await erase(email, 'privacy-inbox#92');
    await waitFor(
      started.requestId,
      (s) => s.systems.mailchimp.status === 'needs_attention' && s.systems.dynamics.status === 'erased',
    );
    await placeHold(context, hub.ledger, { email, reason: 'legal_obligation', placedBy: 'cli:legal' });
    const onHold = await waitFor(started.requestId, (s) => s.status === 'on_hold');
    expect(onHold.systems.mailchimp.status).toBe('pending');
    expect(onHold.restriction?.systems.mailchimp).toMatchObject({ status: 'restricted', recordCount: 1 });
    expect(onHold.restriction?.systems.dynamics.status).toBe('erased_before_hold');
    expect((await mailchimpMembers(email))[0]?.status).toBe('unsubscribed');

    await releaseHold(context, hub.ledger, { email, reason: 'resolved', releasedBy: 'cli:legal' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.mailchimp).toMatchObject({ status: 'erased', recordCount: 1 });
    expect(receipt.operatorActions).toBeUndefined();
    expect(await mailchimpMembers(email)).toEqual([]);
  });
});
