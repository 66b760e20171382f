import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsentChangeRequest, consentChangeRequestSchema } from '../../domain/consent.js';
import type { Purpose } from '../../domain/purposes.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { consentBatchResult, recordConsentBatch } from '../../hub-client/consent-batch.js';
import { consentStateFromLedger } from '../../ledger/consent-state.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

type Row = Record<string, unknown>;
const lists = ['batch-a', 'batch-b'];
let counter = 0;

/**
 * The bulk path (workflows/consent-batch.ts) against the three sandboxes over their HTTP APIs, on the real
 * dev server: each person of a mixed batch ends with their own evidence and outcomes, exactly as the
 * per-person path records them, and nobody is lost or added to an audience.
 */
describe('a consent batch through the bulk path', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let vendors: typeof hub.vendors;
  let ledger: Ledger;
  let context: ConsentClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('consent-batch');
    ({ vendors, ledger } = hub);
    context = hub.temporal.context();
    await vendors.mailchimp.control.seed({
      lists: lists.map((id) => ({ id, name: id, members: [] })),
    });
  });
  afterAll(() => hub?.close());

  async function plant(audiences: string[], options: { contact?: boolean } = {}) {
    const email = `batch.${Date.now()}.${counter++}@example.com`;
    if (options.contact !== false) {
      await vendors.dynamics.control.seed({
        contacts: [{ firstname: 'Bat', lastname: 'Ch', emailaddress1: email }],
      });
    }
    for (const id of audiences) {
      await vendors.mailchimp.control.seed({
        lists: [{ id, name: id, members: [{ email_address: email, status: 'subscribed' }] }],
      });
    }
    return { email, subjectKey: subjectKeyFor(email, context.subjectKeySecret) };
  }

  const optOut = (email: string, purpose: Purpose = 'marketing_email'): ConsentChangeRequest =>
    consentChangeRequestSchema.parse({
      email,
      purpose,
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'batch-test',
      evidence: { channel: 'import', requestRef: `ticket-${counter}` },
    });

  const contactOf = async (email: string) =>
    ((await vendors.dynamics.control.state<{ contacts: Row[] }>()).contacts.find(
      (c) => c.emailaddress1 === email,
    ) ?? {}) as Row;
  const mailchimpState = () => vendors.mailchimp.control.state<{ lists: { id: string; members: Row[] }[] }>();
  const memberOf = async (listId: string, email: string) =>
    (await mailchimpState()).lists
      .find((l) => l.id === listId)
      ?.members.find((m) => m.email_address === email);
  /** Members of every audience, but for addresses a grant with evidence may add (as pending) by design. */
  const memberCount = async (except: string[] = []) =>
    (await mailchimpState()).lists.reduce(
      (sum, list) => sum + list.members.filter((m) => !except.includes(String(m.email_address))).length,
      0,
    );

  async function settled(subjectKey: string, systems: string[]) {
    for (let i = 0; i < 150; i++) {
      const state = await consentStateFromLedger(ledger, subjectKey);
      const outcomes = state.outcomes.marketing_email ?? {};
      if (systems.every((s) => s in outcomes)) return state;
      await delay(200);
    }
    throw new Error('the change never settled');
  }

  it('writes each person of a mixed batch with their exact evidence, hands the rest to their own workflow, and creates no member', async () => {
    const both = await plant(lists);
    const one = await plant(['batch-a']);
    const none = await plant([]);
    const held = await plant(lists);
    const erased = await plant(['batch-a']);
    const open = await plant(lists);
    const granted = await plant(['batch-b']);
    const failing = await plant(lists);

    await ledger.placeHold({
      subjectKey: held.subjectKey,
      reason: 'legal_claims',
      placedBy: 'test',
      placedAt: new Date().toISOString(),
    });
    await ledger.recordTombstone({
      subjectKey: erased.subjectKey,
      erasedAt: new Date().toISOString(),
      systems: ['dynamics', 'mailchimp', 'google'],
      firstRequestId: '00000000-0000-4000-8000-000000000002',
      lastRequestId: '00000000-0000-4000-8000-000000000002',
    });
    // An open consent workflow: the test context keeps a person's workflow open 5 s after its last write.
    await recordConsentChange(context, optOut(open.email, 'phone'));
    // One Dynamics write of the batch fails for `failing` (a 400 on that contact's PATCH inside $batch).
    const failingId = (await contactOf(failing.email)).contactid as string;
    await vendors.dynamics.control.fail({ method: 'PATCH', path: `contacts\\(${failingId}\\)`, status: 400 });
    const membersBefore = await memberCount([granted.email]);

    const changes = [
      optOut(both.email),
      optOut(one.email),
      optOut(none.email),
      optOut(held.email),
      optOut(erased.email),
      optOut(open.email),
      consentChangeRequestSchema.parse({
        email: granted.email,
        purpose: 'marketing_email',
        decision: 'granted',
        occurredAt: new Date().toISOString(),
        source: 'batch-test',
        evidence: { policyVersion: '2026-01', formId: 'import' },
      }),
      consentChangeRequestSchema.parse({
        email: erased.email,
        purpose: 'event_invitations',
        decision: 'granted',
        occurredAt: new Date().toISOString(),
        source: 'batch-test',
        evidence: { policyVersion: '2026-01' },
      }),
      optOut(failing.email),
    ].map((change, index) => ({ index, change }));
    const accepted = await recordConsentBatch(context, changes, { ledger });
    // The erased person's grant is refused before anything is recorded; everything else is accepted.
    expect(accepted.refused).toEqual([
      expect.objectContaining({ index: 7, refused: 'erased', subjectKey: erased.subjectKey }),
    ]);
    expect(accepted.accepted.map((a) => a.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 8]);
    expect(accepted.workflowId).toBe(`consent-batch-${accepted.batchId}`);
    expect(accepted.workflowId).not.toContain('@');

    const result = await consentBatchResult(context, accepted.batchId);
    const byKey = new Map(result.results.map((r) => [r.subjectKey, r]));
    expect(byKey.get(both.subjectKey)).toMatchObject({
      route: 'bulk',
      systems: { dynamics: 'applied', mailchimp: 'applied' },
    });
    expect(byKey.get(one.subjectKey)).toMatchObject({
      route: 'bulk',
      systems: { dynamics: 'applied', mailchimp: 'applied' },
    });
    expect(byKey.get(none.subjectKey)).toMatchObject({
      route: 'bulk',
      systems: { dynamics: 'applied', mailchimp: 'not_found' },
    });
    expect(byKey.get(held.subjectKey)).toMatchObject({ route: 'bulk', systems: { dynamics: 'applied' } });
    expect(byKey.get(erased.subjectKey)?.route).toBe('person');
    expect(byKey.get(open.subjectKey)).toMatchObject({ route: 'person' });
    expect(byKey.get(open.subjectKey)?.reason).toMatch(/consent workflow is open/);
    expect(byKey.get(granted.subjectKey)).toMatchObject({ route: 'person' });
    expect(byKey.get(failing.subjectKey)).toMatchObject({
      route: 'bulk',
      systems: { mailchimp: 'applied' },
      handedOff: { dynamics: expect.stringContaining('400') },
    });
    expect(result.createdInMailchimp).toEqual([]);
    expect(JSON.stringify(result)).not.toContain('@');

    // Each bulk person's event is in the ledger with its evidence, and each system's outcome under it.
    for (const [person, index] of [
      [both, 0],
      [one, 1],
      [none, 2],
      [held, 3],
    ] as const) {
      const events = await ledger.listConsentEvents(person.subjectKey);
      expect(events).toEqual([
        expect.objectContaining({
          id: accepted.accepted.find((a) => a.index === index)?.eventId,
          purpose: 'marketing_email',
          decision: 'withdrawn',
          source: 'batch-test',
          evidence: changes[index]?.change.evidence,
        }),
      ]);
      const state = await consentStateFromLedger(ledger, person.subjectKey);
      expect(state.purposes.marketing_email?.decision).toBe('withdrawn');
      expect(state.written.dynamics).toMatchObject({
        outcome: 'applied',
        fields: { donotbulkemail: 'true' },
      });
      expect((await contactOf(person.email)).donotbulkemail).toBe(true);
    }
    for (const id of lists) expect((await memberOf(id, both.email))?.status).toBe('unsubscribed');
    expect((await memberOf('batch-a', one.email))?.status).toBe('unsubscribed');
    expect(await memberOf('batch-b', one.email)).toBeUndefined();
    expect((await consentStateFromLedger(ledger, one.subjectKey)).written.mailchimp).toMatchObject({
      outcome: 'applied',
      fields: { 'membership:batch-a': 'unsubscribed' },
    });
    for (const id of lists) expect((await memberOf(id, held.email))?.status).toBe('unsubscribed');

    // The handed-over people end through their own workflows: the open one, the grant, the erased
    // person's opt-out, and the person whose Dynamics write failed (written again by their workflow).
    expect(
      (await settled(failing.subjectKey, ['dynamics', 'mailchimp'])).outcomes.marketing_email,
    ).toMatchObject({
      dynamics: 'applied',
      mailchimp: 'applied',
    });
    for (let i = 0; i < 100 && (await contactOf(failing.email)).donotbulkemail !== true; i++)
      await delay(200);
    expect((await contactOf(failing.email)).donotbulkemail).toBe(true);
    await settled(open.subjectKey, ['dynamics', 'mailchimp']);
    for (const id of lists) expect((await memberOf(id, open.email))?.status).toBe('unsubscribed');
    const grant = await settled(granted.subjectKey, ['dynamics', 'mailchimp']);
    expect(grant.outcomes.marketing_email?.mailchimp).toBe('pending_confirmation');
    for (let i = 0; i < 100 && (await memberOf('batch-a', erased.email))?.status !== 'unsubscribed'; i++)
      await delay(200);
    expect((await memberOf('batch-a', erased.email))?.status).toBe('unsubscribed');
    expect(await ledger.listConsentEvents(erased.subjectKey)).toEqual([]);

    // Mailchimp's batch creates an address it does not hold: the bulk path named only members it read (the
    // grant, through its own workflow, may add a pending member; that is the per-person path's rule).
    expect(await memberCount([granted.email])).toBe(membersBefore);
    const batchPosts = (await vendors.mailchimp.control.requests()).filter(
      (r) => r.method === 'POST' && /^\/3\.0\/lists\/[^/]+$/.test(r.path),
    );
    expect(batchPosts.length).toBeGreaterThan(0);
  });
  it('retries a listing throttled with a 429 as a listing after its Retry-After: everyone written in bulk, nobody read one by one or handed over', async () => {
    const people = [await plant(lists), await plant(lists), await plant(lists)];
    await vendors.mailchimp.control.clearRequests();
    await vendors.mailchimp.control.fail({
      method: 'GET',
      path: '/lists/batch-a/members$',
      status: 429,
      retryAfter: 3,
    });

    const accepted = await recordConsentBatch(
      context,
      people.map((p, index) => ({ index, change: optOut(p.email) })),
      { ledger },
    );
    const result = await consentBatchResult(context, accepted.batchId);

    for (const person of people) {
      const answer = result.results.find((r) => r.subjectKey === person.subjectKey);
      expect(answer).toMatchObject({ route: 'bulk', systems: { dynamics: 'applied', mailchimp: 'applied' } });
      expect(answer?.handedOff).toBeUndefined();
      for (const id of lists) expect((await memberOf(id, person.email))?.status).toBe('unsubscribed');
    }
    const calls = await vendors.mailchimp.control.requests();
    const listings = calls.filter((r) => r.method === 'GET' && r.path === '/3.0/lists/batch-a/members');
    expect(listings.map((r) => r.status)).toEqual([429, 200]);
    // The activity's next attempt waited out the vendor's Retry-After (3 s), not its own 1 s back-off.
    const [throttled, retried] = listings.map((r) => Date.parse(r.at));
    expect((retried ?? 0) - (throttled ?? 0)).toBeGreaterThanOrEqual(3000);
    expect(
      calls.filter((r) => r.method === 'GET' && /^\/3\.0\/lists\/[^/]+\/members\/./.test(r.path)),
    ).toEqual([]);
  });
});
