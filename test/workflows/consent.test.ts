import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ConsentDecision, Purpose } from '../../domain/purposes.js';
import {
  type ConsentClientContext,
  consentStatus,
  consentWorkflowInput,
  recordConsentChange,
} from '../../hub-client/consent.js';
import { consentStateFromLedger } from '../../ledger/consent-state.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { consentChangeSignal, consentWorkflowId } from '../../workflows/consent-definitions.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

type Row = Record<string, unknown>;
const listId = 'consent-news';
let counter = 0;

/**
 * Consent propagation through the real connectors and SDKs, against the three sandboxes, on the real dev
 * server. Each test plants its own person.
 */
describe('consent propagation to all three tools', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let vendors: typeof hub.vendors;
  let ledger: Ledger;
  let context: ConsentClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('consent');
    ({ vendors, ledger } = hub);
    context = hub.temporal.context();
    await vendors.mailchimp.control.seed({ lists: [{ id: listId, name: 'Newsletter', members: [] }] });
  });
  afterAll(() => hub?.close());

  async function plant(
    options: { mailchimpStatus?: 'subscribed' | 'unsubscribed'; gaClientId?: string } = {},
  ) {
    const email = `consent.${Date.now()}.${counter++}@example.com`;
    await vendors.dynamics.control.seed({
      contacts: [
        {
          firstname: 'Con',
          lastname: 'Sent',
          emailaddress1: email,
          new_gaclientid: options.gaClientId ?? '',
        },
      ],
    });
    await vendors.mailchimp.control.seed({
      lists: [
        {
          id: listId,
          name: 'Newsletter',
          members: [{ email_address: email, status: options.mailchimpStatus ?? 'subscribed' }],
        },
      ],
    });
    return { email, subjectKey: subjectKeyFor(email, context.subjectKeySecret) };
  }

  const change = (email: string, purpose: Purpose, decision: ConsentDecision, occurredAt: string) =>
    recordConsentChange(context, {
      email,
      purpose,
      decision,
      occurredAt,
      source: 'test',
      evidence:
        decision === 'granted' ? { policyVersion: '2024-05', formId: 'contact-form' } : { channel: 'test' },
    });

  /** Waits until the ledger shows the decision in force for `purpose` carried to every target system. */
  async function settled(subjectKey: string, purpose: Purpose, systems: string[]) {
    for (let i = 0; i < 200; i++) {
      const state = await consentStateFromLedger(ledger, subjectKey);
      const outcomes = state.outcomes[purpose] ?? {};
      if (systems.every((s) => s in outcomes)) return state;
      await delay(200);
    }
    throw new Error(`consent for ${purpose} never settled`);
  }

  const contactOf = async (email: string) =>
    ((await vendors.dynamics.control.state<{ contacts: Row[] }>()).contacts.find(
      (c) => c.emailaddress1 === email,
    ) ?? {}) as Row;
  const memberOf = async (email: string) =>
    (await vendors.mailchimp.control.state<{ lists: { id: string; members: Row[] }[] }>()).lists
      .find((l) => l.id === listId)
      ?.members.find((m) => m.email_address === email);

  it.each([
    ['marketing_email', 'donotbulkemail', true],
    ['product_information', 'donotsendmm', true],
    ['phone', 'donotphone', true],
    ['postal_mail', 'donotpostalmail', true],
  ] as const)(
    'carries a withdrawal of %s to Dynamics (%s) and records each system’s answer',
    async (purpose, column, value) => {
      const person = await plant();
      await change(person.email, purpose, 'withdrawn', new Date().toISOString());
      const state = await settled(person.subjectKey, purpose, ['dynamics', 'mailchimp']);
      expect((await contactOf(person.email))[column]).toBe(value);
      expect(state.outcomes[purpose]?.dynamics).toBe('applied');
      const mailchimpOutcome = state.outcomes[purpose]?.mailchimp;
      if (purpose === 'phone' || purpose === 'postal_mail') {
        expect(mailchimpOutcome).toBe('not_applicable');
        expect((await memberOf(person.email))?.status).toBe('subscribed');
      } else {
        expect(mailchimpOutcome).toBe('applied');
        expect((await memberOf(person.email))?.status).toBe('unsubscribed');
      }
    },
  );

  it('turns a statistics withdrawal into a GA user deletion for the client id the CRM holds', async () => {
    const gaClientId = `777.${Date.now() % 1_000_000}`;
    const person = await plant({ gaClientId });
    await change(person.email, 'statistics', 'withdrawn', new Date().toISOString());
    const state = await settled(person.subjectKey, 'statistics', ['dynamics', 'mailchimp', 'google']);
    expect(state.outcomes.statistics?.google).toBe('applied');
    expect(JSON.stringify(await vendors.google.control.state())).toContain(gaClientId);
    expect((await contactOf(person.email)).followemail).toBe(false);
  });

  it('applies the latest occurredAt when changes arrive out of order, concurrently, from several clients', async () => {
    const person = await plant();
    const base = Date.parse('2026-06-01T10:00:00Z');
    const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();
    // The newest change (a withdrawal at +30) is sent first; older grants and withdrawals race after it.
    await change(person.email, 'marketing_email', 'withdrawn', at(30));
    await Promise.all([
      change(person.email, 'marketing_email', 'granted', at(10)),
      change(person.email, 'marketing_email', 'withdrawn', at(0)),
      change(person.email, 'marketing_email', 'granted', at(20)),
    ]);
    await settled(person.subjectKey, 'marketing_email', ['dynamics', 'mailchimp']);
    await delay(1500);
    const state = await consentStateFromLedger(ledger, person.subjectKey);
    expect(state.purposes.marketing_email).toMatchObject({ decision: 'withdrawn', occurredAt: at(30) });
    expect((await ledger.listConsentEvents(person.subjectKey)).length).toBe(4);
    expect((await contactOf(person.email)).donotbulkemail).toBe(true);
    expect((await memberOf(person.email))?.status).toBe('unsubscribed');
  });

  it('with an idle period of 0 ends as soon as both tools are written, and a later, older grant in a new run still loses', async () => {
    const person = await plant();
    const lean = { ...context, consentTimings: { ...context.consentTimings, idleAfter: '0' } };
    const base = Date.parse('2026-06-03T10:00:00Z');
    const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();
    const send = (decision: ConsentDecision, occurredAt: string) =>
      recordConsentChange(lean, {
        email: person.email,
        purpose: 'marketing_email',
        decision,
        occurredAt,
        source: 'test',
        evidence: decision === 'granted' ? { policyVersion: '2024-05' } : { channel: 'test' },
      });
    const first = await send('withdrawn', at(30));
    const handle = hub.temporal.client.workflow.getHandle(first.workflowId);
    await handle.result();
    const written = await consentStateFromLedger(ledger, person.subjectKey);
    expect(written.outcomes.marketing_email).toEqual({ dynamics: 'applied', mailchimp: 'applied' });
    expect((await memberOf(person.email))?.status).toBe('unsubscribed');

    // The next change starts a new run, which reads the decisions in force from the ledger: the grant is
    // older than the withdrawal, so it is kept as evidence and written nowhere.
    await vendors.mailchimp.control.clearRequests();
    await vendors.dynamics.control.clearRequests();
    const grant = await send('granted', at(10));
    const second = await hub.temporal.client.workflow.getHandle(grant.workflowId).result();
    expect(second.superseded).toEqual([grant.eventId]);
    expect(second.purposes.marketing_email).toMatchObject({ decision: 'withdrawn', occurredAt: at(30) });
    expect(await vendors.mailchimp.control.requests()).toEqual([]);
    expect(await vendors.dynamics.control.requests()).toEqual([]);
    const state = await consentStateFromLedger(ledger, person.subjectKey);
    expect(state.purposes.marketing_email?.eventId).toBe(first.eventId);
    expect(state.outcomes.marketing_email).toEqual({ dynamics: 'applied', mailchimp: 'applied' });
    expect((await ledger.listConsentEvents(person.subjectKey)).map((e) => e.id).sort()).toEqual(
      [first.eventId, grant.eventId].sort(),
    );
  });

  it('records a change with a local activity inside the task that took it in, and a run started without localRecording still records it by an activity task', async () => {
    const lean = { ...context, consentTimings: { ...context.consentTimings, idleAfter: '0' } };
    const activityTypes = async (workflowId: string) =>
      (await hub.temporal.client.workflow.getHandle(workflowId).fetchHistory()).events?.flatMap((event) => {
        const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
        return name ? [name] : [];
      }) ?? [];
    const withdrawal = {
      purpose: 'marketing_email' as const,
      decision: 'withdrawn' as const,
      occurredAt: new Date().toISOString(),
      source: 'test',
      evidence: { channel: 'test' },
    };

    const current = await plant();
    const accepted = await recordConsentChange(lean, { email: current.email, ...withdrawal });
    await hub.temporal.client.workflow.getHandle(accepted.workflowId).result();
    expect(await activityTypes(accepted.workflowId)).not.toContain('recordConsentChanges');
    expect((await ledger.listConsentEvents(current.subjectKey)).map((e) => e.id)).toEqual([accepted.eventId]);
    expect((await contactOf(current.email)).donotbulkemail).toBe(true);

    // A run an older client started (its input without the flag): the change goes through the activity.
    const older = await plant();
    const workflowId = consentWorkflowId(older.subjectKey);
    const eventId = randomUUID();
    const { localRecording: _dropped, ...olderInput } = consentWorkflowInput(
      older.subjectKey,
      older.email,
      lean.consentTimings,
    );
    await hub.temporal.client.workflow.signalWithStart('consentWorkflow', {
      taskQueue: hub.temporal.taskQueue,
      workflowId,
      args: [olderInput],
      signal: consentChangeSignal,
      signalArgs: [{ eventId, ...withdrawal, recordedAt: new Date().toISOString() }],
    });
    await hub.temporal.client.workflow.getHandle(workflowId).result();
    expect(await activityTypes(workflowId)).toContain('recordConsentChanges');
    expect((await ledger.listConsentEvents(older.subjectKey)).map((e) => e.id)).toEqual([eventId]);
    expect((await contactOf(older.email)).donotbulkemail).toBe(true);
  });

  it('ignores a consent change signalled past the hub’s codec (straight to Temporal): nothing of it reaches the ledger or a tool', async () => {
    const person = await plant();
    await change(person.email, 'phone', 'withdrawn', new Date().toISOString());
    // A client as `temporal workflow signal` is: payloads as the default converter makes them, no codec.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const plain = new Client({ connection, namespace: hub.temporal.namespace });
      await plain.workflow.getHandle(consentWorkflowId(person.subjectKey)).signal(consentChangeSignal, {
        eventId: randomUUID(),
        purpose: 'marketing_email',
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        recordedAt: new Date().toISOString(),
        source: 'Clementine Harbottle',
        evidence: { channel: 'Clementine Harbottle' },
      });
    } finally {
      await connection.close();
    }
    // A change through the hub after it is taken in, so the plain one has been handled before it settles.
    await change(person.email, 'postal_mail', 'withdrawn', new Date().toISOString());
    await settled(person.subjectKey, 'postal_mail', ['dynamics', 'mailchimp']);
    const events = await ledger.listConsentEvents(person.subjectKey);
    expect(events.map((e) => e.purpose).sort()).toEqual(['phone', 'postal_mail']);
    expect(JSON.stringify(events)).not.toMatch(/clementine|harbottle/i);
    expect((await contactOf(person.email)).donotbulkemail).not.toBe(true);
    expect((await memberOf(person.email))?.status).toBe('subscribed');
  });

  it('lets a withdrawal win over a grant with the same timestamp', async () => {
    const person = await plant({ mailchimpStatus: 'unsubscribed' });
    const same = '2026-06-02T08:00:00.000Z';
    await Promise.all([
      change(person.email, 'marketing_email', 'granted', same),
      change(person.email, 'marketing_email', 'withdrawn', same),
    ]);
    await settled(person.subjectKey, 'marketing_email', ['dynamics', 'mailchimp']);
    await delay(1500);
    expect((await consentStateFromLedger(ledger, person.subjectKey)).purposes.marketing_email?.decision).toBe(
      'withdrawn',
    );
    expect((await memberOf(person.email))?.status).toBe('unsubscribed');
  });

  it('re-grants a Mailchimp member who unsubscribed through pending, with no 400 loop', async () => {
    const person = await plant({ mailchimpStatus: 'unsubscribed' });
    await vendors.mailchimp.control.clearRequests();
    await change(person.email, 'marketing_email', 'granted', new Date().toISOString());
    const state = await settled(person.subjectKey, 'marketing_email', ['dynamics', 'mailchimp']);
    expect(state.outcomes.marketing_email?.mailchimp).toBe('pending_confirmation');
    expect((await memberOf(person.email))?.status).toBe('pending');
    const refusals = (await vendors.mailchimp.control.requests()).filter((r) => r.status === 400);
    expect(refusals).toEqual([]);
  });

  it('refuses a grant for an erased subject and leaves every sandbox unchanged, but still carries a withdrawal', async () => {
    const person = await plant();
    await ledger.recordTombstone({
      subjectKey: person.subjectKey,
      erasedAt: new Date().toISOString(),
      systems: ['dynamics', 'mailchimp', 'google'],
      firstRequestId: '00000000-0000-4000-8000-000000000001',
      lastRequestId: '00000000-0000-4000-8000-000000000001',
    });
    const before = JSON.stringify([await contactOf(person.email), await memberOf(person.email)]);
    const grant = await change(person.email, 'event_invitations', 'granted', new Date().toISOString());
    let status = await consentStatus(context, ledger, person.email);
    for (let i = 0; i < 50 && !status.refused.includes(grant.eventId); i++) {
      await delay(200);
      status = await consentStatus(context, ledger, person.email);
    }
    expect(status.refused).toContain(grant.eventId);
    expect(status.erased).toBe(true);
    await delay(500);
    expect(JSON.stringify([await contactOf(person.email), await memberOf(person.email)])).toBe(before);

    // The person is (still, or again) in the tools: their opt-out is never refused.
    await change(person.email, 'marketing_email', 'withdrawn', new Date().toISOString());
    for (let i = 0; i < 50 && (await memberOf(person.email))?.status !== 'unsubscribed'; i++)
      await delay(200);
    expect((await memberOf(person.email))?.status).toBe('unsubscribed');
    expect((await contactOf(person.email)).donotbulkemail).toBe(true);
    // Every system was erased, so the ledger keeps no consent data for them.
    expect(await ledger.listConsentEvents(person.subjectKey)).toEqual([]);
    expect(await ledger.listConsentOutcomes(person.subjectKey)).toEqual([]);
  });

  it('ends consistent in every system after a vendor outage during propagation heals', async () => {
    const person = await plant();
    await vendors.dynamics.control.outage(true);
    await change(person.email, 'marketing_email', 'withdrawn', new Date().toISOString());
    await delay(2500);
    expect((await contactOf(person.email)).donotbulkemail).toBe(false);
    await vendors.dynamics.control.outage(false);
    const state = await settled(person.subjectKey, 'marketing_email', ['dynamics', 'mailchimp']);
    expect(state.outcomes.marketing_email).toEqual({ dynamics: 'applied', mailchimp: 'applied' });
    expect((await contactOf(person.email)).donotbulkemail).toBe(true);
    expect((await memberOf(person.email))?.status).toBe('unsubscribed');
  });

  it('rejects a grant without evidence and an unknown purpose before anything is started', async () => {
    await expect(
      recordConsentChange(context, {
        email: 'x@example.com',
        purpose: 'marketing_email',
        decision: 'granted',
        occurredAt: new Date().toISOString(),
        source: 'test',
      }),
    ).rejects.toThrow(/a grant needs evidence/);
    const unknownPurpose = await recordConsentChange(context, {
      email: 'x@example.com',
      purpose: 'telepathy' as Purpose,
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'test',
    }).catch((error: { issues?: { message: string }[] }) => error.issues?.map((i) => i.message));
    expect(unknownPurpose).toEqual([
      'unknown purpose "telepathy"; known purposes: product_information, event_invitations, marketing_email, phone, postal_mail, statistics',
    ]);
  });
});
