import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import type { EraseResult, FindResult, SubjectIdentifiers } from '../../connectors/connector.js';
import { NonRetryableVendorError, RetryableVendorError } from '../../connectors/connector-errors.js';
import type { ErasureStatusView } from '../../domain/erasure.js';
import {
  awaitReceipt,
  closeErasureSystem,
  type HubClientContext,
  listErasures,
  lookupErasure,
  requestErasure,
  retryErasureSystem,
} from '../../hub-client/erasures.js';
import { keyedVendorId } from '../../privacy/keyed-id.js';
import {
  closeSystemUpdate,
  erasureStatusQuery,
  retrySystemUpdate,
} from '../../workflows/erasure-definitions.js';
import { rawHistoryText } from '../support/history.js';
import { connectTestTemporal } from '../support/temporal.js';

type Behaviour = 'ok' | 'nothing' | 'bad-credentials' | 'unavailable' | 'daily-quota';

/** Longer than the tests' attentionAfter (3 s), so no activity retry could wait for it. */
const quotaResetMs = 4_000;

/** Stand-in connectors whose behaviour a test sets per system; they record what they were asked. */
function stubConnectors() {
  const behaviour: Record<'dynamics' | 'mailchimp' | 'google', Behaviour> = {
    dynamics: 'ok',
    mailchimp: 'ok',
    google: 'ok',
  };
  const googleSubjects: SubjectIdentifiers[] = [];
  const fail = (system: 'dynamics' | 'mailchimp' | 'google') => {
    if (behaviour[system] === 'bad-credentials') {
      throw new NonRetryableVendorError({
        system,
        operation: 'erase',
        status: 401,
        reason: 'API Key Invalid',
      });
    }
    if (behaviour[system] === 'daily-quota') {
      // Like Google's daily quota: retry only after a wait longer than the step's attention deadline.
      throw new RetryableVendorError({
        system,
        operation: 'erase',
        status: 429,
        vendorCode: 'RESOURCE_EXHAUSTED',
        reason: 'daily quota used up',
        retryAfterMs: quotaResetMs,
      });
    }
    if (behaviour[system] === 'unavailable') {
      throw new RetryableVendorError({
        system,
        operation: 'erase',
        status: 503,
        reason: 'Service Unavailable',
      });
    }
  };
  const none: FindResult = { records: [], gaClientIds: [], gaUserIds: [] };
  // What each stub tool holds, per subject: one record, until it is deleted.
  const deleted = new Set<string>();
  const held = (
    system: string,
    subject: SubjectIdentifiers,
    record: { kind: string; id: string; container?: string },
  ) =>
    behaviour[system as keyof typeof behaviour] === 'nothing' ||
    deleted.has(`${system}|${subject.email}|${record.kind}`)
      ? []
      : [record];
  const deleteRecord =
    (system: 'dynamics' | 'mailchimp') => async (subject: SubjectIdentifiers, record: { kind: string }) => {
      fail(system);
      // By kind: the hub keeps person-derived ids (Mailchimp's) only keyed, so a stub cannot match by id.
      const key = `${system}|${subject.email}|${record.kind}`;
      if (deleted.has(key)) return 'already_gone' as const;
      deleted.add(key);
      return 'deleted' as const;
    };
  const connectors: ConnectorSet = {
    dynamics: {
      find: async (subject) => {
        fail('dynamics');
        const records = held('dynamics', subject, { kind: 'contact', id: 'c-1' });
        return { records, gaClientIds: records.length > 0 ? ['555.666'] : [], gaUserIds: [] };
      },
      erase: async (): Promise<EraseResult> => ({ outcome: 'not_found', records: [] }),
      deleteRecord: deleteRecord('dynamics'),
      readConsent: async () => ({ purposes: {}, records: [] }),
      applyConsent: async () => ({ outcome: 'not_found', records: [] }),
    },
    mailchimp: {
      find: async (subject) => {
        fail('mailchimp');
        return {
          ...none,
          records: held('mailchimp', subject, { kind: 'member', id: 'hash-1', container: 'list-a' }),
        };
      },
      erase: async (): Promise<EraseResult> => ({ outcome: 'not_found', records: [] }),
      deleteRecord: deleteRecord('mailchimp'),
      readConsent: async () => ({ purposes: {}, records: [] }),
      applyConsent: async () => ({ outcome: 'not_found', records: [] }),
    },
    google: {
      find: async () => none,
      erase: async (subject): Promise<EraseResult> => {
        fail('google');
        googleSubjects.push(subject);
        const ids = [...subject.gaClientIds, ...subject.gaUserIds];
        return ids.length === 0
          ? { outcome: 'not_found', records: [] }
          : {
              outcome: 'submitted',
              records: ids.map((id) => ({
                kind: 'userDeletionRequest',
                id,
                container: 'properties/1',
                result: 'submitted' as const,
                vendorTime: '2026-11-26T10:00:00Z',
              })),
            };
      },
      readConsent: async () => ({ purposes: {}, records: [] }),
      applyConsent: async () => ({ outcome: 'not_applicable', records: [] }),
    },
  };
  return { connectors, behaviour, googleSubjects };
}

