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
import { rawHistoryText } from '../support/history.js';
import { connectTestTemporal } from '../support/temporal.js';

type Behaviour = 'ok' | 'nothing' | 'bad-credentials' | 'unavailable';

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
  const connectors: ConnectorSet = {
    dynamics: {
      find: async () => {
        fail('dynamics');
        return behaviour.dynamics === 'nothing'
          ? none
          : { records: [{ kind: 'contact', id: 'c-1' }], gaClientIds: ['555.666'], gaUserIds: [] };
      },
      erase: async (): Promise<EraseResult> => {
        fail('dynamics');
        return behaviour.dynamics === 'nothing'
          ? { outcome: 'not_found', records: [] }
          : { outcome: 'erased', records: [{ kind: 'contact', id: 'c-1', result: 'deleted' }] };
      },
      readConsent: async () => ({ purposes: {}, records: [] }),
      applyConsent: async () => ({ outcome: 'not_found', records: [] }),
    },
    mailchimp: {
      find: async () => none,
      erase: async (): Promise<EraseResult> => {
        fail('mailchimp');
        return behaviour.mailchimp === 'nothing'
          ? { outcome: 'not_found', records: [] }
          : {
              outcome: 'erased',
              records: [{ kind: 'member', id: 'hash-1', container: 'list-a', result: 'deleted' }],
            };
      },
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
  let worker: { stop(): Promise<void> };
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
