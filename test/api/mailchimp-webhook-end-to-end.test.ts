import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscriberHash } from '../../connectors/mailchimp/subscriber-hash.js';
import { buildConnectors } from '../../connectors/registry.js';
import { consentStatus, recordConsentChange } from '../../hub-client/consent.js';
import { intakeBuffer } from '../../hub-client/consent-batch.js';
import {
  awaitReceipt,
  closeErasureSystem,
  lookupErasure,
  requestErasure,
} from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';
import {
  buildTestApi,
  capturingLogger,
  freshApiKey,
  freshWebhookSecret,
  hubContext,
} from './api-test-kit.js';

type Row = Record<string, unknown>;
const listId = 'webhook-news';
/** What an unsubscribe in that audience withdraws under the default purpose map: its membership's purposes. */
const membershipPurposes = ['event_invitations', 'marketing_email', 'product_information'];
let counter = 0;

/**
 * The whole loop on the real dev server, with a real worker and the real connectors: a person unsubscribes in
 * the Mailchimp sandbox, the sandbox posts its webhook to the API, and the withdrawal reaches Dynamics. No
 * reconciliation runs anywhere in this file.
 */
describe('Mailchimp unsubscribe webhook, end to end', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let worker: { stop(): Promise<void> };
  let ledger: Ledger;
  let app: FastifyInstance;
  let apiUrl: string;
  const secret = freshWebhookSecret();
  const logs = capturingLogger();

  beforeAll(async () => {
    temporal = await connectTestTemporal('api-webhook');
    vendors = await startVendorSandboxes();
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'webhook-ledger-')) }, silentLogger);
    const built = buildConnectors({ ...process.env, ...vendors.env }, silentLogger);
    worker = await temporal.startWorker({ connectors: built.connectors, ledger });
    app = await buildTestApi({
      hub: hubContext(temporal, temporal.taskQueue),
      ledger,
      key: freshApiKey(),
      webhookSecret: secret,
      logger: logs.logger,
    });
    // Plain HTTP on loopback, as in dev; the sandbox posts to whatever URL is saved.
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await vendors.mailchimp.control.seed({ lists: [{ id: listId, name: 'Newsletter', members: [] }] });
    const saved = await mailchimp('POST', `/lists/${listId}/webhooks`, {
      url: `${apiUrl}/webhooks/mailchimp/${secret}`,
      events: { unsubscribe: true, cleaned: true, profile: true },
      sources: { user: true, admin: true, api: false },
    });
    expect(saved.status).toBe(200);
  });
  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await ledger?.close();
    await vendors?.close();
    await temporal?.close();
  });

  async function mailchimp(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    const key = vendors.env.MAILCHIMP_API_KEY as string;
    const response = await fetch(`${vendors.env.MAILCHIMP_API_URL}${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`person:${key}`).toString('base64')}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.text()) || undefined };
  }

  async function plant() {
    const email = `webhook.${Date.now()}.${counter++}@example.com`;
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Web', lastname: 'Hook', emailaddress1: email }],
    });
    await vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Newsletter', members: [{ email_address: email, status: 'subscribed' }] }],
    });
    return { email, subjectKey: subjectKeyFor(email, temporal.secrets.subjectKeySecret) };
  }
  const contactOf = async (email: string) =>
    ((await vendors.dynamics.control.state<{ contacts: Row[] }>()).contacts.find(
      (c) => c.emailaddress1 === email,
    ) ?? {}) as Row;
  async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    for (let i = 0; i < 150; i++) {
      const value = await read();
      if (done(value)) return value;
      await delay(200);
    }
    throw new Error(`${what} never happened`);
  }
  const hookPost = (path: string, form: Record<string, string>) =>
    fetch(`${apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });

  it('an unsubscribe clicked in Mailchimp reaches Dynamics (donotbulkemail) as a withdrawal of exactly the purposes the audience membership carries', async () => {
    const person = await plant();
    expect((await contactOf(person.email)).donotbulkemail).not.toBe(true);
    const clicked = await mailchimp(
      'PATCH',
      `/lists/${listId}/members/${subscriberHash(person.email)}`,
      { status: 'unsubscribed' },
      { 'x-sandbox-source': 'user' },
    );
    expect(clicked.status).toBe(200);
    // Each purpose is its own consent change, so the two flags may land in two writes: wait for both.
    const contact = await until(
      'the opt-out in Dynamics',
      () => contactOf(person.email),
      (c) => c.donotbulkemail === true && c.donotsendmm === true,
    );
    expect(contact).toMatchObject({ donotbulkemail: true, donotsendmm: true });

    const events = await until(
      'the membership purposes withdrawn in the ledger',
      () => ledger.listConsentEvents(person.subjectKey),
      (list) => list.length >= membershipPurposes.length,
    );
    // Not phone or postal mail: leaving an email audience says nothing about them.
    expect(events.map((e) => e.purpose).sort()).toEqual(membershipPurposes);
    expect((await contactOf(person.email)).donotphone).not.toBe(true);
    for (const event of events) {
      expect(event).toMatchObject({
        decision: 'withdrawn',
        source: 'mailchimp',
        evidence: { channel: 'mailchimp-webhook' },
      });
      expect(event.evidence.requestRef).toMatch(/^mailchimp:[0-9a-f]{64}$/);
      // occurredAt is Mailchimp's fired_at: whole seconds, UTC.
      expect(event.occurredAt).toMatch(/:\d{2}\.000Z$/);
    }
    const deliveries = (await vendors.mailchimp.control.state<{ webhooks: { deliveries: Row[] } }>()).webhooks
      .deliveries;
    expect(deliveries).toContainEqual(expect.objectContaining({ type: 'unsubscribe', status: 200 }));
    expect(logs.lines.join('')).not.toContain(person.email);
    expect(logs.lines.join('')).not.toContain(secret);
  });

  it('a Mailchimp-side delete (action delete) is an opt-out, never an erasure', async () => {
    const person = await plant();
    await mailchimp('DELETE', `/lists/${listId}/members/${subscriberHash(person.email)}`, undefined, {
      'x-sandbox-source': 'admin',
    });
    const contact = await until(
      'the opt-out in Dynamics',
      () => contactOf(person.email),
      (c) => c.donotbulkemail === true,
    );
    expect(contact.emailaddress1).toBe(person.email);
    await expect(
      temporal.client.workflow.getHandle(`erasure-${person.subjectKey}`).describe(),
    ).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it("an unsubscribe whose fired_at lies ahead of the hub's clock or is no time is answered 200 and recorded at the hub's receive time, fired_at kept as evidence and flagged as clock skew", async () => {
    for (const [firedAt, skew] of [
      ['2099-01-01 00:00:00', 'ahead_of_hub_clock'],
      ['tomorrow-ish', 'unreadable'],
    ] as const) {
      const person = await plant();
      const before = Date.now();
      const answer = await hookPost(`/webhooks/mailchimp/${secret}`, {
        type: 'unsubscribe',
        fired_at: firedAt,
        'data[id]': `skew${counter}`,
        'data[email]': person.email,
        'data[list_id]': listId,
        'data[action]': 'unsub',
      });
      // Any other answer would have Mailchimp retry it, and a time Mailchimp wrote wrong never gets better.
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ firedAt, clockSkew: skew });
      const events = await until(
        'the withdrawals in the ledger',
        () => ledger.listConsentEvents(person.subjectKey),
        (list) => list.length >= membershipPurposes.length,
      );
      for (const event of events) {
        expect(Date.parse(event.occurredAt)).toBeGreaterThanOrEqual(before - 1000);
        expect(Date.parse(event.occurredAt)).toBeLessThanOrEqual(Date.now());
        expect(event.evidence.note).toContain(`clock skew: Mailchimp fired_at "${firedAt}"`);
      }
      expect(logs.lines.join('')).toContain(`"clockSkew":"${skew}"`);
    }
    expect(logs.lines.join('')).not.toContain(secret);
  });

  it('an unsubscribe whose fired_at is months old keeps that time: it orders the decision and loses to anything later', async () => {
    const person = await plant();
    const answer = await hookPost(`/webhooks/mailchimp/${secret}`, {
      type: 'unsubscribe',
      fired_at: '2020-02-03 04:05:06',
      'data[id]': `old${counter}`,
      'data[email]': person.email,
      'data[list_id]': listId,
      'data[action]': 'unsub',
    });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ clockSkew: 'older_than_floor' });
    const events = await until(
      'the withdrawals in the ledger',
      () => ledger.listConsentEvents(person.subjectKey),
      (list) => list.length >= membershipPurposes.length,
    );
    expect(events.map((e) => e.occurredAt)).toEqual(membershipPurposes.map(() => '2020-02-03T04:05:06.000Z'));
  });

  it('a replayed delivery records its withdrawals once', async () => {
    const person = await plant();
    const form = {
      type: 'unsubscribe',
      fired_at: '2026-05-04 09:15:30',
      'data[id]': 'abc123def0',
      'data[email]': person.email,
      'data[list_id]': listId,
      'data[action]': 'unsub',
      'data[reason]': 'manual',
      'data[merges][EMAIL]': person.email,
    };
    const first = await hookPost(`/webhooks/mailchimp/${secret}`, form);
    const second = await hookPost(`/webhooks/mailchimp/${secret}`, form);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.json()).toEqual(await first.json());
    await until(
      'the opt-out in Dynamics',
      () => contactOf(person.email),
      (c) => c.donotbulkemail === true,
    );
    await delay(1500);
    const events = await ledger.listConsentEvents(person.subjectKey);
    expect(events).toHaveLength(membershipPurposes.length);
    expect(events.map((e) => e.purpose).sort()).toEqual(membershipPurposes);
    expect(events.every((e) => e.occurredAt === '2026-05-04T09:15:30.000Z')).toBe(true);
  });

  it('a burst of unsubscribes goes through the bulk path: each person’s withdrawals recorded with their own evidence and written, no consent workflow per person; a lone one goes to the person’s own workflow', async () => {
    const burst = await Promise.all(Array.from({ length: intakeBuffer.bulkFrom + 1 }, () => plant()));
    // Sent at the start of a window, so that the whole burst meets in one buffer.
    await delay(intakeBuffer.windowMs - (Date.now() % intakeBuffer.windowMs) + 20);
    const answers = await Promise.all(
      burst.map((person, n) =>
        hookPost(`/webhooks/mailchimp/${secret}`, {
          type: 'unsubscribe',
          fired_at: '2026-05-04 10:00:00',
          'data[id]': `burst${n}${counter}`,
          'data[email]': person.email,
          'data[list_id]': listId,
          'data[action]': 'unsub',
          'data[reason]': 'manual',
        }),
      ),
    );
    const bodies = (await Promise.all(answers.map((a) => a.json()))) as {
      subjectKey: string;
      eventIds: string[];
    }[];
    expect(bodies.map((b) => b.subjectKey)).toEqual(burst.map((p) => p.subjectKey));
    for (const [n, person] of burst.entries()) {
      await until(
        'the opt-out in Dynamics',
        () => contactOf(person.email),
        (c) => c.donotbulkemail === true,
      );
      const events = await until(
        'the withdrawals in the ledger',
        () => ledger.listConsentEvents(person.subjectKey),
        (list) => list.length >= membershipPurposes.length,
      );
      expect(events.map((e) => e.id).sort()).toEqual([...(bodies[n]?.eventIds ?? [])].sort());
      expect(
        events.every((e) => e.source === 'mailchimp' && e.occurredAt === '2026-05-04T10:00:00.000Z'),
      ).toBe(true);
      await expect(
        temporal.client.workflow.getHandle(`consent-${person.subjectKey}`).describe(),
      ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    }

    // Alone in its window: the person's own consent workflow takes it, as a single change always went.
    await delay(intakeBuffer.windowMs + 500);
    const lone = await plant();
    const answer = await hookPost(`/webhooks/mailchimp/${secret}`, {
      type: 'unsubscribe',
      fired_at: '2026-05-04 10:05:00',
      'data[id]': `lone${counter}`,
      'data[email]': lone.email,
      'data[list_id]': listId,
      'data[action]': 'unsub',
      'data[reason]': 'manual',
    });
    expect(answer.status).toBe(200);
    await until(
      'the opt-out in Dynamics',
      () => contactOf(lone.email),
      (c) => c.donotbulkemail === true,
    );
    expect((await temporal.client.workflow.getHandle(`consent-${lone.subjectKey}`).describe()).type).toBe(
      'consentWorkflow',
    );
  });

  it('a forged webhook (wrong secret) gets 404 and changes nothing', async () => {
    const person = await plant();
    const form = {
      type: 'unsubscribe',
      fired_at: '2026-05-04 10:00:00',
      'data[id]': 'f0f0f0f0f0',
      'data[email]': person.email,
      'data[list_id]': listId,
      'data[action]': 'delete',
    };
    for (const path of [
      `/webhooks/mailchimp/${secret}x`,
      `/webhooks/mailchimp/${'a'.repeat(secret.length)}`,
      '/webhooks/mailchimp/',
      '/webhooks/mailchimp',
    ]) {
      expect((await hookPost(path, form)).status).toBe(404);
      expect((await fetch(`${apiUrl}${path}`)).status).toBe(404);
    }
    expect((await fetch(`${apiUrl}/webhooks/mailchimp/${secret}`)).status).toBe(200);
    await delay(2000);
    await expect(
      temporal.client.workflow.getHandle(`consent-${person.subjectKey}`).describe(),
    ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(await ledger.listConsentEvents(person.subjectKey)).toEqual([]);
    expect((await contactOf(person.email)).donotbulkemail).not.toBe(true);
  });

  it('a profile change and a cleaned (bounced) address are acknowledged and change no consent: a bounce is no decision of the person', async () => {
    const person = await plant();
    const profile = await hookPost(`/webhooks/mailchimp/${secret}`, {
      type: 'profile',
      fired_at: '2026-05-04 11:00:00',
      'data[id]': 'aaaaaaaaaa',
      'data[email]': person.email,
      'data[list_id]': listId,
    });
    expect(profile.status).toBe(200);
    const cleaned = await hookPost(`/webhooks/mailchimp/${secret}`, {
      type: 'cleaned',
      fired_at: '2026-05-04 11:05:00',
      'data[email]': person.email,
      'data[list_id]': listId,
      'data[reason]': 'hard',
    });
    expect(cleaned.status).toBe(200);
    expect(await cleaned.json()).toEqual({ acknowledged: true });
    await delay(2000);
    expect(await ledger.listConsentEvents(person.subjectKey)).toEqual([]);
    await expect(
      temporal.client.workflow.getHandle(`consent-${person.subjectKey}`).describe(),
    ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect((await contactOf(person.email)).donotbulkemail).not.toBe(true);
  });

  it('three identical deliveries at the same instant record one consent event per purpose', async () => {
    const person = await plant();
    const form = {
      type: 'unsubscribe',
      fired_at: '2026-05-05 08:00:00',
      'data[id]': 'c0ffee0001',
      'data[email]': person.email,
      'data[list_id]': listId,
      'data[action]': 'unsub',
      'data[reason]': 'manual',
    };
    const answers = await Promise.all([1, 2, 3].map(() => hookPost(`/webhooks/mailchimp/${secret}`, form)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const bodies = await Promise.all(answers.map((a) => a.json()));
    // Every copy names the same events: their ids derive from the delivery's content.
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual(bodies[0]);
    await until(
      'the opt-out in Dynamics',
      () => contactOf(person.email),
      (c) => c.donotbulkemail === true,
    );
    await delay(1500);
    const events = await ledger.listConsentEvents(person.subjectKey);
    expect(events).toHaveLength(membershipPurposes.length);
    expect(events.map((e) => e.purpose).sort()).toEqual(membershipPurposes);
  });

  it('after an erasure closed in Mailchimp, an unsubscribe still unsubscribes there, is recorded under the tombstone, and no grant is applied', {
    timeout: 60_000,
  }, async () => {
    const person = await plant();
    await vendors.mailchimp.control.fail({
      method: 'POST',
      path: 'delete-permanent',
      status: 403,
      count: 1,
    });
    const hub = hubContext(temporal, temporal.taskQueue);
    const started = await requestErasure(hub, {
      email: person.email,
      requestedBy: 'test',
      requestedAt: new Date().toISOString(),
    });
    await until(
      'Mailchimp needing attention in the erasure',
      () => lookupErasure(hub, started.requestId),
      (view) => view.state === 'open' && view.status.systems.mailchimp.status === 'needs_attention',
    );
    await closeErasureSystem(hub, started.requestId, { system: 'mailchimp', reason: 'test: vendor refused' });
    const receipt = await awaitReceipt(hub, started);
    expect(receipt.systems.mailchimp.status).toBe('closed_by_operator');
    expect(await ledger.getTombstone(person.subjectKey)).toBeDefined();
    const memberStatus = async () =>
      (await vendors.mailchimp.control.state<{ lists: { id: string; members: Row[] }[] }>()).lists
        .find((l) => l.id === listId)
        ?.members.find((m) => m.email_address === person.email)?.status;
    expect(await memberStatus()).toBe('subscribed');

    const clicked = await hookPost(`/webhooks/mailchimp/${secret}`, {
      type: 'unsubscribe',
      fired_at: '2026-05-06 09:00:00',
      'data[id]': 'c0ffee0002',
      'data[email]': person.email,
      'data[list_id]': listId,
      'data[action]': 'unsub',
    });
    expect(clicked.status).toBe(200);
    await until('the member unsubscribed', memberStatus, (status) => status === 'unsubscribed');
    const events = await until(
      'the opt-out recorded under the tombstone',
      () => ledger.listConsentEvents(person.subjectKey),
      (list) => list.length === membershipPurposes.length,
    );
    expect(events.every((e) => e.decision === 'withdrawn')).toBe(true);

    // A later grant with evidence is refused: the tombstone stops grants, and the member stays unsubscribed.
    const grant = await recordConsentChange(hub, {
      email: person.email,
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: new Date().toISOString(),
      source: 'test',
      evidence: { formId: 'signup', policyVersion: '2026-01' },
    });
    await until(
      'the grant refused',
      () => consentStatus(hub, ledger, person.email),
      (status) => status.refused.includes(grant.eventId),
    );
    await delay(1000);
    expect(await memberStatus()).toBe('unsubscribed');
    expect((await ledger.listConsentEvents(person.subjectKey)).some((e) => e.decision === 'granted')).toBe(
      false,
    );
  });
});