async function waitForStatus(
  context: HubClientContext,
  requestId: string,
  predicate: (status: ErasureStatusView) => boolean,
): Promise<ErasureStatusView> {
  for (let i = 0; i < 120; i++) {
    const found = await lookupErasure(context, requestId);
    if (found.state === 'open' && predicate(found.status)) return found.status;
    await delay(250);
  }
  throw new Error('status never matched');
}

let counter = 0;
const uniqueEmail = (name: string) => `${name}.${Date.now()}.${counter++}@example.com`;

describe('erasure workflow, with stub connectors on the real dev server', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let worker: Awaited<ReturnType<typeof temporal.startWorker>>;
  let context: HubClientContext;
  const stubs = stubConnectors();

  beforeAll(async () => {
    temporal = await connectTestTemporal('erasure');
    worker = await temporal.startWorker({ connectors: stubs.connectors });
    context = {
      client: temporal.client,
      taskQueue: temporal.taskQueue,
      subjectKeySecret: temporal.secrets.subjectKeySecret,
      timings: { attentionAfter: '3 seconds', operatorDeadline: '1 minute' },
    };
  });
  afterAll(async () => {
    await worker.stop();
    await temporal.close();
  });

  const keyed = (system: string, id: string) => keyedVendorId(temporal.secrets.subjectKeySecret, system, id);
  const request = (email: string) => ({
    email,
    gaClientIds: ['111.222'],
    requestedBy: 'test',
    requestedAt: new Date().toISOString(),
  });

  it('harvests GA ids from the CRM first, erases everywhere, and returns a receipt with every record id (person-derived ids keyed)', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'ok' });
    const started = await requestErasure(context, request(uniqueEmail('full')));
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.requestId).toBe(started.requestId);
    expect(receipt.subjectKey).toBe(started.subjectKey);
    expect(receipt.systems.dynamics).toMatchObject({
      status: 'erased',
      records: [{ kind: 'contact', id: 'c-1' }],
    });
    expect(receipt.systems.mailchimp).toMatchObject({
      status: 'erased',
      records: [{ id: keyed('mailchimp', 'hash-1'), container: 'list-a' }],
    });
    expect(receipt.systems.google.status).toBe('submitted');
    expect(receipt.systems.google.records.map((r) => r.id).sort()).toEqual(
      [keyed('google', '111.222'), keyed('google', '555.666')].sort(),
    );
    // The harvested ids still reached Google itself: only what the hub keeps is keyed.
    expect(stubs.googleSubjects.at(-1)?.gaClientIds.sort()).toEqual(['111.222', '555.666']);
    expect(JSON.stringify(receipt)).not.toContain('111.222');
    expect(receipt.systems.google.records[0]?.vendorTime).toBe('2026-11-26T10:00:00Z');
    expect(Date.parse(receipt.completedAt)).toBeGreaterThanOrEqual(Date.parse(receipt.requestedAt));
  });

  it('completes with not_found everywhere for a person no tool holds', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'nothing', mailchimp: 'nothing', google: 'ok' });
    const started = await requestErasure(context, { ...request(uniqueEmail('nobody')), gaClientIds: [] });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(Object.values(receipt.systems).map((s) => s.status)).toEqual([
      'not_found',
      'not_found',
      'not_found',
    ]);
  });

  it('waits for an operator after a non-retryable failure while the others finish, then retries to erased', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'bad-credentials', google: 'ok' });
    const started = await requestErasure(context, request(uniqueEmail('attention')));
    const status = await waitForStatus(
      context,
      started.requestId,
      (s) => s.status === 'needs_attention' && s.systems.dynamics.status === 'erased',
    );
    expect(status.systems.mailchimp.failure).toMatchObject({
      type: 'NonRetryableVendorError',
      reason: 'API Key Invalid',
      status: 401,
    });
    expect(status.systems.google.status).toBe('submitted');
    const listed = await listErasures(context, 'needs_attention');
    expect(listed.map((l) => l.requestId)).toContain(started.requestId);

    stubs.behaviour.mailchimp = 'ok';
    await retryErasureSystem(context, started.requestId, { system: 'mailchimp' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.mailchimp).toMatchObject({ status: 'erased', attempts: 2 });
    expect(receipt.systems.mailchimp.failure).toBeUndefined();
  });

  it('records an operator close with its reason and reports the erasure as completed with failures', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'bad-credentials' });
    const started = await requestErasure(context, request(uniqueEmail('close')));
    await waitForStatus(context, started.requestId, (s) => s.systems.google.status === 'needs_attention');
    await closeErasureSystem(context, started.requestId, {
      system: 'google',
      reason: 'property deleted in GA',
    });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed_with_failures');
    expect(receipt.systems.google).toMatchObject({
      status: 'closed_by_operator',
      closedReason: 'property deleted in GA',
    });
  });

  it('refuses an operator close or retry sent straight to Temporal with a name or address as the operator, recording nothing; an operator id still closes', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'bad-credentials' });
    const started = await requestErasure(context, request(uniqueEmail('direct')));
    await waitForStatus(context, started.requestId, (s) => s.systems.google.status === 'needs_attention');
    // Past the hub's client (whose zod schema would refuse these), as `temporal workflow update execute` does.
    const handle = temporal.client.workflow.getHandle(started.workflowId);
    for (const operator of ['Tove Lund <tl.3@example.org>', 'tl.3@example.org', 'Tove Lund', ''])
      await expect(
        handle.executeUpdate(closeSystemUpdate, {
          args: [{ system: 'google', reason: 'handled_manually', operator }],
        }),
      ).rejects.toMatchObject({ cause: { message: expect.stringMatching(/operator or system id/) } });
    await expect(
      handle.executeUpdate(retrySystemUpdate, { args: [{ system: 'google', operator: 'tl.3@example.org' }] }),
    ).rejects.toMatchObject({ cause: { message: expect.stringMatching(/operator or system id/) } });
    const after = await handle.query(erasureStatusQuery);
    expect(after.operatorActions).toEqual([]);
    expect(after.systems.google.status).toBe('needs_attention');
    expect(JSON.stringify(after)).not.toContain('Tove');

    await handle.executeUpdate(closeSystemUpdate, {
      args: [{ system: 'google', reason: 'handled_manually', operator: 'cli:tl3' }],
    });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.operatorActions).toMatchObject([
      { action: 'close', system: 'google', operator: 'cli:tl3', reason: 'handled_manually' },
    ]);
    expect(receipt.systems.google.status).toBe('closed_by_operator');
  });

  it('turns a retryable failure that outlasts the attention deadline into needs attention', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'unavailable', google: 'ok' });
    const started = await requestErasure(context, request(uniqueEmail('deadline')));
    const status = await waitForStatus(
      context,
      started.requestId,
      (s) => s.systems.mailchimp.status === 'needs_attention',
    );
    expect(status.systems.mailchimp.failure?.type).toBe('RetriesOutlastedDeadline');
    expect(status.systems.mailchimp.failure?.reason).toContain('Service Unavailable');
    stubs.behaviour.mailchimp = 'ok';
    await retryErasureSystem(context, started.requestId, { system: 'mailchimp' });
    expect((await awaitReceipt(context, started)).systems.mailchimp.status).toBe('erased');
  });

  it('refuses to retry a system that does not need attention, and starts nothing', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'bad-credentials', google: 'ok' });
    const started = await requestErasure(context, request(uniqueEmail('refuse')));
    await waitForStatus(context, started.requestId, (s) => s.status === 'needs_attention');
    await expect(retryErasureSystem(context, started.requestId, { system: 'dynamics' })).rejects.toThrow();
    await expect(retryErasureSystem(context, started.requestId, { system: 'salesforce' })).rejects.toThrow(
      /must be one of: dynamics, mailchimp, google/,
    );
    await closeErasureSystem(context, started.requestId, { system: 'mailchimp', reason: 'test over' });
    await awaitReceipt(context, started);
  });

  it('joins a running erasure for the same person instead of starting a second one', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'bad-credentials', google: 'ok' });
    const email = uniqueEmail('twice');
    const [first, second] = await Promise.all([
      requestErasure(context, request(email)),
      requestErasure(context, request(` ${email.toUpperCase()} `)),
    ]);
    expect(second.requestId).toBe(first.requestId);
    expect(second.workflowId).toBe(first.workflowId);
    await waitForStatus(context, first.requestId, (s) => s.systems.mailchimp.status === 'needs_attention');
    await closeErasureSystem(context, first.requestId, { system: 'mailchimp', reason: 'test over' });
    await awaitReceipt(context, first);
  });

  it('merges a second request into the running erasure: its GA ids are submitted, its reason and requester are in the receipt', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'bad-credentials', google: 'ok' });
    const email = uniqueEmail('merge');
    const first = await requestErasure(context, request(email));
    expect(first.joined).toBe(false);
    await waitForStatus(context, first.requestId, (s) => s.systems.mailchimp.status === 'needs_attention');
    const second = await requestErasure(context, {
      ...request(email),
      gaClientIds: ['GA1.2.777.888', '111.222'],
      gaUserIds: ['user-42'],
      reason: 'second ticket',
      requestedBy: 'privacy-inbox#2',
    });
    expect(second).toMatchObject({ requestId: first.requestId, joined: true });
    // Google may have been submitted already: the joined ids are submitted after it, before the receipt.
    await delay(500);
    await closeErasureSystem(context, first.requestId, { system: 'mailchimp', reason: 'test over' });
    const receipt = await awaitReceipt(context, first);
    expect(receipt.joinedRequests).toEqual([
      {
        reason: 'other',
        reasonNote: 'second ticket',
        requestedBy: 'privacy-inbox#2',
        requestedAt: expect.any(String),
        gaClientIdsAdded: 1,
        gaUserIdsAdded: 1,
      },
    ]);
    expect(receipt.systems.google.records.map((r) => r.id).sort()).toEqual(
      ['111.222', '555.666', '777.888', 'user-42'].map((id) => keyed('google', id)).sort(),
    );
  });

  it('erases a tombstoned person again as a re-erasure whose receipt names the first', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'ok' });
    const email = uniqueEmail('again');
    const first = await requestErasure(context, request(email));
    const firstReceipt = await awaitReceipt(context, first);
    expect(firstReceipt.reErasureOf).toBeUndefined();
    const second = await requestErasure(context, request(email));
    expect(second.joined).toBe(false);
    expect(second.requestId).not.toBe(first.requestId);
    const secondReceipt = await awaitReceipt(context, second);
    expect(secondReceipt.reErasureOf).toBe(first.requestId);
    expect(await worker.ledger.getTombstone(first.subjectKey)).toMatchObject({
      firstRequestId: first.requestId,
      lastRequestId: second.requestId,
    });
  });

  it('waits for a vendor quota reset with a durable timer, then submits with no operator', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'daily-quota' });
    const started = await requestErasure(context, request(uniqueEmail('timer.person')));
    const waiting = await waitForStatus(
      context,
      started.requestId,
      (s) => s.systems.google.status === 'waiting_for_vendor',
    );
    expect(waiting.status).toBe('running');
    expect(Date.parse(waiting.systems.google.resumesAt ?? '')).toBeGreaterThan(Date.now());
    expect(waiting.systems.google.failure).toMatchObject({ type: 'VendorAskedToWait' });
    stubs.behaviour.google = 'ok';
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.google).toMatchObject({ status: 'submitted', attempts: 2 });
  });

  it('sends a quota still exhausted after the reset to an operator, with the true reason', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'daily-quota' });
    const started = await requestErasure(context, request(uniqueEmail('limit.reset')));
    const status = await waitForStatus(
      context,
      started.requestId,
      (s) => s.systems.google.status === 'needs_attention',
    );
    expect(status.systems.google.failure).toMatchObject({ type: 'VendorAskedToWait', status: 429 });
    expect(status.systems.google.failure?.reason).toMatch(
      /still refused after the wait it asked for: daily quota used up/,
    );
    stubs.behaviour.google = 'ok';
    await retryErasureSystem(context, started.requestId, { system: 'google' });
    expect((await awaitReceipt(context, started)).systems.google.status).toBe('submitted');
  });

  it('keeps a partly failed erasure open for follow-up, with its opt-out evidence, until a later erasure reaches the rest', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'bad-credentials' });
    const email = uniqueEmail('follow.up');
    const first = await requestErasure(context, request(email));
    await worker.ledger.appendConsentEvent({
      id: randomUUID(),
      subjectKey: first.subjectKey,
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: '2026-01-01T00:00:00.000Z',
      recordedAt: '2026-01-01T00:00:01.000Z',
      source: 'form:contact',
      evidence: { channel: 'web' },
    });
    await waitForStatus(context, first.requestId, (s) => s.systems.google.status === 'needs_attention');
    await closeErasureSystem(context, first.requestId, { system: 'google', reason: 'GA access lost' });
    expect((await awaitReceipt(context, first)).outcome).toBe('completed_with_failures');
    expect(await worker.ledger.getTombstone(first.subjectKey)).toMatchObject({
      systems: ['dynamics', 'mailchimp'],
    });
    expect(await worker.ledger.listErasureFollowUps()).toContainEqual({
      subjectKey: first.subjectKey,
      system: 'google',
      requestId: first.requestId,
      status: 'closed_by_operator',
      since: expect.any(String),
    });
    expect(await worker.ledger.listConsentEvents(first.subjectKey)).toHaveLength(1);
    const followUps = await listErasures(context, 'needs_follow_up', worker.ledger);
    expect(followUps.find((l) => l.requestId === first.requestId)).toMatchObject({
      outcome: 'completed_with_failures',
      attention: [{ system: 'google', reason: 'closed by an operator: GA access lost' }],
    });

    stubs.behaviour.google = 'ok';
    const second = await requestErasure(context, request(email));
    expect((await awaitReceipt(context, second)).outcome).toBe('completed');
    const open = await worker.ledger.listErasureFollowUps();
    expect(open.map((f) => f.subjectKey)).not.toContain(first.subjectKey);
    const after = await listErasures(context, 'needs_follow_up', worker.ledger);
    expect(after.map((l) => l.requestId)).not.toContain(first.requestId);
    expect(await worker.ledger.listConsentEvents(first.subjectKey)).toEqual([]);
  });

  it('rejects a bad email before anything is started', async () => {
    await expect(requestErasure(context, request('not-an-address'))).rejects.toThrow(
      /not a valid email address/,
    );
  });

  it('keeps the email out of the raw history of a finished erasure', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'ok' });
    const email = uniqueEmail('history.person');
    const started = await requestErasure(context, request(email));
    await awaitReceipt(context, started);
    const text = await rawHistoryText(temporal.client, started.workflowId);
    expect(text).toContain(started.subjectKey);
    expect(text.toLowerCase()).not.toContain(email.toLowerCase());
    expect(text.toLowerCase()).not.toContain('history.person');
  });
});
