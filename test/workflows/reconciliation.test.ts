import { setTimeout as delay } from 'node:timers/promises';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector } from '../../connectors/connector.js';
import { subscriberHash } from '../../connectors/mailchimp/subscriber-hash.js';
import type { ReconciliationReport } from '../../domain/reconciliation.js';
import type { ConsentClientContext } from '../../hub-client/consent.js';
import { recordConsentChange } from '../../hub-client/consent.js';
import { awaitReceipt, requestErasure } from '../../hub-client/erasures.js';
import { applyReconciliationSchedule } from '../../hub-client/reconciliation.js';
import { consentStateFromLedger } from '../../ledger/consent-state.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { closeConsentSystemUpdate, consentStatusQuery } from '../../workflows/consent-definitions.js';
import { reconciliationScheduleId } from '../../workflows/reconciliation-definitions.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

type Row = Record<string, unknown>;
const lists = { news: 'recon-news', events: 'recon-events' };
let counter = 0;

/**
 * Reconciliation against the real connectors and the sandboxes: drift is planted through the vendors' own
 * APIs (the connectors), and repaired only through the propagation and erasure workflows.
 */
describe('scheduled reconciliation', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let temporal: typeof hub.temporal;
  let vendors: typeof hub.vendors;
  let ledger: Ledger;
  let context: ConsentClientContext;
  let connectors: { dynamics: Connector; mailchimp: Connector };

  beforeAll(async () => {
    hub = await startHubWithVendors('reconcile');
    ({ temporal, vendors, ledger } = hub);
    connectors = hub.connectors as typeof connectors;
    context = temporal.context();
    await vendors.mailchimp.control.seed({
      lists: [
        { id: lists.news, name: 'Newsletter', members: [] },
        { id: lists.events, name: 'Events', members: [] },
      ],
    });
  });
  afterAll(() => hub?.close());

  async function plant(audiences: string[] = [lists.news]) {
    const email = `recon.${Date.now()}.${counter++}@example.com`;
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Re', lastname: 'Con', emailaddress1: email }],
    });
    await vendors.mailchimp.control.seed({
      lists: audiences.map((id) => ({
        id,
        name: id,
        members: [{ email_address: email, status: 'subscribed' as const }],
      })),
    });
    return { email, subjectKey: subjectKeyFor(email, context.subjectKeySecret) };
  }
  const subject = (email: string) => ({ email, gaClientIds: [], gaUserIds: [] });
  const change = {
    purpose: 'marketing_email' as const,
    occurredAt: new Date().toISOString(),
    hasEvidence: false,
  };

  const contactOf = async (email: string) =>
    ((await vendors.dynamics.control.state<{ contacts: Row[] }>()).contacts.find(
      (c) => c.emailaddress1 === email,
    ) ?? {}) as Row;
  const membersOf = async (email: string) =>
    (await vendors.mailchimp.control.state<{ lists: { id: string; members: Row[] }[] }>()).lists.flatMap(
      (l) =>
        l.members.filter((m) => m.email_address === email).map((m) => ({ list: l.id, status: m.status })),
    );

  async function reconcile(runId: string, full = false, pageSize = 50): Promise<ReconciliationReport> {
    return temporal.client.workflow.execute('reconciliationWorkflow', {
      taskQueue: temporal.taskQueue,
      workflowId: runId,
      args: [{ runId, full, pageSize }],
    });
  }

  async function until(check: () => Promise<boolean>, what: string) {
    for (let i = 0; i < 150; i++) {
      if (await check()) return;
      await delay(200);
    }
    throw new Error(`never: ${what}`);
  }

  it('repairs a Mailchimp unsubscribe, a Dynamics do-not-email flag and a re-imported erased person, and reverts an opt-in that contradicts a withdrawal applied there', async () => {
    const unsubscribed = await plant();
    const flagged = await plant();
    const erased = await plant();
    const optedIn = await plant();

    // The opt-in: the hub carried this person's opt-out everywhere; then a rep ticks "allow" in the CRM.
    await recordConsentChange(context, {
      email: optedIn.email,
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date(Date.now() - 60_000).toISOString(),
      source: 'test',
    });
    await until(async () => {
      const state = await consentStateFromLedger(ledger, optedIn.subjectKey);
      return (
        state.outcomes.marketing_email?.dynamics === 'applied' &&
        state.outcomes.marketing_email?.mailchimp === 'applied'
      );
    }, 'the opt-out reached both tools');
    await connectors.dynamics.applyConsent(subject(optedIn.email), { ...change, decision: 'granted' });

    // The erased person: erased through the hub, then an old CSV puts them back in one audience.
    const receipt = await awaitReceipt(
      context,
      await requestErasure(context, {
        email: erased.email,
        requestedBy: 'test',
        requestedAt: new Date().toISOString(),
      }),
    );
    expect(receipt.outcome).toBe('completed');
    await vendors.mailchimp.control.seed({
      lists: [
        {
          id: lists.events,
          name: lists.events,
          members: [{ email_address: erased.email, status: 'subscribed' }],
        },
      ],
    });

    // Changes made in the tools themselves, through their APIs, that the hub never saw.
    await connectors.mailchimp.applyConsent(subject(unsubscribed.email), {
      ...change,
      decision: 'withdrawn',
    });
    await connectors.dynamics.applyConsent(subject(flagged.email), { ...change, decision: 'withdrawn' });

    const report = await reconcile(`recon-drift-${Date.now()}`, true);
    expect(report.drift.opt_out_not_propagated).toBeGreaterThanOrEqual(2);
    expect(report.drift.erased_subject_reappeared).toBe(1);
    expect(report.drift.opt_in_reverted).toBe(1);
    expect(report.needsAttention).toEqual([]);
    await until(
      async () => (await contactOf(optedIn.email)).donotbulkemail === true,
      'the contradicting opt-in reverted in Dynamics',
    );

    await until(
      async () => (await contactOf(unsubscribed.email)).donotbulkemail === true,
      'Mailchimp opt-out in Dynamics',
    );
    await until(
      async () => (await membersOf(flagged.email)).every((m) => m.status === 'unsubscribed'),
      'Dynamics opt-out in Mailchimp',
    );
    await until(
      async () => (await membersOf(erased.email)).length === 0,
      'the re-imported person erased again',
    );
    // An unsubscribe withdraws every purpose the membership carries (as Mailchimp's webhook records it).
    const recorded = (await ledger.listConsentEvents(unsubscribed.subjectKey)).map(
      (e) => `${e.purpose}:${e.decision}:${e.source}`,
    );
    expect(recorded.sort()).toEqual([
      'event_invitations:withdrawn:reconciliation:mailchimp',
      'marketing_email:withdrawn:reconciliation:mailchimp',
      'product_information:withdrawn:reconciliation:mailchimp',
    ]);
    // The deletion is seen before the re-erasure has searched again and stored its receipt.
    await until(
      async () => (await ledger.listReceipts({ subjectKey: erased.subjectKey })).length === 2,
      'the re-erasure receipt stored',
    );
    const receipts = await ledger.listReceipts({ subjectKey: erased.subjectKey });
    expect(receipts[1]?.reason).toBe('reappeared_after_erasure');
    expect(receipts[1]?.reErasureOf).toBe(receipt.requestId);
    expect(receipts[1]?.reasonNote).toContain(receipt.requestId);
    expect((await ledger.listRuns(1))[0]?.runId).toBe(report.runId);

    // A person who really wants the mail again says so through the hub: a grant with evidence.
    await recordConsentChange(context, {
      email: optedIn.email,
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: new Date().toISOString(),
      source: 'test',
      evidence: { formId: 'preference-centre', policyVersion: '2024-05' },
    });
    await until(
      async () =>
        (await consentStateFromLedger(ledger, optedIn.subjectKey)).outcomes.marketing_email?.mailchimp !==
        undefined,
      'the grant carried to Mailchimp',
    );
  });

  it('compares each shared field with the state all decisions call for: a field the hub withdrew for another purpose is no withdrawal, and an opt-in against it is reverted', {
    timeout: 90_000,
  }, async () => {
    const person = await plant([lists.news, lists.events]);
    const withdraw = (purpose: 'event_invitations', occurredAt: string) =>
      recordConsentChange(context, {
        email: person.email,
        purpose,
        decision: 'withdrawn',
        occurredAt,
        source: 'test',
      });
    const base = Date.now() - 120_000;
    // event_invitations shares donotbulkemail in Dynamics and membership in every Mailchimp audience with
    // marketing_email (and membership with product_information): the hub withdraws those fields for it.
    await withdraw('event_invitations', new Date(base).toISOString());
    await until(async () => {
      const state = await consentStateFromLedger(ledger, person.subjectKey);
      return (
        state.outcomes.event_invitations?.dynamics === 'applied' &&
        state.outcomes.event_invitations?.mailchimp === 'applied'
      );
    }, 'the withdrawal reached both tools');
    expect((await contactOf(person.email)).donotbulkemail).toBe(true);
    expect((await membersOf(person.email)).map((m) => m.status)).toEqual(['unsubscribed', 'unsubscribed']);

    // A grant of a purpose sharing those fields: withheld there, and no withdrawal of it either.
    await recordConsentChange(context, {
      email: person.email,
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: new Date(base + 1000).toISOString(),
      source: 'test',
      evidence: { formId: 'preferences', policyVersion: '2026-01' },
    });
    await until(async () => {
      const state = await consentStateFromLedger(ledger, person.subjectKey);
      return state.outcomes.marketing_email?.mailchimp === 'withheld';
    }, 'the grant withheld in Mailchimp');

    const first = await reconcile(`recon-shared-${Date.now()}`, true);
    const events = await ledger.listConsentEvents(person.subjectKey);
    expect(events.map((e) => `${e.purpose}:${e.decision}:${e.source}`).sort()).toEqual([
      'event_invitations:withdrawn:test',
      'marketing_email:granted:test',
    ]);
    expect(first.needsAttention.filter((d) => d.subjectKey === person.subjectKey)).toEqual([]);

    // Someone re-subscribes the person in one audience: a true contradiction of a withdrawal the hub
    // applied there, so the state in force is written again (once for the person, for every field).
    await vendors.mailchimp.control.seed({
      lists: [
        {
          id: lists.events,
          name: lists.events,
          members: [{ email_address: person.email, status: 'subscribed' as const }],
        },
      ],
    });
    await vendors.mailchimp.control.clearRequests();
    const second = await reconcile(`recon-shared-${Date.now()}`, true);
    expect(second.drift.opt_in_reverted).toBeGreaterThanOrEqual(1);
    await until(
      async () => (await membersOf(person.email)).every((m) => m.status === 'unsubscribed'),
      'the opt-in reverted',
    );
    expect((await ledger.listConsentEvents(person.subjectKey)).map((e) => e.source).sort()).toEqual([
      'test',
      'test',
    ]);
  });

  it('reports a CRM row whose address the parser refuses, marks it for an operator, and goes on to the rows after it', async () => {
    const stamp = `${Date.now()}.${counter++}`;
    const good = `lemmy&phil.${stamp}@example.com`;
    // Stray dots in a local part are what Japanese carriers issued: an address, and its opt-out is carried.
    const strayDots = `.stray..dots.${stamp}.@docomo.ne.jp`;
    await vendors.dynamics.control.seed({
      contacts: [
        {
          firstname: 'Bad',
          lastname: 'Row',
          emailaddress1: `broken dots.${stamp}@example.com`,
          donotbulkemail: true,
        },
        { firstname: 'Good', lastname: 'Row', emailaddress1: good, donotbulkemail: true },
        { firstname: 'Stray', lastname: 'Dots', emailaddress1: strayDots, donotbulkemail: true },
      ],
    });
    const state = await vendors.dynamics.control.state<{ contacts: Record<string, unknown>[] }>();
    const badId = state.contacts.find((row) =>
      String(row.emailaddress1).startsWith('broken dots'),
    )?.contactid;
    const report = await reconcile(`recon-bad-row-${stamp}`, true);
    expect(report.systems.dynamics.done).toBe(true);
    expect(report.recordErrors).toContainEqual({
      system: 'dynamics',
      recordId: badId,
      reason: 'the address is not an address under RFC 5321/6531',
    });
    expect(JSON.stringify(report)).not.toContain('broken dots');
    expect(
      (report.recordErrors ?? []).filter((error) => error.system === 'dynamics' && error.recordId !== badId),
    ).toEqual([]);
    expect(await ledger.getWatermark('dynamics')).toBeDefined();
    // The rows after the bad one were handled: their opt-outs are recorded and carried.
    for (const email of [good, strayDots]) {
      await until(
        async () =>
          (await consentStateFromLedger(ledger, subjectKeyFor(email, context.subjectKeySecret))).purposes
            .marketing_email?.decision === 'withdrawn',
        `the opt-out of ${email.startsWith('.') ? 'the stray-dots row' : 'the good row'} was recorded`,
      );
    }
  });

  it('finds nothing and changes nothing in a second run straight after a clean one', async () => {
    await delay(6000);
    const clean = await reconcile(`recon-clean-${Date.now()}`);
    expect(clean.needsAttention).toEqual([]);
    await delay(6000);
    await vendors.dynamics.control.clearRequests();
    await vendors.mailchimp.control.clearRequests();
    const second = await reconcile(`recon-second-${Date.now()}`);
    expect(second.drift).toEqual({
      opt_out_not_propagated: 0,
      erased_subject_reappeared: 0,
      unexplained_opt_in: 0,
      opt_in_reverted: 0,
      failed_withdrawal_reapplied: 0,
      failed_withdrawal_unreachable: 0,
    });
    expect(second.repairsStarted).toBe(0);
    const writes = [
      ...(await vendors.dynamics.control.requests()),
      ...(await vendors.mailchimp.control.requests()),
    ].filter((r) => r.method !== 'GET' && !r.path.includes('/token'));
    expect(writes).toEqual([]);
  });

  it('writes a withdrawal closed by an operator again once the tool answers, and reports the opt-in it left', {
    timeout: 60_000,
  }, async () => {
    const person = await plant();
    await vendors.mailchimp.control.fail({
      method: 'PATCH',
      path: `/members/${subscriberHash(person.email)}$`,
      status: 403,
      count: 1,
    });
    await recordConsentChange(context, {
      email: person.email,
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'test',
    });
    const handle = temporal.client.workflow.getHandle(`consent-${person.subjectKey}`);
    await until(async () => {
      const status = await handle.query(consentStatusQuery);
      return status.systems.mailchimp.status === 'needs_attention';
    }, 'Mailchimp waiting for an operator');
    await handle.executeUpdate(closeConsentSystemUpdate, {
      args: [{ system: 'mailchimp', reason: 'test: closed' }],
    });
    await until(
      async () => (await ledger.listUnresolvedConsentSubjects('mailchimp', 100)).includes(person.subjectKey),
      'the closed withdrawal recorded',
    );
    expect((await membersOf(person.email)).map((m) => m.status)).toEqual(['subscribed']);

    const report = await reconcile(`recon-failed-${Date.now()}`, true);
    expect(report.drift.failed_withdrawal_reapplied).toBeGreaterThanOrEqual(1);
    expect(report.needsAttention).toContainEqual({
      kind: 'unexplained_opt_in',
      system: 'mailchimp',
      subjectKey: person.subjectKey,
      purpose: 'marketing_email',
    });
    await until(
      async () => (await membersOf(person.email)).every((m) => m.status === 'unsubscribed'),
      'the withdrawal written again in Mailchimp',
    );
    await until(
      async () => !(await ledger.listUnresolvedConsentSubjects('mailchimp', 100)).includes(person.subjectKey),
      'the withdrawal resolved in the ledger',
    );
  });

  it('resumes after a worker restart without re-reading finished pages or repeating a repair', async () => {
    const planted = [];
    for (let i = 0; i < 12; i++) planted.push(await plant([lists.events]));
    for (const person of planted.slice(0, 4)) {
      await connectors.mailchimp.applyConsent(subject(person.email), { ...change, decision: 'withdrawn' });
    }
    await vendors.mailchimp.control.clearRequests();
    await vendors.mailchimp.control.setLatency(400);
    const runId = `recon-restart-${Date.now()}`;
    const handle = await temporal.client.workflow.start('reconciliationWorkflow', {
      taskQueue: temporal.taskQueue,
      workflowId: runId,
      args: [{ runId, full: true, pageSize: 3 }],
    });
    await delay(2500);
    await vendors.mailchimp.control.setLatency(0);
    await hub.restartWorker();
    const report = (await handle.result()) as ReconciliationReport;

    const memberPages = (await vendors.mailchimp.control.requests()).filter(
      (r) => r.method === 'GET' && /\/lists\/[^/]+\/members$/.test(r.path),
    );
    expect(report.systems.mailchimp.pages).toBeGreaterThan(3);
    // Mailchimp tells how many members the read holds, so progress is records done out of a total.
    expect(report.systems.mailchimp.total).toBe(report.systems.mailchimp.people);
    expect(report.systems.mailchimp.people).toBeGreaterThanOrEqual(12);
    // At most the page in flight at the restart is read twice.
    expect(memberPages.length).toBeLessThanOrEqual(report.systems.mailchimp.pages + 1);
    for (const person of planted.slice(0, 4)) {
      // The run signals each person's consent workflow, which records the withdrawals in its own activity:
      // they may reach the ledger after the run has ended.
      const fromRun = async () =>
        (await ledger.listConsentEvents(person.subjectKey))
          .filter((e) => e.source === 'reconciliation:mailchimp')
          .map((e) => e.purpose)
          .sort();
      await until(async () => (await fromRun()).length >= 3, 'the withdrawals the run found recorded');
      // One withdrawal per purpose the membership carries, each recorded once despite the restart.
      expect(await fromRun()).toEqual(['event_invitations', 'marketing_email', 'product_information']);
    }
  });

  it('records an unsubscribe as a withdrawal of exactly the purposes the audience membership carries, and a cleaned (bounced) member as no decision', async () => {
    const left = await plant();
    const bounced = await plant();
    await vendors.mailchimp.control.seed({
      lists: [
        {
          id: lists.news,
          name: lists.news,
          members: [
            { email_address: left.email, status: 'unsubscribed' },
            { email_address: bounced.email, status: 'cleaned' },
          ],
        },
      ],
    });
    const report = await reconcile(`recon-cleaned-${Date.now()}`, true);
    const fromRun = async (subjectKey: string) =>
      (await ledger.listConsentEvents(subjectKey))
        .filter((e) => e.source === 'reconciliation:mailchimp')
        .map((e) => e.purpose)
        .sort();
    await until(async () => (await fromRun(left.subjectKey)).length >= 3, 'the unsubscribe recorded');
    // The same rule as the webhook's: not phone or postal mail, which an email audience does not carry.
    expect(await fromRun(left.subjectKey)).toEqual([
      'event_invitations',
      'marketing_email',
      'product_information',
    ]);
    expect(JSON.stringify(report)).not.toContain(bounced.subjectKey);
    expect(await ledger.listConsentEvents(bounced.subjectKey)).toEqual([]);
  });

  it('creates the schedule idempotently, with overlapping runs skipped', async () => {
    expect(await applyReconciliationSchedule(context, '0 2 * * *')).toBe('created');
    expect(await applyReconciliationSchedule(context, '30 3 * * *')).toBe('updated');
    const description = await temporal.client.schedule.getHandle(reconciliationScheduleId).describe();
    // The server keeps a cron expression as a calendar spec: 03:30 every day, from the update.
    expect(description.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 3, end: 3, step: 1 }] });
    expect(description.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);

    await vendors.dynamics.control.setLatency(1500);
    const handle = temporal.client.schedule.getHandle(reconciliationScheduleId);
    // A manual trigger defaults to "allow all"; triggering with the schedule's own policy shows what a
    // scheduled firing does while a run is still going.
    await handle.trigger(description.policies.overlap);
    await delay(300);
    await handle.trigger(description.policies.overlap);
    await delay(1500);
    const after = await handle.describe();
    expect(after.info.numActionsSkippedOverlap).toBeGreaterThanOrEqual(1);
    await vendors.dynamics.control.setLatency(0);
    await handle.delete();
  });
});
